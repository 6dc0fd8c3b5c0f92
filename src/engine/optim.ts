/**
 * The optimizer step and what surrounds it: AdamW (decoupled weight decay, bias correction, as
 * torch.optim.AdamW), learning-rate schedules with warmup (as Hugging Face's get_*_schedule_with_warmup),
 * and global-norm gradient clipping. The update itself is the kernel table's `adamw` op (fused/adamw.ts holds
 * its default and its fused version), so a plugin can replace it without touching the trainer.
 */

import * as tf from '@tensorflow/tfjs-core';
import { readTensor } from './backend.js';
import { kernel } from './kernels/registry.js';
import type { HostTensor } from './models/types.js';

export { decays, type AdamWHyper } from './fused/adamw.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  /** Optimizer steps taken so far (bias correction uses it). */
  stepCount = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    /** The parameters it trains, by name. */
    readonly params: Map<string, tf.Variable>,
    readonly options: AdamWOptions,
  ) {
    // Unnamed: tfjs variable names are process-global, and two optimizers may live side by side. Made in a
    // tidy: the variables keep the zeros' data, the zeros tensors themselves go.
    tf.tidy(() => {
      for (const [name, p] of params) {
        this.m.set(name, tf.variable(tf.zerosLike(p), false));
        this.v.set(name, tf.variable(tf.zerosLike(p), false));
      }
    });
  }

  /**
   * One update of every parameter that has a gradient, at learning rate `lr` (the kernel table's `adamw`), each
   * gradient multiplied by `gradScale` first (the trainer's mean and clip, folded into the update's one pass).
   */
  step(grads: Map<string, tf.Tensor>, lr: number, gradScale = 1): void {
    this.stepCount += 1;
    const [params, gs, ms, vs]: [tf.Variable[], tf.Tensor[], tf.Variable[], tf.Variable[]] = [[], [], [], []];
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) continue;
      params.push(p);
      gs.push(g);
      ms.push(this.m.get(name)!);
      vs.push(this.v.get(name)!);
    }
    const { beta1, beta2, eps, weightDecay } = this.options;
    kernel('adamw')(params, gs, ms, vs, { lr, beta1, beta2, eps, weightDecay, step: this.stepCount, gradScale });
  }

  /** First and second moments by `<param>.exp_avg` / `<param>.exp_avg_sq`, for checkpoints (read all at once). */
  async exportState(): Promise<Map<string, HostTensor>> {
    const entries = (
      [
        ['exp_avg', this.m],
        ['exp_avg_sq', this.v],
      ] as const
    ).flatMap(([suffix, store]) => [...store].map(([name, t]) => [`${name}.${suffix}`, t] as const));
    const values = await Promise.all(entries.map(([, t]) => readTensor(t)));
    return new Map(
      entries.map(([key, t], i) => [key, { shape: [...t.shape], data: Float32Array.from(values[i]!) }] as const),
    );
  }

  loadState(state: Map<string, HostTensor>, stepCount: number): void {
    for (const [name, p] of this.params) {
      for (const [suffix, store] of [
        ['exp_avg', this.m],
        ['exp_avg_sq', this.v],
      ] as const) {
        const t = state.get(`${name}.${suffix}`);
        if (!t) throw new Error(`optimizer state has no '${name}.${suffix}'`);
        if (t.shape.join(',') !== p.shape.join(',')) {
          throw new Error(`optimizer state '${name}.${suffix}' has shape [${t.shape}], the parameter has [${p.shape}]`);
        }
        tf.tidy(() => store.get(name)!.assign(tf.tensor(t.data, t.shape)));
      }
    }
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

export type ScheduleKind = 'linear' | 'cosine' | 'constant';

/**
 * The learning rate of optimizer step `step` (0-based) of `total`: linear warmup from 0 over
 * `warmupSteps`, then linear decay to 0, half-cosine decay to 0, or constant.
 */
export function learningRate(
  kind: ScheduleKind,
  baseLr: number,
  step: number,
  warmupSteps: number,
  total: number,
): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (kind === 'constant') return baseLr;
  const progress = (step - warmupSteps) / Math.max(1, total - warmupSteps);
  if (kind === 'linear') return baseLr * Math.max(0, 1 - progress);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}

/**
 * The global L2 norm of all gradients, as a scalar tensor (the trainer reads it together with the loss): the
 * kernel table's `grad_norm`.
 */
export function globalNormTensor(grads: Iterable<tf.Tensor>): tf.Scalar {
  return kernel('grad_norm')([...grads]);
}

/** The global L2 norm of all gradients, read back. */
export async function globalNorm(grads: Iterable<tf.Tensor>): Promise<number> {
  const norm = globalNormTensor(grads);
  try {
    return (await readTensor(norm))[0]!;
  } finally {
    norm.dispose(); // the scalar outlives the tidy: without this, every step leaks one tensor
  }
}

/**
 * What gradients of global norm `norm` are multiplied by so that it is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ computes it: maxNorm / (norm + 1e-6) above the limit, else 1.
 */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}

/** Scales gradients so that their global norm is at most `maxNorm` (as torch.nn.utils.clip_grad_norm_). */
export function clipGradients(grads: Map<string, tf.Tensor>, norm: number, maxNorm: number): Map<string, tf.Tensor> {
  const scale = clipScale(norm, maxNorm);
  if (scale === 1) return grads;
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(name, tf.mul(g, scale));
    g.dispose();
  }
  return out;
}
