/**
 * The training loop: AdamW steps over shuffled batches with gradient accumulation, global-norm clipping,
 * warmup + schedule, evaluation, checkpoints (save every N, keep the last K), resume, stop on request,
 * samples, and the metrics of every step. What plugins may change comes in through `TrainingRun.hooks`, the
 * trainer plugin's context: the parameters to train and the loss (once, before the first step), and the
 * callbacks after each step, evaluation and save, whose controls may stop, save, evaluate or log (early
 * stopping is such a callback: `earlyStopping` below). It knows nothing of plugins otherwise.
 *
 * Determinism: batches come from a seeded stream whose position is checkpointed, and dropout masks are
 * seeded by (seed, step, micro-batch), so a resumed run reproduces an uninterrupted run's losses. The
 * evaluation history is checkpointed too, so callbacks see the same state after a resume.
 */

import { appendFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  mergeControls,
  MetricEvent,
  type EvalReport,
  type Logger,
  type Model,
  type StepInfo,
  type TokenizedRow,
  type Tokenizer,
  type TrainerContext,
  type TrainerControl,
  type TrainerState,
  type TrainingSummary,
} from '../core/index.js';
import {
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  type TrainerCheckpointState,
} from './checkpoint.js';
import { currentBackend } from './backend.js';
import { BatchStream, evalBatches, stepsPerEpoch } from './data.js';
import { sampleText } from './generate.js';
import type { CausalLM } from './models/types.js';
import { AdamW, learningRate } from './optim.js';
import {
  causalLMLossFunction,
  emptyStepTimes,
  evaluate,
  isCausalLMLoss,
  NonFiniteError,
  nonFiniteWeights,
  trainStep,
} from './train-step.js';
import type { TrainingConfig } from './training-config.js';

export * from './train-step.js';
export * from './training-config.js';

/** The training-time hooks, as the trainer plugin's context gives them (all optional: tests, scripts). */
export type TrainingHooks = Partial<
  Pick<TrainerContext, 'trainableParameters' | 'computeLoss' | 'onStepEnd' | 'onEvaluate' | 'onSave'>
>;

/** What one call of `train` works on (the trainer plugin's `TrainerContext`, in the engine's types). */
export interface TrainingRun {
  lm: CausalLM;
  /** The SDK model `lm` belongs to (what `trainable_parameters` receives); default: a view of `lm`. */
  model?: Model;
  tokenizer?: Tokenizer;
  train: readonly TokenizedRow[];
  eval?: readonly TokenizedRow[];
  runFolder?: string;
  log: Logger;
  /** The run's seed; `training.seed` overrides it. */
  seed: number;
  /** A checkpoint folder to continue from. */
  resumeFrom?: string;
  reportStep(step: StepInfo, metrics: MetricEvent[], options?: { log?: boolean }): Promise<void>;
  stopRequested(): boolean;
  hooks?: TrainingHooks;
}

/**
 * Early stopping as a callback (`on_evaluate`): stop once `patience` evaluations in a row have not improved
 * on the best eval loss by more than `minDelta`. Reads only the state's evaluation history, so it needs no
 * state of its own and survives a resume.
 */
export function earlyStopping(patience: number, minDelta = 0): (state: TrainerState) => TrainerControl {
  return (state) => {
    if (!(patience > 0)) return {};
    let best = Infinity;
    let since = 0;
    for (const e of state.evaluations) {
      if (e.loss < best - minDelta || best === Infinity) {
        best = e.loss;
        since = 0;
      } else since += 1;
    }
    return since >= patience ? { should_stop: true } : {};
  };
}

/**
 * A checkpoint's evaluation history. One written before the history existed kept only the best eval loss and
 * the evaluations since it without improvement: the same count of non-improving entries gives callbacks (early
 * stopping) the same decision after the resume.
 */
function evaluationsOf(state: TrainerCheckpointState): { step: number; loss: number }[] {
  if (state.evaluations) return state.evaluations;
  const old = state as TrainerCheckpointState & { evalsWithoutImprovement?: number };
  if (old.bestEvalLoss === undefined) return [];
  const best = { step: 0, loss: old.bestEvalLoss };
  return [best, ...Array.from({ length: old.evalsWithoutImprovement ?? 0 }, () => ({ ...best }))];
}

export async function train(run: TrainingRun, c: TrainingConfig): Promise<TrainingSummary> {
  const { lm, log } = run;
  const hooks = run.hooks ?? {};
  const seed = c.seed ?? run.seed;
  const padId = run.tokenizer?.padTokenId ?? run.tokenizer?.eosTokenId ?? 0;
  const maxLength = Math.min(c.max_length ?? 256, lm.maxPositions);
  const accumulation = c.gradient_accumulation_steps;
  const stream = new BatchStream(run.train, c.batch_size, maxLength, padId, seed, c.shuffle);
  const perEpoch = stepsPerEpoch(run.train.length, c.batch_size, accumulation);
  const totalSteps = c.max_steps ?? perEpoch * c.epochs;
  const model: Model = run.model ?? { architecture: lm.architecture, config: lm.config };
  const params = ((await hooks.trainableParameters?.(lm.params, model)) ?? lm.params) as Map<string, tf.Variable>;
  // Checkpoints hold the model's parameters: one trained outside them would come back at its initial value.
  const outside = [...params.keys()].filter((name) => lm.params.get(name) !== params.get(name));
  if (outside.length > 0) {
    throw new Error(
      `trainable_parameters returned ${outside.length} parameter(s) that are not the model's (${outside.slice(0, 3).join(', ')}): ` +
        "a plugin that adds parameters attaches them to the model's params first (in model_patcher), so checkpoints keep them",
    );
  }
  const lossFn = (await hooks.computeLoss?.(causalLMLossFunction)) ?? causalLMLossFunction;
  const optimizer = new AdamW(new Map(params), {
    beta1: c.adam_beta1,
    beta2: c.adam_beta2,
    eps: c.adam_epsilon,
    weightDecay: c.weight_decay,
  });
  let state: TrainerCheckpointState = {
    version: 1,
    step: 0,
    totalSteps,
    position: { epoch: 0, batch: 0 },
    seed,
    evaluations: [],
  };
  const view = (lr?: number): TrainerState => ({
    step: state.step,
    totalSteps,
    epoch: state.position.epoch + state.position.batch / stream.batchesPerEpoch,
    loss: state.loss,
    lr,
    evaluations: state.evaluations ?? [],
    bestEvalLoss: state.bestEvalLoss,
  });
  try {
    if (run.resumeFrom) {
      const ckpt = await readCheckpoint(run.resumeFrom);
      restoreCheckpoint(ckpt, lm, optimizer);
      state = { ...ckpt.state, totalSteps, evaluations: evaluationsOf(ckpt.state) };
      stream.position = { ...ckpt.state.position };
      log.info(`resumed from ${run.resumeFrom} at step ${state.step}`);
    }
    log.info(
      `training ${totalSteps} steps: batch ${c.batch_size} x ${accumulation} accumulation, ` +
        `${run.train.length} rows (${perEpoch} steps per epoch), max length ${maxLength}`,
    );
    const trainedCount = [...params.values()].reduce((n, v) => n + v.size, 0);
    const totalCount = [...lm.params.values()].reduce((n, v) => n + v.size, 0);
    if (trainedCount !== totalCount) log.info(`training ${trainedCount} of ${totalCount} parameters`);
    let lastLoss: number | undefined = state.loss;
    const speedTags = { backend: currentBackend()?.name ?? tf.getBackend() };
    let stopped = false;
    let earlyStopped = false;
    /** Writes a checkpoint of the current step; its folder, or undefined when there is nothing to write. */
    const save = async (): Promise<string | undefined> => {
      if (!run.runFolder) return undefined;
      const existing = listCheckpoints(run.runFolder).at(-1);
      if (existing?.step === state.step) return undefined;
      // The step guard checks the loss and gradients before the update, not the weights the update made: a
      // checkpoint is only the last good one if they are finite.
      const bad = await nonFiniteWeights(lm.params.values());
      if (bad > 0) {
        throw new NonFiniteError(
          `after step ${state.step}, ${bad} of ${totalCount} weights are not finite numbers: training diverged ` +
            `(lower the learning rate, add warmup or gradient clipping); no checkpoint is saved from them` +
            (existing ? `, the last good one (step ${existing.step}) is kept` : ''),
        );
      }
      const dir = await saveCheckpoint(run.runFolder, lm, optimizer, state);
      pruneCheckpoints(run.runFolder, c.keep_last);
      log.info(`saved checkpoint ${path.relative(run.runFolder, dir)}`);
      return dir;
    };

    while (state.step < totalSteps) {
      if (run.stopRequested()) {
        stopped = true;
        break;
      }
      const times = emptyStepTimes();
      const t0 = performance.now();
      const lr = learningRate(c.lr_scheduler, c.learning_rate, state.step, c.warmup_steps, totalSteps);
      const micro = Array.from({ length: accumulation }, () => stream.next());
      const { loss, gradNorm, tokens } = await trainStep(
        lm,
        optimizer,
        micro,
        lr,
        c.max_grad_norm,
        seed * 7919 + state.step,
        times,
        lossFn,
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
      let control = mergeControls(await hooks.onStepEnd?.(view(lr)));
      const hasEval = run.eval !== undefined && run.eval.length > 0;
      const evalDue = c.eval_every > 0 && (step % c.eval_every === 0 || step === totalSteps);
      const evaluates = hasEval && (evalDue || control.should_evaluate === true);
      if (evaluates) {
        const ev = await evaluate(
          lm,
          evalBatches(run.eval!, c.batch_size, maxLength, padId, c.eval_batches > 0 ? c.eval_batches : Infinity),
          lossFn,
        );
        // Perplexity is exp of a per-token cross-entropy: only the causal LM loss is one (DPO's is not).
        const perplexity: Record<string, number> = isCausalLMLoss(lossFn)
          ? { 'eval/perplexity': Math.exp(ev.loss) }
          : {};
        const report: EvalReport = { step, metrics: { 'eval/loss': ev.loss, ...perplexity } };
        for (const [name, value] of Object.entries(report.metrics)) metrics.push(new MetricEvent(name, value, step));
        state = {
          ...state,
          evaluations: [...(state.evaluations ?? []), { step, loss: ev.loss }],
          bestEvalLoss: state.bestEvalLoss === undefined ? ev.loss : Math.min(state.bestEvalLoss, ev.loss),
        };
        control = mergeControls(control, await hooks.onEvaluate?.(report, view(lr)));
      }
      // An evaluation is always logged: log_every thins the per-step metrics, never the eval ones.
      const logDue = evaluates || control.should_log === true || step % c.log_every === 0 || step === totalSteps;
      await run.reportStep(
        { step, totalSteps, epoch: view().epoch, loss, lr, ...times },
        metrics,
        logDue ? undefined : { log: false },
      );
      if (c.sample_every > 0 && run.tokenizer && step % c.sample_every === 0) await writeSample(run, c, seed, step);
      if (run.runFolder && ((c.save_every > 0 && step % c.save_every === 0) || control.should_save)) {
        const dir = await save();
        if (dir) control = mergeControls(control, await hooks.onSave?.({ step, dir }, view(lr)));
      }
      if (control.should_stop) {
        log.info(`stopping after step ${step}: a callback asked to stop`);
        earlyStopped = true;
        break;
      }
    }
    if (stopped) log.info(`stop requested: stopping after step ${state.step}`);
    const dir = await save();
    if (dir) await hooks.onSave?.({ step: state.step, dir }, view());
    return { steps: state.step, finalLoss: lastLoss, stopped, earlyStopped, bestEvalLoss: state.bestEvalLoss };
  } finally {
    optimizer.dispose();
  }
}

/** Generates from the sample prompt and logs it (and appends it to samples.jsonl in the run folder). */
async function writeSample(run: TrainingRun, c: TrainingConfig, seed: number, step: number): Promise<void> {
  const sample = await sampleText(run.lm, run.tokenizer!, c.sample_prompt, {
    maxNewTokens: c.sample_max_new_tokens,
    temperature: c.sample_temperature,
    seed: seed + step,
  });
  run.log.info(`sample at step ${step}: ${JSON.stringify(sample.text)}`);
  if (run.runFolder) {
    appendFileSync(
      path.join(run.runFolder, 'samples.jsonl'),
      JSON.stringify({ step, prompt: c.sample_prompt, text: sample.continuation }) + '\n',
    );
  }
}
