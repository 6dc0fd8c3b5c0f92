/**
 * The causal language-modelling loss, as Hugging Face's `ForCausalLMLoss`: logits at position t predict the
 * label at t+1, labels equal to -100 are ignored, and the loss is the mean cross-entropy in nats over the
 * predicted tokens. The cross-entropy itself is ONE function (`crossEntropy`) so that a native fused kernel
 * can replace it; it never builds a one-hot over the vocabulary (log-sum-exp minus a gather).
 */

import * as tf from '@tensorflow/tfjs-core';

/** Label value that is not predicted (padding, prompt tokens), as PyTorch's ignore_index. */
export const IGNORE_INDEX = -100;

/**
 * Per-row negative log-likelihood: logsumexp(logits[n]) - logits[n, targets[n]], numerically stable.
 * logits [N, V] float32, targets [N] int32 in [0, V). Returns [N]. Forward and backward side by side:
 * d nll[n] / d logits[n, v] = softmax(logits[n])[v] - [v = targets[n]]: the softmax, with the N target
 * entries rewritten (tensorScatterUpdate), never a one-hot.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const [N] = logits.shape;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, t, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const lse = tf.logSumExp(x, 1); // (N,)
    const at = tf.stack([tf.range(0, N, 1, 'int32'), t], 1); // (N, 2): (row, target) of each picked logit
    const picked = tf.gatherND(x, at) as tf.Tensor1D; // (N,)
    save([x, lse, at, t]);
    return {
      value: tf.sub(lse, picked),
      gradFunc: (dy, [xs, lses, idx, targets]) => {
        const g = tf.mul(tf.exp(tf.sub(xs!, tf.reshape(lses!, [N, 1]))), tf.reshape(dy as tf.Tensor, [N, 1])); // (N, V)
        // minus dy at each (row, target): N entries rewritten in place of a one-hot
        const hit = tf.sub(tf.gatherND(g, idx!), dy as tf.Tensor1D); // (N,)
        return [tf.tensorScatterUpdate(g, idx!, hit), tf.zerosLike(targets!)]; // (no host array: see kernels/gradients.ts)
      },
    };
  });
  return f(logits, targets) as tf.Tensor1D;
}

/**
 * Mean next-token cross-entropy of logits [B, T, V] against labels [B, T] (int32; -100 = ignore).
 * `count` is the number of predicted (non-ignored) tokens. With nothing to predict the loss is 0, not NaN
 * (Hugging Face would give NaN), so `loss · count` stays a usable sum.
 */
export function causalLMLoss(logits: tf.Tensor3D, labels: tf.Tensor2D): { loss: tf.Scalar; count: tf.Scalar } {
  const [B, T, V] = logits.shape;
  if (labels.rank !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) {
    throw new Error(`labels must be [${B}, ${T}] like the logits' [B, T], got [${labels.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    if (T < 2) return { loss: tf.scalar(0), count: tf.scalar(0) };
    const N = B * (T - 1);
    const x = tf.reshape<tf.Rank.R2>(tf.slice(logits, [0, 0, 0], [B, T - 1, V]), [N, V]); // (N, V): predictions
    const y = tf.reshape<tf.Rank.R1>(tf.slice(tf.cast(labels, 'int32'), [0, 1], [B, T - 1]), [N]); // (N,): next tokens
    const valid = tf.notEqual(y, IGNORE_INDEX); // (N,)
    const nll = crossEntropy(x, tf.where(valid, y, tf.zerosLike(y))); // (N,)
    const mask = tf.cast(valid, 'float32');
    const count = tf.sum(mask);
    const loss = tf.div(tf.sum(tf.mul(nll, mask)), tf.maximum(count, 1));
    return { loss: loss as tf.Scalar, count: count as tf.Scalar };
  });
}
