/**
 * One optimizer step and one evaluation, the pieces the training loop (trainer.ts) repeats, plus the loss
 * seam: a step's loss is a function (`EngineLossFunction`) the `compute_loss` hook may wrap or replace; the
 * default is the causal LM cross-entropy.
 *
 * Reads: a step records its forward, backward and gradient norm, then reads the micro-batch losses and the
 * norm in ONE asynchronous read (the NaN guard needs them before the update), then records the update and
 * returns without waiting for it: on WebGPU the GPU runs the update while the host records the next step.
 * Evaluation reads once per evaluation.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { LossFunction } from '../core/index.js';
import { readTensor } from './backend.js';
import type { Batch } from './data.js';
import { causalLMLoss } from './loss.js';
import type { CausalLM } from './models/types.js';
import { clipScale, globalNormTensor, type AdamW } from './optim.js';

/**
 * A training step's loss (what `compute_loss` passes along), on the engine's types: the mean loss of the
 * batch and the number of units it averages (the trainer weighs micro-batches by it).
 */
export type EngineLossFunction = (
  lm: CausalLM,
  batch: Batch,
  options: { training: boolean; seed?: number },
) => { loss: tf.Scalar; weight: number };

/** The default loss: next-token cross-entropy over the predicted tokens (Hugging Face's `ForCausalLMLoss`). */
export const causalLMLossFunction: EngineLossFunction = (lm, batch, options) => {
  const logits = lm.forward(batch.inputIds, options);
  return { loss: causalLMLoss(logits, batch.labels).loss, weight: batch.predictedTokens };
};

// The SDK's LossFunction is the same shape with the engine's types left open.
causalLMLossFunction satisfies LossFunction;

/**
 * Marks a loss as the causal LM loss (the mean next-token cross-entropy, however computed) by a registered
 * symbol: a plugin may see it through another copy of the engine.
 */
const CAUSAL_LM_LOSS = Symbol.for('dumbo.causalLMLossFunction');
export function markCausalLMLoss<F extends EngineLossFunction>(loss: F): F {
  return Object.defineProperty(loss, CAUSAL_LM_LOSS, { value: true });
}
markCausalLMLoss(causalLMLossFunction);

/**
 * Whether `loss` is the causal LM loss (from any copy of the engine: the default or liger's fused one), not one
 * a plugin set for another objective (DPO's): what perplexity and liger's fusion apply to.
 */
export function isCausalLMLoss(loss: unknown): boolean {
  return typeof loss === 'function' && (loss as unknown as Record<symbol, unknown>)[CAUSAL_LM_LOSS] === true;
}

/**
 * Time spent in each phase of the last step, for the benchmark and step_time_s. On WebGPU the first three
 * are the host's time recording the kernels and `waitMs` the time spent waiting for the GPU (the step's one
 * read); on the cpu backend the work happens while recording, and the wait is about zero.
 */
export interface StepTimes {
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  waitMs: number;
}

export function emptyStepTimes(): StepTimes {
  return { forwardMs: 0, backwardMs: 0, optimizerMs: 0, waitMs: 0 };
}

/** Thrown when a loss or gradient is not finite: the run fails and the last good checkpoint stays. */
export class NonFiniteError extends Error {}

/** How many weights are NaN or infinite: one reduction over all of them, one read. */
export async function nonFiniteWeights(params: Iterable<tf.Variable>): Promise<number> {
  const list = [...params];
  if (list.length === 0) return 0;
  const bad = tf.tidy(() => tf.addN(list.map((p) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(p)), 'float32')))));
  try {
    return (await readTensor(bad))[0]!;
  } finally {
    bad.dispose();
  }
}

/**
 * Mean loss over the batches, weighted as the loss function says (predicted tokens for the default), without
 * gradients (one read for all of them). `tokens` is the total weight.
 */
export async function evaluate(
  lm: CausalLM,
  batches: Iterable<Batch>,
  lossFn: EngineLossFunction = causalLMLossFunction,
): Promise<{ loss: number; tokens: number }> {
  const sums: tf.Scalar[] = [];
  let tokens = 0;
  for (const b of batches) {
    let weight = 0;
    sums.push(
      tf.tidy(() => {
        const out = lossFn(lm, b, { training: false });
        weight = out.weight;
        return tf.mul(out.loss, weight) as tf.Scalar;
      }),
    );
    tokens += weight;
    b.inputIds.dispose();
    b.labels.dispose();
  }
  if (sums.length === 0) return { loss: NaN, tokens };
  const packed = tf.stack(sums);
  tf.dispose(sums);
  const values = await readTensor(packed);
  packed.dispose();
  let sum = 0;
  for (const v of values) sum += v; // in batch order, in double precision
  return { loss: tokens > 0 ? sum / tokens : NaN, tokens };
}

/**
 * One optimizer step over `microBatches` (gradients summed over the loss's units — predicted tokens by
 * default — then averaged, so the step equals one over the concatenated batch) of the optimizer's parameters. Returns the mean loss and the pre-clip gradient norm, read
 * together in one read before the update (a non-finite one stops the step before it touches the weights).
 */
export async function trainStep(
  lm: CausalLM,
  optimizer: AdamW,
  microBatches: Batch[],
  lr: number,
  maxGradNorm: number,
  dropoutSeed: number,
  times?: StepTimes,
  lossFn: EngineLossFunction = causalLMLossFunction,
): Promise<{ loss: number; gradNorm: number; tokens: number }> {
  // The optimizer holds the parameters being trained (all of them, or what `trainable_parameters` chose).
  const trained = [...optimizer.params].filter(([, v]) => v.trainable);
  const vars = trained.map(([, v]) => v);
  const names = trained.map(([n]) => n);
  let grads: Map<string, tf.Tensor> | undefined;
  const losses: tf.Scalar[] = [];
  let predicted = 0;
  let tokens = 0;
  microBatches.forEach((b, i) => {
    const t0 = performance.now();
    let tForward = t0;
    let weight = 0;
    const { value, grads: g } = tf.variableGrads(() => {
      const out = lossFn(lm, b, { training: true, seed: dropoutSeed * 1009 + i });
      weight = out.weight;
      tForward = performance.now();
      return tf.mul(out.loss, weight) as tf.Scalar;
    }, vars);
    const t1 = performance.now();
    if (times) {
      times.forwardMs += tForward - t0;
      times.backwardMs += t1 - tForward;
    }
    losses.push(value);
    predicted += weight;
    tokens += b.tokens;
    b.inputIds.dispose();
    b.labels.dispose();
    if (!grads) {
      grads = new Map(names.map((n, k) => [n, g[vars[k]!.name]!]));
    } else {
      for (const [k, n] of names.entries()) {
        const sum = tf.add(grads.get(n)!, g[vars[k]!.name]!);
        grads.get(n)!.dispose();
        g[vars[k]!.name]!.dispose();
        grads.set(n, sum);
      }
    }
  });
  const t2 = performance.now();
  // The gradients are sums over the loss's units; the update uses their mean. The mean and the clip are one
  // factor the optimizer applies in its own pass, so nothing else touches every gradient before it: the norm of
  // the mean is the norm of the sums over the count.
  const denom = Math.max(1, predicted);
  const sums = grads!;
  // The step's one read: every micro-batch's loss sum and the gradient norm.
  const norm = tf.tidy(() => tf.div(globalNormTensor(sums.values()), denom));
  const packed = tf.stack([...losses, norm]);
  tf.dispose([...losses, norm]);
  const t3 = performance.now();
  let values: tf.TypedArray;
  try {
    values = await readTensor(packed);
  } catch (error) {
    for (const g of sums.values()) g.dispose();
    throw error;
  } finally {
    packed.dispose();
  }
  const t4 = performance.now();
  let lossSum = 0;
  for (let k = 0; k < microBatches.length; k++) lossSum += values[k]!; // in micro-batch order, in double precision
  const gradNorm = values[microBatches.length]!;
  const loss = lossSum / denom;
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
    for (const g of sums.values()) g.dispose();
    throw new NonFiniteError(
      `${!Number.isFinite(loss) ? `the loss is ${loss}` : `the gradient norm is ${gradNorm}`}: training diverged ` +
        '(lower the learning rate, add warmup or gradient clipping); the last good checkpoint is kept',
    );
  }
  optimizer.step(sums, lr, clipScale(gradNorm, maxGradNorm) / denom);
  for (const g of sums.values()) g.dispose();
  if (times) {
    times.optimizerMs += t3 - t2 + (performance.now() - t4);
    times.waitMs += t4 - t3;
  }
  return { loss, gradNorm, tokens };
}
