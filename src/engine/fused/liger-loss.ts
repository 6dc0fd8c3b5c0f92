/**
 * The causal LM loss through the LM head as one op: the model's final hidden states and its LM head weight go
 * to the kernel table's `linear_cross_entropy` (fused by liger: the [tokens, vocab] logits never exist), with
 * the same shift and ignore rule as `causalLMLoss` (logits at t predict the label at t+1; -100 is ignored),
 * so that with the default op it equals `causalLMLossFunction`.
 */

import * as tf from '@tensorflow/tfjs-core';
import { kernel } from '../kernels/registry.js';
import { IGNORE_INDEX } from '../loss.js';
import { markCausalLMLoss, type EngineLossFunction } from '../train-step.js';

export const ligerLossFunction: EngineLossFunction = markCausalLMLoss((lm, batch, options) => {
  const hidden = lm.forwardHidden(batch.inputIds, options); // (B, T, D)
  const [B, T, D] = hidden.shape;
  if (T < 2) return { loss: tf.scalar(0), weight: batch.predictedTokens };
  const N = B * (T - 1);
  const h = tf.reshape<tf.Rank.R2>(tf.slice(hidden, [0, 0, 0], [B, T - 1, D]), [N, D]); // (N, D): predictions
  const y = tf.reshape<tf.Rank.R1>(tf.slice(tf.cast(batch.labels, 'int32'), [0, 1], [B, T - 1]), [N]); // next tokens
  const valid = tf.notEqual(y, IGNORE_INDEX);
  // The head as the model holds it (row parts where it is split): never concatenated past a binding limit.
  const nll = kernel('linear_cross_entropy')(h, lm.lmHeadWeights(), tf.where(valid, y, tf.zerosLike(y))); // (N,)
  const mask = tf.cast(valid, 'float32');
  const loss = tf.div(tf.sum(tf.mul(nll, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  return { loss, weight: batch.predictedTokens };
});
