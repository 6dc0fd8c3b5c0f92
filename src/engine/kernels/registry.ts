/**
 * The kernel table: the named ops the models call (`kernel('layer_norm')(x, weight, bias, eps)`), each with
 * its default implementation on plain tfjs-core ops, which a plugin may replace (the `kernels` hook, before the
 * model is built: liger's fused ops, a native backend's kernels). One table per process; the run host resets
 * it before each run. An op is looked up at each call, so a replacement registered for some tfjs backends
 * is used only while one of them runs and the default serves the others.
 *
 * Imported by the models (models/*.ts) and, through src/engine/index.ts, by the run host and plugins.
 */

import * as tf from '@tensorflow/tfjs-core';
import { didYouMean, type KernelRegistry } from '../../core/index.js';
import { adamwStep } from '../fused/adamw.js';
import { causalAttention } from './attention.js';
import { geglu, geluNew, gradNorm, layerNorm, linearCrossEntropy, rmsNorm, rope, swiglu } from './ops.js';

/** Each op's default and what it computes; a replacement takes the same arguments and returns the same. */
const DEFAULTS = {
  gelu_new: {
    impl: geluNew,
    description:
      'GPT-2/GPT-Neo MLP activation: tanh-approximated GELU, (x) → 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))',
  },
  layer_norm: {
    impl: layerNorm,
    description:
      'LayerNorm over the last axis, biased variance: (x, weight, bias, eps) → (x - mean)/√(var + eps)·weight + bias',
  },
  rms_norm: {
    impl: rmsNorm,
    description: "Llama's RMSNorm over the last axis: (x, weight, eps) → x/√(mean(x²) + eps)·weight",
  },
  swiglu: {
    impl: swiglu,
    description: "Llama's MLP gate: (gate, up) → silu(gate)·up",
  },
  geglu: {
    impl: geglu,
    description: 'the GeGLU gate: (gate, up) → gelu_new(gate)·up',
  },
  linear_cross_entropy: {
    impl: linearCrossEntropy,
    description:
      'LM head + cross-entropy: (hidden [N, D], weight [V, D], targets [N]) → per-row NLL of targets under ' +
      'hidden·weightᵀ (the default builds the [N, V] logits)',
  },
  rope: {
    impl: rope,
    description:
      'rotary position embedding, rotate_half convention: (q, k, cos, sin) → [q·cos + rotate_half(q)·sin, same for k]',
  },
  attention: {
    impl: causalAttention,
    description:
      'causal scaled-dot-product attention with grouped key/value heads: (q, k, v, {scale, window?, dropout?}) → ' +
      'softmax(q·kᵀ·scale + causal mask)·v, GPT-Neo local layers seeing only the last `window` keys',
  },
  adamw: {
    impl: adamwStep,
    description:
      'one AdamW step of every parameter, as torch.optim.AdamW (bias correction, decoupled weight decay on ' +
      'matrices), each gradient first multiplied by gradScale (1 when absent: the clip and the mean folded in): ' +
      '(params, grads, m, v, {lr, beta1, beta2, eps, weightDecay, step, gradScale?}) → assigns the new params, m, v',
  },
  grad_norm: {
    impl: gradNorm,
    description: 'the global L2 norm of a list of tensors (gradient clipping measures it): (tensors) → √(Σ Σ g²)',
  },
};

/** The ops a plugin may replace. */
export type KernelName = keyof typeof DEFAULTS;

/** The signature of op `N`: its default's. */
export type KernelImpl<N extends KernelName> = (typeof DEFAULTS)[N]['impl'];

export interface KernelOptions {
  /** The tfjs backends (`tf.getBackend()`: cpu, webgpu, tensorflow, wasm, ...) it serves. Absent: all. */
  backends?: string[];
  /** The plugin that registered it, for `describe()` and error messages. */
  plugin?: string;
}

/** What `describe()` reports of one op. */
export interface KernelDescription {
  name: KernelName;
  description: string;
  /** The replacements registered, in order (the last one that covers the running backend is used); empty: the default. */
  replacedBy: { plugin?: string; backends?: string[] }[];
}

interface Replacement extends KernelOptions {
  impl: (...args: never[]) => unknown;
}

const NAMES = Object.keys(DEFAULTS) as KernelName[];

function isKernelName(name: string): name is KernelName {
  return Object.hasOwn(DEFAULTS, name);
}

function checkName(name: string): KernelName {
  if (isKernelName(name)) return name;
  const hint = didYouMean(name, NAMES);
  throw new Error(
    `unknown kernel '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}: the kernel table has ${NAMES.join(', ')}`,
  );
}

export class KernelTable implements KernelRegistry {
  private readonly replacements = new Map<KernelName, Replacement[]>();

  /** The ops a plugin may replace. */
  names(): string[] {
    return [...NAMES];
  }

  /**
   * Replaces op `name` with `impl` (the default's signature) on the listed tfjs backends (absent: all). A later
   * registration covering the same backend wins over an earlier one. An unknown name is an error listing the
   * known ones.
   */
  register<N extends KernelName>(name: N, impl: KernelImpl<N>, options?: KernelOptions): void;
  register(name: string, impl: (...args: never[]) => unknown, options?: KernelOptions): void;
  register(name: string, impl: (...args: never[]) => unknown, options: KernelOptions = {}): void {
    const op = checkName(name);
    const by = options.plugin ? ` (plugin ${options.plugin})` : '';
    if (typeof impl !== 'function') throw new Error(`kernel '${op}'${by}: the implementation must be a function`);
    const { backends, plugin } = options;
    if (backends !== undefined && (!Array.isArray(backends) || backends.length === 0)) {
      throw new Error(`kernel '${op}'${by}: backends must list at least one tfjs backend name, or be left out for all`);
    }
    const list = this.replacements.get(op) ?? [];
    list.push({ impl, backends: backends && [...backends], plugin });
    this.replacements.set(op, list);
  }

  /** The implementation of `name` for the running tfjs backend: the latest replacement that serves it, else the default. */
  resolve<N extends KernelName>(name: N): KernelImpl<N> {
    const op = checkName(name);
    const backend = tf.getBackend();
    const found = this.replacements.get(op)?.findLast((r) => !r.backends || r.backends.includes(backend));
    return (found?.impl ?? DEFAULTS[op].impl) as KernelImpl<N>;
  }

  /** Every op: its name, what it computes, and the plugins that replaced it. */
  describe(): KernelDescription[] {
    return NAMES.map((name) => ({
      name,
      description: DEFAULTS[name].description,
      replacedBy: (this.replacements.get(name) ?? []).map(({ plugin, backends }) => ({
        ...(plugin !== undefined && { plugin }),
        ...(backends !== undefined && { backends: [...backends] }),
      })),
    }));
  }

  /** Back to the defaults (the run host calls it before each run, so one run's plugins never reach the next). */
  reset(): void {
    this.replacements.clear();
  }
}

/** The process-wide table the models read. */
export const kernelTable = new KernelTable();

/** Op `name` as the running backend should compute it (looked up now: call it where the op runs). */
export function kernel<N extends KernelName>(name: N): KernelImpl<N> {
  return kernelTable.resolve(name);
}
