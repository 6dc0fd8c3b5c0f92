/**
 * The building blocks the architectures share, on plain tfjs-core ops (a native backend drops in later):
 * norms, projections in both of PyTorch's weight layouts, activations, seeded dropout, causal attention
 * with grouped key/value heads, the KV cache, and the base class that holds the weights by their Hugging Face
 * names. Read bottom-up: each architecture file (gpt2.ts, gpt_neo.ts, llama.ts) is made of these.
 */

import * as tf from '@tensorflow/tfjs-core';
import { deviceBindingLimit, maxTensorBytes } from '../backend.js';
import { formatBytes as formatSize } from '../webgpu.js';
import { seededDropout } from '../kernels/dropout.js';
import { Rng } from '../random.js';
import type { Architecture, CausalLM, ForwardOptions, HFConfig, KVCache } from './types.js';

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(typeof message === 'string' ? message : message());
}

// ---------------------------------------------------------------------------------------------- config

/** A numeric config.json field, with its Hugging Face default; a wrong type is an error naming the key. */
export function num(config: HFConfig, key: string, fallback: number): number {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  assert(typeof v === 'number' && Number.isFinite(v), `config.json: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The config.json fields that are sizes or counts in the architectures this engine builds (GPT-2, GPT-Neo,
 * Llama). `count` reads them; the transformers plugin's schema checks overrides of them (`model.config:
 * {n_layer: 0}`) when the config is validated, before any weights exist.
 */
export const MODEL_COUNT_FIELDS = [
  'vocab_size',
  'n_positions',
  'n_embd',
  'n_layer',
  'n_head',
  'n_inner',
  'max_position_embeddings',
  'hidden_size',
  'num_layers',
  'num_heads',
  'window_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
] as const;

/** A size or count (layers, heads, widths, vocabulary, positions): a whole number, at least 1. */
export function count(config: HFConfig, key: string, fallback: number): number {
  const v = num(config, key, fallback);
  assert(
    Number.isInteger(v) && v >= 1,
    `config.json: ${key} must be a whole number, at least 1, got ${JSON.stringify(v)}`,
  );
  return v;
}

/** A numeric field that has no default: the config must give it. */
export function required(config: HFConfig, key: string): number {
  assert(config[key] !== undefined && config[key] !== null, `config.json: ${key} is required`);
  return num(config, key, 0);
}

export function str(config: HFConfig, key: string, fallback: string): string {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  assert(typeof v === 'string', `config.json: ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

export function bool(config: HFConfig, key: string, fallback: boolean): boolean {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  assert(typeof v === 'boolean', `config.json: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

// ---------------------------------------------------------------------------------------------- layers

/** nn.LayerNorm over the last axis (biased variance, as PyTorch). */
/**
 * Embedding lookup: rows of `weight` [V, C] for token ids [N] -> [N, C]. The gradient is a scatter-add of
 * the incoming rows into a [V, C] tensor (one pass over the tokens); tfjs's own Gather gradient goes through
 * an UnsortedSegmentSum that is O(V * N * C) on the cpu backend, unusable for real vocabularies.
 *
 * The table may come in row parts (a table larger than the GPU's binding limit is stored split, see
 * `BaseCausalLM.param`): each part answers the ids in its row range and receives the gradient of those.
 */
export function embedding(weight: tf.Tensor | readonly tf.Tensor[], ids: tf.Tensor1D): tf.Tensor2D {
  const parts = Array.isArray(weight) ? weight : [weight as tf.Tensor];
  if (parts.length > 1) return embeddingParts(parts, ids);
  const [V, C] = parts[0]!.shape as [number, number];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [w, i, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([i]);
    return {
      value: tf.gather(w, i), // (N, C)
      gradFunc: (dy, [idx]) => [
        tf.scatterND(tf.reshape(idx!, [-1, 1]), dy as tf.Tensor2D, [V, C]), // (V, C), duplicates summed
        tf.zerosLike(idx!),
      ],
    };
  });
  return f(parts[0]!, ids) as tf.Tensor2D;
}

/** The lookup over row parts [V_k, C] (in order): part k holds rows start_k .. start_k + V_k - 1. */
function embeddingParts(parts: readonly tf.Tensor[], ids: tf.Tensor1D): tf.Tensor2D {
  const n = parts.length;
  const starts: number[] = [];
  let row = 0;
  for (const p of parts) {
    starts.push(row);
    row += p.shape[0]!;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const ws = args.slice(0, n) as tf.Tensor2D[];
    const i = args[n] as tf.Tensor1D;
    const save = args[n + 1] as tf.GradSaveFunc;
    // Per part: the ids relative to its first row (clamped into it) and which ids it holds (1 or 0).
    const local = ws.map(
      (w, k) => tf.clipByValue(tf.sub(i, tf.scalar(starts[k]!, 'int32')), 0, w.shape[0] - 1) as tf.Tensor1D,
    );
    const hold = ws.map((w, k) =>
      tf.cast(tf.logicalAnd(tf.greaterEqual(i, starts[k]!), tf.less(i, starts[k]! + w.shape[0])), 'float32'),
    );
    save([i, ...local, ...hold]);
    const rows = ws.map((w, k) => tf.mul(tf.gather(w, local[k]!), tf.reshape(hold[k]!, [-1, 1]))); // (N, C) each
    return {
      value: tf.addN(rows) as tf.Tensor2D,
      gradFunc: (dy, saved) => {
        const idx = saved[0]!;
        return [
          ...ws.map((w, k) =>
            tf.scatterND(
              tf.reshape(saved[1 + k]!, [-1, 1]),
              tf.mul(dy as tf.Tensor2D, tf.reshape(saved[1 + n + k]!, [-1, 1])),
              w.shape,
            ),
          ),
          tf.zerosLike(idx),
        ];
      },
    };
  });
  return f(...parts, ids) as tf.Tensor2D;
}

export function layerNorm(x: tf.Tensor3D, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true); // (B, T, 1)
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** Llama's RMSNorm: x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(x: tf.Tensor3D, weight: tf.Tensor, eps: number): tf.Tensor3D {
  const ms = tf.mean(tf.square(x), -1, true); // (B, T, 1)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
}

/** nn.Linear: x Wᵀ + b with W stored [out, in]. */
export function linear(x: tf.Tensor3D, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const y = tf.matMul(tf.reshape(x, [B * T, C]), weight as tf.Tensor2D, false, true); // (B*T, out)
  return tf.reshape(bias ? tf.add(y, bias) : y, [B, T, weight.shape[0]!]);
}

/** GPT-2's Conv1D: x W + b with W stored [in, out]. */
export function conv1d(x: tf.Tensor3D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const y = tf.matMul(tf.reshape(x, [B * T, C]), weight as tf.Tensor2D); // (B*T, out)
  return tf.reshape(tf.add(y, bias), [B, T, weight.shape[1]!]);
}

/** Hugging Face's ACT2FN, for the activations these architectures use. */
export function activation(name: string): (x: tf.Tensor3D) => tf.Tensor3D {
  const c = Math.sqrt(2 / Math.PI);
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
      return (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), c))));
    case 'gelu': // exact: 0.5 x (1 + erf(x / √2))
      return (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'quick_gelu':
      return (x) => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    case 'silu':
    case 'swish':
      return (x) => tf.mul(x, tf.sigmoid(x));
    case 'relu':
      return (x) => tf.relu(x);
    default:
      throw new Error(
        `config.json: activation "${name}" is not supported (use gelu_new, gelu_pytorch_tanh, gelu, quick_gelu, silu or relu)`,
      );
  }
}

// --------------------------------------------------------------------------------------------- dropout

/** What one forward pass knows besides its input: training or not, the dropout stream, the cache. */
export interface Pass {
  training: boolean;
  /** Dropout masks are drawn from this stream in a fixed order, so a seed reproduces every mask. */
  rng: Rng | undefined;
  cache: KVCache | undefined;
  /** Tokens already in the cache: the first new token's position. */
  past: number;
}

export function makePass(options: ForwardOptions | undefined): Pass {
  const training = options?.training === true;
  const seed = options?.seed ?? Math.floor(Math.random() * 4294967296);
  return {
    training,
    rng: training ? new Rng(seed) : undefined,
    cache: options?.cache,
    past: options?.cache?.length ?? 0,
  };
}

/**
 * Inverted dropout (kept values scaled by 1/(1-p), as nn.Dropout); identity unless training. The mask is drawn
 * on the device from one key taken from the pass's seeded stream (kernels/dropout.ts).
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, pass: Pass): T {
  if (!pass.training || !pass.rng || rate <= 0) return x;
  assert(rate < 1, `dropout rate must be below 1, got ${rate}`);
  return seededDropout(x, rate, Math.floor(pass.rng.uniform() * 4294967296));
}

// ------------------------------------------------------------------------------------------- attention

const MASKED = -1e9;

/** Full square masks (P, P) per backend and window, kept on the device; every causal mask is a slice of one. */
const squareMasks = new Map<string, tf.Tensor2D>();

function squareMask(size: number, window: number | undefined): tf.Tensor2D {
  const key = `${tf.getBackend()}|${window ?? ''}`;
  const have = squareMasks.get(key);
  if (have && have.shape[0] >= size) return have;
  // Grown at most a few times: to twice the old size, or to what is asked.
  const P = Math.max(size, 2 * (have?.shape[0] ?? 0));
  const m = new Float32Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j < P; j++) if (j > i || (window !== undefined && j <= i - window)) m[i * P + j] = MASKED;
  }
  const t = tf.keep(tf.tensor2d(m, [P, P]));
  // The old one may still be read by a pending backward pass: slices share or copy its data, so dropping
  // our reference is safe once this forward has taken its slice.
  have?.dispose();
  squareMasks.set(key, t);
  return t;
}

/** Frees the cached masks (tests that count tensors; a backend that is about to be removed). */
export function releaseMaskCache(): void {
  for (const t of squareMasks.values()) t.dispose();
  squareMasks.clear();
}

/**
 * Additive causal mask (T, S) for T new queries at positions past..past+T-1 over S = past+T keys: 0 where
 * key j may be seen by query i (j <= i, and with a window w also i - w < j), -1e9 elsewhere. A slice of a
 * square mask built once and kept on the device; undefined when every key may be seen (one new query, no
 * window), which `attention` takes as "no mask".
 */
export function causalMask(T: number, past: number, window?: number): tf.Tensor2D | undefined {
  const S = past + T;
  if (T === 1 && (window === undefined || S <= window)) return undefined;
  return tf.slice(squareMask(S, window), [past, 0], [T, S]);
}

/** (B, T, nh·hs) → (B, nh, T, hs) */
export function splitHeads(x: tf.Tensor3D, nh: number): tf.Tensor4D {
  const [B, T, C] = x.shape;
  return tf.transpose(tf.reshape(x, [B, T, nh, C / nh]), [0, 2, 1, 3]);
}

/** (B, nh, T, hs) → (B, T, nh·hs) */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, nh, T, hs] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, nh * hs]);
}

/**
 * softmax(q kᵀ · scale + mask) v. With fewer key/value heads than query heads (GQA), query head h uses
 * key/value head floor(h / (nh / nkv)), as Hugging Face's repeat_kv — without copying k and v.
 */
export function attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  mask: tf.Tensor2D | undefined,
  scale: number,
  dropoutRate: number,
  pass: Pass,
): tf.Tensor4D {
  const [B, nh, T, hs] = q.shape;
  const [, nkv, S] = k.shape;
  const rep = nh / nkv;
  const qg = tf.reshape(q, [B, nkv, rep * T, hs]); // (B, nkv, rep·T, hs): query heads grouped by kv head
  const scores = tf.reshape(tf.matMul(qg, k, false, true), [B, nh, T, S]); // (B, nh, T, S)
  const scaled = scale === 1 ? scores : tf.mul(scores, scale);
  const att = dropout(tf.softmax(mask ? tf.add(scaled, mask) : scaled), dropoutRate, pass); // (B, nh, T, S)
  const y = tf.matMul(tf.reshape(att, [B, nkv, rep * T, S]), v); // (B, nkv, rep·T, hs)
  return tf.reshape(y, [B, nh, T, hs]);
}

// -------------------------------------------------------------------------------------------- KV cache

export class LayerCache implements KVCache {
  length = 0;
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[] = [];

  constructor(readonly batch: number) {}

  dispose(): void {
    for (const { k, v } of this.layers) tf.dispose([k, v]);
    this.layers = [];
    this.length = 0;
  }
}

/**
 * Appends this step's keys and values (B, nkv, T, hs) to layer `i` of the cache (when there is one) and
 * returns all of them (B, nkv, past+T, hs). The cache's tensors outlive the forward's tidy.
 */
export function extendCache(pass: Pass, i: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  const cache = pass.cache;
  if (!cache) return [k, v];
  const prev = cache.layers[i];
  assert(
    (prev?.k.shape[2] ?? 0) === pass.past,
    `KV cache layer ${i} holds ${prev?.k.shape[2] ?? 0} tokens, expected ${pass.past}`,
  );
  const kAll = prev ? tf.concat([prev.k, k], 2) : k; // (B, nkv, past+T, hs)
  const vAll = prev ? tf.concat([prev.v, v], 2) : v;
  if (prev) tf.dispose([prev.k, prev.v]);
  cache.layers[i] = { k: tf.keep(kAll), v: tf.keep(vAll) };
  return [kAll, vAll];
}

// ---------------------------------------------------------------------------------------------- model

/** How a parameter starts: HF's _init_weights draws normal(0, std) for matrices and fills norms and biases. */
export type Init = { normal: number } | 'zeros' | 'ones';

/** A weight stored as row parts because one tensor of its size would exceed the GPU's binding limit. */
export interface WeightParts {
  /** The full shape, as in the Hugging Face checkpoint. */
  shape: number[];
  /** Names (in `params`) of the parts, in row order: `NAME[start:end]`. */
  names: string[];
}

/** What the three architectures share: weights by Hugging Face name, seeded init, forward in a tidy. */
export abstract class BaseCausalLM implements CausalLM {
  abstract readonly architecture: Architecture;
  readonly params = new Map<string, tf.Variable>();
  readonly parts = new Map<string, WeightParts>();
  /** Tied LM head: logits use the input embedding matrix, and `lm_head.weight` is not a parameter. */
  abstract readonly tied: boolean;
  /** The base-model prefix of the Hugging Face names (`transformer.` or `model.`). */
  abstract readonly prefix: string;
  abstract readonly vocabSize: number;
  abstract readonly maxPositions: number;
  abstract readonly numLayers: number;
  private readonly initRng: Rng;

  constructor(
    readonly config: HFConfig,
    seed: number,
    private readonly initialize = true,
    /** The largest tensor the backend binds in one kernel: larger row-splittable weights are split. */
    private readonly maxBytes = maxTensorBytes(),
  ) {
    this.initRng = new Rng(seed);
  }

  /**
   * Creates parameter `name` (its full Hugging Face name), drawn in creation order from the seed. `rows`
   * marks a weight that may be stored as row parts (embedding tables, the LM head): when the whole would
   * exceed the backend's binding limit it becomes parts `NAME[0:r]`, `NAME[r:2r]`, ... holding the same
   * values. Any other weight over the limit is an error naming it. `edit` adjusts the drawn values.
   */
  protected param(
    name: string,
    shape: number[],
    init: Init,
    options: { rows?: boolean; edit?: (data: Float32Array) => void } = {},
  ): void {
    assert(!this.params.has(name) && !this.parts.has(name), `parameter ${name} defined twice`);
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      init === 'zeros' || !this.initialize
        ? new Float32Array(n)
        : init === 'ones'
          ? new Float32Array(n).fill(1)
          : this.initRng.normalArray(n, 0, init.normal);
    if (this.initialize) options.edit?.(data);
    // Unnamed: tfjs variable names are process-global, and several models may live side by side. The
    // variable shares the initial tensor's data; that tensor itself is let go.
    const variable = (values: Float32Array, s: number[]) => {
      const init = tf.tensor(values, s, 'float32');
      const v = tf.variable(init, true);
      init.dispose();
      return v;
    };
    const bytes = n * 4;
    if (bytes <= this.maxBytes) {
      this.params.set(name, variable(data, shape));
      return;
    }
    const rowSize = n / shape[0]!;
    const limit = `the largest tensor this backend binds in one kernel is ${formatSize(this.maxBytes)}`;
    assert(
      options.rows === true && rowSize * 4 <= this.maxBytes,
      () => `${name} [${shape.join(', ')}] is ${formatSize(bytes)}, but ${limit}: this model cannot train here`,
    );
    const rowsPerPart = Math.floor(this.maxBytes / (rowSize * 4));
    const names: string[] = [];
    for (let start = 0; start < shape[0]!; start += rowsPerPart) {
      const end = Math.min(shape[0]!, start + rowsPerPart);
      const part = `${name}[${start}:${end}]`;
      this.params.set(part, variable(data.slice(start * rowSize, end * rowSize), [end - start, ...shape.slice(1)]));
      names.push(part);
    }
    this.parts.set(name, { shape, names });
  }

  /** Parameter by full Hugging Face name (a weight stored in parts: use `weight`). */
  p(name: string): tf.Variable {
    const v = this.params.get(name);
    assert(v, () =>
      this.parts.has(name)
        ? `${name} is stored in ${this.parts.get(name)!.names.length} row parts: read it with weight()`
        : `${this.architecture} has no parameter ${name}`,
    );
    return v;
  }

  /** A weight as the variables that hold it: itself, or its row parts in order. */
  weight(name: string): tf.Variable[] {
    const parts = this.parts.get(name);
    return parts ? parts.names.map((n) => this.params.get(n)!) : [this.p(name)];
  }

  /** Logits for ids (B, T) — implemented by each architecture, inside forward's tidy. */
  protected abstract logits(idx: tf.Tensor2D, pass: Pass): tf.Tensor3D;

  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D {
    assert(inputIds.rank === 2, `input ids must be [batch, time], got shape [${inputIds.shape.join(', ')}]`);
    assert(inputIds.dtype === 'int32', `input ids must be int32, got ${inputIds.dtype}`);
    const [B, T] = inputIds.shape;
    assert(T > 0, 'cannot forward an empty sequence');
    const cache = options?.cache;
    if (cache instanceof LayerCache) {
      assert(cache.batch === B, `the KV cache was made for batch ${cache.batch}, the input has batch ${B}`);
    }
    return tf.tidy(() => {
      const pass = makePass(options);
      const out = this.logits(inputIds, pass);
      if (cache) cache.length += T;
      return out;
    });
  }

  /** The LM head: (B, T, C) → (B, T, V), with the embedding matrix when tied (in its row parts, if split). */
  protected lmHead(x: tf.Tensor3D, embedding: string): tf.Tensor3D {
    const [B, T, C] = x.shape;
    const bytes = B * T * this.vocabSize * 4;
    const limit = deviceBindingLimit();
    assert(
      bytes <= limit,
      () =>
        `the logits [${B * T}, ${this.vocabSize}] of this batch are ${formatSize(bytes)}, above this GPU's ` +
        `maxStorageBufferBindingSize (${formatSize(limit)}): at most ${Math.floor(limit / (4 * this.vocabSize))} ` +
        'tokens per micro-batch fit (lower batch_size or max_length, or raise gradient_accumulation_steps)',
    );
    const ws = this.weight(this.tied ? embedding : 'lm_head.weight'); // (V, C), or its row parts
    const x2 = tf.reshape(x, [B * T, C]);
    const y =
      ws.length === 1
        ? tf.matMul(x2, ws[0]!, false, true)
        : tf.concat(
            ws.map((w) => tf.matMul(x2, w, false, true)),
            1,
          );
    return tf.reshape(y, [B, T, this.vocabSize]); // (B, T, V)
  }

  createCache(batch: number): KVCache {
    return new LayerCache(batch);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.parts.clear();
  }
}
