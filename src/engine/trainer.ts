/**
 * The training loop: AdamW steps over shuffled batches with gradient accumulation, global-norm clipping,
 * warmup + schedule, evaluation, checkpoints (save every N, keep the last K), resume, stop on request,
 * early stopping, samples, and the metrics of every step. It reports each step through the trainer
 * context (log_step, log_metrics, collectors) and knows nothing of plugins otherwise.
 *
 * Determinism: batches come from a seeded stream whose position is checkpointed, and dropout masks are
 * seeded by (seed, step, micro-batch), so a resumed run reproduces an uninterrupted run's losses.
 *
 * Reads: a step records its forward, backward and gradient norm, then reads the micro-batch losses and the
 * norm in ONE asynchronous read (the NaN guard needs them before the update), then records the update and
 * returns without waiting for it: on WebGPU the GPU runs the update while the host records the next step.
 * Evaluation reads once per evaluation, generation once per token.
 */

import { appendFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MetricEvent, type Logger, type StepInfo, type TokenizedRow, type TrainingSummary } from '../core/index.js';
import {
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { currentBackend, readTensor } from './backend.js';
import { BatchStream, evalBatches, type Batch } from './data.js';
import { generate } from './generate.js';
import { causalLMLoss } from './loss.js';
import type { CausalLM } from './models/types.js';
import { AdamW, clipGradients, globalNormTensor, learningRate, type ScheduleKind } from './optim.js';
import type { Tokenizer } from '../core/index.js';

export interface TrainingOptions {
  learningRate: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  warmupSteps: number;
  schedule: ScheduleKind;
  batchSize: number;
  gradAccumulation: number;
  maxGradNorm: number;
  /** Optimizer steps; when absent, `epochs` passes over the training set. */
  maxSteps?: number;
  epochs: number;
  maxLength: number;
  seed: number;
  shuffle: boolean;
  evalEvery: number;
  evalBatches: number;
  saveEvery: number;
  keepLast: number;
  earlyStoppingPatience: number;
  sampleEvery: number;
  samplePrompt: string;
  sampleMaxNewTokens: number;
  sampleTemperature: number;
  /** A checkpoint folder to continue from. */
  resumeFrom?: string;
}

export interface TrainingContext {
  lm: CausalLM;
  tokenizer?: Tokenizer;
  train: readonly TokenizedRow[];
  eval?: readonly TokenizedRow[];
  runFolder?: string;
  log: Logger;
  reportStep(step: StepInfo, metrics: MetricEvent[]): Promise<void>;
  stopRequested(): boolean;
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

/** Mean loss over the predicted tokens of the batches, without gradients (one read for all of them). */
export async function evaluate(lm: CausalLM, batches: Iterable<Batch>): Promise<{ loss: number; tokens: number }> {
  const sums: tf.Scalar[] = [];
  let tokens = 0;
  for (const b of batches) {
    sums.push(
      tf.tidy(() => {
        const { loss, count } = causalLMLoss(lm.forward(b.inputIds), b.labels);
        return tf.mul(loss, count) as tf.Scalar;
      }),
    );
    tokens += b.predictedTokens;
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
 * One optimizer step over `microBatches` (gradients summed over predicted tokens, then averaged, so the
 * step equals one over the concatenated batch). Returns the mean loss and the pre-clip gradient norm, read
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
): Promise<{ loss: number; gradNorm: number; tokens: number }> {
  const vars = [...lm.params.values()].filter((v) => v.trainable);
  const names = [...lm.params].filter(([, v]) => v.trainable).map(([n]) => n);
  let grads: Map<string, tf.Tensor> | undefined;
  const losses: tf.Scalar[] = [];
  let predicted = 0;
  let tokens = 0;
  microBatches.forEach((b, i) => {
    const t0 = performance.now();
    let tForward = t0;
    const { value, grads: g } = tf.variableGrads(() => {
      const logits = lm.forward(b.inputIds, { training: true, seed: dropoutSeed * 1009 + i });
      const { loss, count } = causalLMLoss(logits, b.labels);
      tForward = performance.now();
      return tf.mul(loss, count) as tf.Scalar;
    }, vars);
    const t1 = performance.now();
    if (times) {
      times.forwardMs += tForward - t0;
      times.backwardMs += t1 - tForward;
    }
    losses.push(value);
    predicted += b.predictedTokens;
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
  const denom = Math.max(1, predicted);
  const mean = new Map<string, tf.Tensor>();
  for (const [n, g] of grads!) {
    mean.set(n, tf.div(g, denom));
    g.dispose();
  }
  // The step's one read: every micro-batch's loss sum and the gradient norm.
  const norm = globalNormTensor(mean.values());
  const packed = tf.stack([...losses, norm]);
  tf.dispose([...losses, norm]);
  const t3 = performance.now();
  let values: tf.TypedArray;
  try {
    values = await readTensor(packed);
  } catch (error) {
    for (const g of mean.values()) g.dispose();
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
    for (const g of mean.values()) g.dispose();
    throw new NonFiniteError(
      `${!Number.isFinite(loss) ? `the loss is ${loss}` : `the gradient norm is ${gradNorm}`}: training diverged ` +
        '(lower the learning rate, add warmup or gradient clipping); the last good checkpoint is kept',
    );
  }
  const clipped = clipGradients(mean, gradNorm, maxGradNorm);
  optimizer.step(clipped, lr);
  for (const g of clipped.values()) g.dispose();
  if (times) {
    times.optimizerMs += t3 - t2 + (performance.now() - t4);
    times.waitMs += t4 - t3;
  }
  return { loss, gradNorm, tokens };
}

export async function train(ctx: TrainingContext, o: TrainingOptions): Promise<TrainingSummary> {
  const { lm, log } = ctx;
  const padId = ctx.tokenizer?.padTokenId ?? ctx.tokenizer?.eosTokenId ?? 0;
  const maxLength = Math.min(o.maxLength, lm.maxPositions);
  const stream = new BatchStream(ctx.train, o.batchSize, maxLength, padId, o.seed, o.shuffle);
  const stepsPerEpoch = Math.max(1, Math.floor(stream.batchesPerEpoch / o.gradAccumulation));
  const totalSteps = o.maxSteps ?? stepsPerEpoch * o.epochs;
  const optimizer = new AdamW(lm.params, { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
  let state: TrainerState = {
    version: 1,
    step: 0,
    totalSteps,
    position: { epoch: 0, batch: 0 },
    seed: o.seed,
    evalsWithoutImprovement: 0,
  };
  try {
    if (o.resumeFrom) {
      const ckpt = await readCheckpoint(o.resumeFrom);
      restoreCheckpoint(ckpt, lm, optimizer);
      state = { ...ckpt.state, totalSteps };
      stream.position = { ...ckpt.state.position };
      log.info(`resumed from ${o.resumeFrom} at step ${state.step}`);
    }
    log.info(
      `training ${totalSteps} steps: batch ${o.batchSize} x ${o.gradAccumulation} accumulation, ` +
        `${ctx.train.length} rows (${stepsPerEpoch} steps per epoch), max length ${maxLength}`,
    );
    let lastLoss: number | undefined = state.loss;
    const speedTags = { backend: currentBackend()?.name ?? tf.getBackend() };
    let stopped = false;
    let earlyStopped = false;
    const save = async () => {
      if (!ctx.runFolder) return;
      const existing = listCheckpoints(ctx.runFolder).at(-1);
      if (existing?.step === state.step) return;
      // The step guard checks the loss and gradients before the update, not the weights the update made: a
      // checkpoint is only the last good one if they are finite.
      const bad = await nonFiniteWeights(lm.params.values());
      if (bad > 0) {
        const total = [...lm.params.values()].reduce((n, v) => n + v.size, 0);
        throw new NonFiniteError(
          `after step ${state.step}, ${bad} of ${total} weights are not finite numbers: training diverged ` +
            `(lower the learning rate, add warmup or gradient clipping); no checkpoint is saved from them` +
            (existing ? `, the last good one (step ${existing.step}) is kept` : ''),
        );
      }
      const dir = await saveCheckpoint(ctx.runFolder, lm, optimizer, state);
      pruneCheckpoints(ctx.runFolder, o.keepLast);
      log.info(`saved checkpoint ${path.relative(ctx.runFolder, dir)}`);
    };

    while (state.step < totalSteps) {
      if (ctx.stopRequested()) {
        stopped = true;
        break;
      }
      const times = emptyStepTimes();
      const t0 = performance.now();
      const lr = learningRate(o.schedule, o.learningRate, state.step, o.warmupSteps, totalSteps);
      const micro = Array.from({ length: o.gradAccumulation }, () => stream.next());
      const { loss, gradNorm, tokens } = await trainStep(
        lm,
        optimizer,
        micro,
        lr,
        o.maxGradNorm,
        o.seed * 7919 + state.step,
        times,
      );
      const stepTime = (performance.now() - t0) / 1000;
      state = { ...state, step: state.step + 1, position: { ...stream.position }, loss };
      lastLoss = loss;
      const step = state.step;
      const metrics = [
        new MetricEvent('loss', loss, step),
        new MetricEvent('lr', lr, step),
        new MetricEvent('grad_norm', gradNorm, step),
        // Speed depends on the backend: these two say which one ran.
        new MetricEvent('tokens_per_s', tokens / stepTime, step, speedTags),
        new MetricEvent('step_time_s', stepTime, step, speedTags),
        new MetricEvent('tensor_bytes', tf.memory().numBytes, step),
      ];
      if (ctx.eval && ctx.eval.length > 0 && o.evalEvery > 0 && (step % o.evalEvery === 0 || step === totalSteps)) {
        const ev = await evaluate(
          lm,
          evalBatches(ctx.eval, o.batchSize, maxLength, padId, o.evalBatches > 0 ? o.evalBatches : Infinity),
        );
        metrics.push(
          new MetricEvent('eval/loss', ev.loss, step),
          new MetricEvent('eval/perplexity', Math.exp(ev.loss), step),
        );
        if (state.bestEvalLoss === undefined || ev.loss < state.bestEvalLoss) {
          state = { ...state, bestEvalLoss: ev.loss, evalsWithoutImprovement: 0 };
        } else {
          state = { ...state, evalsWithoutImprovement: state.evalsWithoutImprovement + 1 };
          if (o.earlyStoppingPatience > 0 && state.evalsWithoutImprovement >= o.earlyStoppingPatience)
            earlyStopped = true;
        }
      }
      await ctx.reportStep(
        {
          step,
          totalSteps,
          epoch: state.position.epoch + state.position.batch / stream.batchesPerEpoch,
          loss,
          lr,
          ...times,
        },
        metrics,
      );
      if (o.sampleEvery > 0 && ctx.tokenizer && step % o.sampleEvery === 0) await writeSample(ctx, o, step);
      if (ctx.runFolder && o.saveEvery > 0 && step % o.saveEvery === 0) await save();
      if (earlyStopped) {
        log.info(`early stopping: eval loss has not improved for ${o.earlyStoppingPatience} evaluations`);
        break;
      }
    }
    if (stopped) log.info(`stop requested: stopping after step ${state.step}`);
    await save();
    return { steps: state.step, finalLoss: lastLoss, stopped, earlyStopped, bestEvalLoss: state.bestEvalLoss };
  } finally {
    optimizer.dispose();
  }
}

/** Generates from the sample prompt and logs it (and appends it to samples.jsonl in the run folder). */
async function writeSample(ctx: TrainingContext, o: TrainingOptions, step: number): Promise<void> {
  const tok = ctx.tokenizer!;
  const prompt = tok.encode(o.samplePrompt, { addSpecialTokens: false });
  const ids = await generate(ctx.lm, prompt, {
    maxNewTokens: o.sampleMaxNewTokens,
    temperature: o.sampleTemperature,
    eosTokenId: tok.eosTokenId,
    seed: o.seed + step,
  });
  const text = tok.decode(ids, { skipSpecialTokens: true });
  ctx.log.info(`sample at step ${step}: ${JSON.stringify(o.samplePrompt + text)}`);
  if (ctx.runFolder) {
    appendFileSync(
      path.join(ctx.runFolder, 'samples.jsonl'),
      JSON.stringify({ step, prompt: o.samplePrompt, text }) + '\n',
    );
  }
}
