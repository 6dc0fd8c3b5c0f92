/**
 * The default implementations of the kernel table's small ops (registry.ts), on plain tfjs-core ops: the
 * norms, the MLP activations and rotary embeddings, written as Hugging Face transformers computes them.
 */

import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy } from '../loss.js';

/** GPT-2's tanh-approximated GELU (`gelu_new`): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))). */
export function geluNew(x: tf.Tensor3D): tf.Tensor3D {
  const c = Math.sqrt(2 / Math.PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), c))));
}

/** nn.LayerNorm over the last axis (biased variance, as PyTorch): (x - mean) / √(var + eps) · weight + bias. */
export function layerNorm(x: tf.Tensor3D, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true); // (B, T, 1)
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** Llama's RMSNorm: x / √(mean(x²) + eps) · weight. */
export function rmsNorm(x: tf.Tensor3D, weight: tf.Tensor, eps: number): tf.Tensor3D {
  const ms = tf.mean(tf.square(x), -1, true); // (B, T, 1)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
}

/** Llama's gated MLP activation: silu(gate) · up, silu(x) = x · sigmoid(x). */
export function swiglu(gate: tf.Tensor3D, up: tf.Tensor3D): tf.Tensor3D {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

/** The GeGLU gate (T5 v1.1, Gemma): gelu_new(gate)·up. */
export function geglu(gate: tf.Tensor3D, up: tf.Tensor3D): tf.Tensor3D {
  return tf.mul(geluNew(gate), up);
}

/**
 * The LM head and the loss in one op: per-row negative log-likelihood of `targets` (all in [0, V)) under
 * `hidden · weightᵀ`, the weight whole or as its row parts (a weight past a GPU's binding limit, in order).
 * This default builds the [N, V] logits; a fused replacement never does (Liger's chunked algorithm). Rows the
 * loss ignores are masked by the caller.
 */
export function linearCrossEntropy(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D | readonly tf.Tensor2D[],
  targets: tf.Tensor1D,
): tf.Tensor1D {
  const parts = Array.isArray(weight) ? (weight as readonly tf.Tensor2D[]) : [weight as tf.Tensor2D];
  const logits = parts.map((w) => tf.matMul(hidden, w, false, true) as tf.Tensor2D);
  return crossEntropy(logits.length === 1 ? logits[0]! : tf.concat2d(logits, 1), targets);
}

/** x·cos + rotate_half(x)·sin, where rotate_half([x1, x2]) = [-x2, x1] over the two halves of the last axis. */
function rotate(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const [x1, x2] = tf.split(x, 2, 3); // (B, nh, T, hs/2) each
  const rotated = tf.concat([tf.neg(x2!), x1!], 3); // (B, nh, T, hs)
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

/**
 * Rotary position embeddings (the rotate_half convention of modeling_llama.py) applied to queries
 * (B, nh, T, hs) and keys (B, nkv, T, hs), with cos and sin (T, hs) of their positions.
 */
export function rope(q: tf.Tensor4D, k: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): [tf.Tensor4D, tf.Tensor4D] {
  return [rotate(q, cos, sin), rotate(k, cos, sin)];
}

/**
 * The global L2 norm of tensors as one scalar (what gradient clipping measures): √(Σ Σ g²), one square and one
 * sum per tensor, then one AddN (tfjs-webgpu's is chunked to the device's bindings, webgpu-kernels.ts).
 */
export function gradNorm(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const squares = tensors.map((g) => tf.sum(tf.square(g)));
    return (squares.length ? tf.sqrt(tf.addN(squares)) : tf.scalar(0)) as tf.Scalar;
  });
}
