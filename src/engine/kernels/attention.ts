/**
 * Causal scaled-dot-product attention on plain tfjs-core ops: the default `attention` of the kernel table
 * (registry.ts), with grouped key/value heads, GPT-Neo's local window, and the causal masks it adds, kept on
 * the device and sliced per call.
 */

import * as tf from '@tensorflow/tfjs-core';
import { seededDropout } from './dropout.js';

/** What the models pass besides q, k and v. */
export interface AttentionOptions {
  /** Multiplies q·kᵀ before the softmax: 1/√head_dim (GPT-2 may also divide by the layer's number; GPT-Neo: 1). */
  scale: number;
  /** GPT-Neo's local layers: query i sees keys j with i - window < j <= i. Absent: every earlier key. */
  window?: number;
  /** Dropout on the attention probabilities, its mask drawn from `seed` (kernels/dropout.ts). Absent: none. */
  dropout?: { rate: number; seed: number };
}

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
 * window, or a window that covers every key).
 */
export function causalMask(T: number, past: number, window?: number): tf.Tensor2D | undefined {
  const S = past + T;
  if (T === 1 && (window === undefined || S <= window)) return undefined;
  return tf.slice(squareMask(S, window), [past, 0], [T, S]);
}

/**
 * softmax(q kᵀ · scale + causal mask) v for q (B, nh, T, hs) over k, v (B, nkv, S, hs), S = past + T (the
 * first S - T keys come from the KV cache). With fewer key/value heads than query heads (GQA), query head h
 * uses key/value head floor(h / (nh / nkv)), as Hugging Face's repeat_kv — without copying k and v.
 */
export function causalAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  options: AttentionOptions,
): tf.Tensor4D {
  const [B, nh, T, hs] = q.shape;
  const [, nkv, S] = k.shape;
  const rep = nh / nkv;
  const mask = causalMask(T, S - T, options.window); // (T, S)
  const qg = tf.reshape(q, [B, nkv, rep * T, hs]); // (B, nkv, rep·T, hs): query heads grouped by kv head
  const scores = tf.reshape(tf.matMul(qg, k, false, true), [B, nh, T, S]); // (B, nh, T, S)
  const scaled = options.scale === 1 ? scores : tf.mul(scores, options.scale);
  const probs = tf.softmax(mask ? tf.add(scaled, mask) : scaled); // (B, nh, T, S)
  const att = options.dropout ? seededDropout(probs, options.dropout.rate, options.dropout.seed) : probs;
  const y = tf.matMul(tf.reshape(att, [B, nkv, rep * T, S]), v); // (B, nkv, rep·T, hs)
  return tf.reshape(y, [B, nh, T, hs]);
}
