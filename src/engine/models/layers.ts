/**
 * The building blocks the architectures share, on plain tfjs-core ops: the embedding lookup (with row parts),
 * projections in both of PyTorch's weight layouts, activations, seeded dropout, heads, the KV cache, the
 * pre-norm residual block and learned position embeddings. The ops a plugin may replace (norms, gelu_new,
 * swiglu, rope, attention) are not here but in the kernel table (../kernels/registry.ts). Read bottom-up: each
 * architecture file (gpt2.ts, gpt_neo.ts, llama.ts) is made of these.
 */

import * as tf from '@tensorflow/tfjs-core';
import { seededDropout } from '../kernels/dropout.js';
import { kernel } from '../kernels/registry.js';
import { Rng } from '../random.js';
import { assert } from './config.js';
import type { ForwardOptions, KVCache } from './types.js';

// The tests free the attention masks through here, where the models' building blocks are.
export { releaseMaskCache } from '../kernels/attention.js';

// ---------------------------------------------------------------------------------------------- layers

/**
 * Embedding lookup: rows of `weight` [V, C] for token ids [N] -> [N, C]. The gradient is a scatter-add of
 * the incoming rows into a [V, C] tensor (one pass over the tokens); tfjs's own Gather gradient goes through
 * an UnsortedSegmentSum that is O(V * N * C) on the cpu backend, unusable for real vocabularies.
 *
 * The table may come in row parts (a table larger than the GPU's binding limit is stored split, see
 * `instantiate` in weights.ts): each part answers the ids in its row range and receives the gradient of those.
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

/** Token embeddings: ids (B, T) → rows of `table` (V, C) → (B, T, C). */
export function tokenEmbeddings(table: readonly tf.Tensor[], idx: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = idx.shape;
  return tf.reshape(embedding(table, tf.reshape(idx, [-1])), [B, T, -1]);
}

/**
 * A low-rank adapter on a projection (PEFT's LoRA layer; ../lora.ts attaches them): the projection adds
 * dropout(x)·Aᵀ·Bᵀ·scaling, A [r, in] and B [out, r] in both weight layouts, while `state.enabled` is true.
 */
export interface LoraAdapter {
  A: tf.Tensor;
  B: tf.Tensor;
  scaling: number;
  dropout: number;
  /** Shared by every adapter of a model: turning it off gives the base model (DPO's reference, merging). */
  state: { enabled: boolean };
}

/**
 * A projection's weights: nn.Linear's (weight [out, in]) or Conv1D's (weight [in, out]), its bias if any, and
 * a LoRA adapter if one is attached.
 */
export interface Projection {
  weight: tf.Tensor;
  bias?: tf.Tensor;
  lora?: LoraAdapter;
}

/** x2 (N, in) through the projection's adapter, (N, out); undefined without an enabled one. */
function loraDelta(x2: tf.Tensor2D, lora: LoraAdapter | undefined, pass: Pass | undefined): tf.Tensor2D | undefined {
  if (!lora?.state.enabled) return undefined;
  const dropped = pass ? dropout(x2, lora.dropout, pass) : x2;
  const low = tf.matMul(dropped, lora.A as tf.Tensor2D, false, true); // (N, r)
  return tf.mul(tf.matMul(low, lora.B as tf.Tensor2D, false, true), lora.scaling) as tf.Tensor2D; // (N, out)
}

/** y (N, out) plus the bias and the adapter's term, as (B, T, out). */
function projected(
  y: tf.Tensor2D,
  x2: tf.Tensor2D,
  p: Projection,
  pass: Pass | undefined,
  shape: [number, number, number],
) {
  const delta = loraDelta(x2, p.lora, pass);
  const withBias = p.bias ? tf.add(y, p.bias) : y;
  return tf.reshape(delta ? tf.add(withBias, delta) : withBias, shape) as tf.Tensor3D;
}

/** nn.Linear: x Wᵀ + b with W stored [out, in] (plus its LoRA term; `pass` draws the adapter's dropout). */
export function linear(x: tf.Tensor3D, p: Projection, pass?: Pass): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const x2 = tf.reshape(x, [B * T, C]) as tf.Tensor2D;
  const y = tf.matMul(x2, p.weight as tf.Tensor2D, false, true) as tf.Tensor2D; // (B*T, out)
  return projected(y, x2, p, pass, [B, T, p.weight.shape[0]!]);
}

/** GPT-2's Conv1D: x W + b with W stored [in, out] (plus its LoRA term; `pass` draws the adapter's dropout). */
export function conv1d(x: tf.Tensor3D, p: Projection, pass?: Pass): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const x2 = tf.reshape(x, [B * T, C]) as tf.Tensor2D;
  const y = tf.matMul(x2, p.weight as tf.Tensor2D) as tf.Tensor2D; // (B*T, out)
  return projected(y, x2, p, pass, [B, T, p.weight.shape[1]!]);
}

/**
 * Hugging Face's ACT2FN, for the activations these architectures use. The tanh-approximated GELUs are the
 * kernel table's `gelu_new`, looked up at each call.
 */
export function activation(name: string): (x: tf.Tensor3D) => tf.Tensor3D {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
      return (x) => kernel('gelu_new')(x);
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
 * The key of one dropout mask, drawn from the pass's seeded stream (masks are drawn in a fixed order, so a
 * seed reproduces every one); undefined when nothing is dropped (not training, or rate 0).
 */
export function dropoutDraw(rate: number, pass: Pass): { rate: number; seed: number } | undefined {
  if (!pass.training || !pass.rng || rate <= 0) return undefined;
  assert(rate < 1, `dropout rate must be below 1, got ${rate}`);
  return { rate, seed: Math.floor(pass.rng.uniform() * 4294967296) };
}

/**
 * Inverted dropout (kept values scaled by 1/(1-p), as nn.Dropout); identity unless training. The mask is drawn
 * on the device from one key taken from the pass's seeded stream (kernels/dropout.ts).
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, pass: Pass): T {
  const draw = dropoutDraw(rate, pass);
  return draw ? seededDropout(x, draw.rate, draw.seed) : x;
}

// ------------------------------------------------------------------------------------------- attention

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

// ---------------------------------------------------------------------------------------------- blocks

/** A pre-norm transformer block (GPT-2, GPT-Neo, Llama): a = x + attn(norm₁(x)), then a + mlp(norm₂(a)). */
export function preNormBlock(
  x: tf.Tensor3D,
  norm1: (x: tf.Tensor3D) => tf.Tensor3D,
  attn: (x: tf.Tensor3D) => tf.Tensor3D,
  norm2: (x: tf.Tensor3D) => tf.Tensor3D,
  mlp: (x: tf.Tensor3D) => tf.Tensor3D,
): tf.Tensor3D {
  const a: tf.Tensor3D = tf.add(x, attn(norm1(x))); // (B, T, C)
  return tf.add(a, mlp(norm2(a)));
}

/**
 * GPT-2's and GPT-Neo's input: token embeddings plus the learned embeddings of positions past..past+T-1,
 * then dropout. `positionsKey` names the config field that bounds the positions, for the error.
 */
export function learnedEmbeddings(
  wte: readonly tf.Tensor[],
  wpe: tf.Tensor,
  idx: tf.Tensor2D,
  rate: number,
  pass: Pass,
  positionsKey: string,
): tf.Tensor3D {
  const T = idx.shape[1];
  const [past, P] = [pass.past, wpe.shape[0]!];
  assert(past + T <= P, () => `Cannot forward ${T} tokens after ${past} cached ones: ${positionsKey} is only ${P}`);
  const tok = tokenEmbeddings(wte, idx); // (B, T, C)
  const pos = tf.slice(wpe, [past, 0], [T, -1]); // (T, C)
  return dropout(tf.add(tok, pos) as tf.Tensor3D, rate, pass); // (B, T, C)
}
