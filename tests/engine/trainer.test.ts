// The training loop end to end on tiny GPT-2 models and the pure-JS cpu backend: loss falls, a crashed run
// resumes exactly, stop / divergence / early stopping end the run as documented, gradient accumulation
// equals a bigger batch, memory stays flat, old checkpoints are pruned, and real text trains too.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getLogger,
  setConsoleLogLevel,
  type MetricEvent,
  type StepInfo,
  type TokenizedRow,
} from '../../src/core/index.js';
import { initBackend, readCount } from '../../src/engine/backend.js';
import { listCheckpoints, readCheckpoint, type TrainerCheckpointState } from '../../src/engine/checkpoint.js';
import { collate } from '../../src/engine/data.js';
import { createModel, exportWeights } from '../../src/engine/models/index.js';
import type { CausalLM, HostTensor } from '../../src/engine/models/types.js';
import { AdamW } from '../../src/engine/optim.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { earlyStopping, NonFiniteError, train, trainStep, type TrainingRun } from '../../src/engine/trainer.js';
import { repoRoot, tempDir } from '../helpers.js';
import { maxAbsDiff, TINY } from './models/tiny.js';
import { countingRows, gpt2, options } from './training.js';

beforeAll(async () => {
  await initBackend('cpu');
  // The trainer logs every checkpoint and resume; the tests read the metrics, not the log.
  setConsoleLogLevel('off');
});

afterAll(() => {
  setConsoleLogLevel('info');
});

interface Recorded {
  ctx: TrainingRun;
  steps: StepInfo[];
  events: MetricEvent[];
  /** The values of one metric, in step order. */
  values(name: string): number[];
}

/** A training context that records every reported step and metric. */
function context(
  lm: CausalLM,
  train: readonly TokenizedRow[],
  extra: {
    eval?: readonly TokenizedRow[];
    runFolder?: string;
    onStep?: (step: StepInfo, metrics: MetricEvent[]) => void;
    stopRequested?: () => boolean;
  } = {},
): Recorded {
  const steps: StepInfo[] = [];
  const events: MetricEvent[] = [];
  const ctx: TrainingRun = {
    lm,
    seed: 0,
    train,
    eval: extra.eval,
    runFolder: extra.runFolder,
    log: getLogger('trainer-test'),
    reportStep: (step, metrics) => {
      steps.push(step);
      events.push(...metrics);
      extra.onStep?.(step, metrics);
      return Promise.resolve();
    },
    stopRequested: extra.stopRequested ?? (() => false),
  };
  return { ctx, steps, events, values: (name) => events.filter((e) => e.name === name).map((e) => e.value) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean of the first and of the last tenth (at least one value each). */
function firstAndLastTenth(xs: number[]): { first: number; last: number } {
  const k = Math.max(1, Math.floor(xs.length / 10));
  return { first: mean(xs.slice(0, k)), last: mean(xs.slice(-k)) };
}

function readState(dir: string): TrainerCheckpointState {
  return JSON.parse(readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerCheckpointState;
}

function expectSameWeights(a: Map<string, HostTensor>, b: Map<string, HostTensor>, tolerance = 0): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, t] of a) {
    const diff = maxAbsDiff(t.data, b.get(name)!.data);
    expect(diff, name).toBeLessThanOrEqual(tolerance);
  }
}

describe('train', () => {
  it('lowers the loss on learnable data to under half of where it started', async () => {
    const lm = createModel(gpt2(), { seed: 1 });
    const rec = context(lm, countingRows(32, 12, 16));
    const summary = await train(rec.ctx, options({ max_steps: 30, learning_rate: 1e-2 }));
    const losses = rec.values('loss');
    expect(summary.steps).toBe(30);
    expect(losses).toHaveLength(30);
    expect(losses.every(Number.isFinite)).toBe(true);
    const { first, last } = firstAndLastTenth(losses);
    expect(last).toBeLessThan(0.5 * first);
    expect(summary.finalLoss).toBe(losses.at(-1));
    lm.dispose();
  });

  it('resumes a crashed run from its checkpoint and reproduces the uninterrupted run exactly', async () => {
    // Dropout on, shuffling on, accumulation 2, across epoch boundaries (12 rows / (2 x 2) = 3 steps per epoch).
    const config = gpt2({ resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1 });
    const rows = countingRows(12, 8, 14);
    const evalRows = countingRows(4, 10, 10);
    const N = 8;
    const o = options({
      max_steps: N,
      batch_size: 2,
      gradient_accumulation_steps: 2,
      save_every: 2,
      eval_every: 4,
      shuffle: true,
      seed: 3,
      lr_scheduler: 'cosine',
      warmup_steps: 2,
      learning_rate: 5e-3,
    });

    const lmA = createModel(config, { seed: 7 });
    const a = context(lmA, rows, { eval: evalRows, runFolder: tempDir() });
    expect(await train(a.ctx, o)).toMatchObject({ steps: N, stopped: false });
    const weightsA = await exportWeights(lmA);

    // Run B is killed while reporting step 5: its last checkpoint is step 4.
    const lmB = createModel(config, { seed: 7 });
    const folderB = tempDir();
    const b = context(lmB, rows, {
      eval: evalRows,
      runFolder: folderB,
      onStep: (step) => {
        if (step.step === 5) throw new Error('killed');
      },
    });
    await expect(train(b.ctx, o)).rejects.toThrow('killed');
    expect(listCheckpoints(folderB).map((c) => c.step)).toEqual([2, 4]);
    expect(b.values('loss')).toEqual(a.values('loss').slice(0, 5));

    // A fresh model from another seed: whatever matches A below came from the checkpoint.
    const lmC = createModel(config, { seed: 99 });
    const c = context(lmC, rows, { eval: evalRows, runFolder: tempDir() });
    const ckpt = path.join(folderB, 'checkpoints', 'step-4');
    expect(await train({ ...c.ctx, resumeFrom: ckpt }, o)).toMatchObject({ steps: N, stopped: false });

    expect(c.steps.map((s) => s.step)).toEqual([5, 6, 7, 8]);
    for (const name of ['loss', 'lr', 'grad_norm']) {
      const expected = a.values(name).slice(4);
      const actual = c.values(name);
      expect(actual, name).toHaveLength(expected.length);
      actual.forEach((v, i) => expect(v, `${name} at step ${i + 5}`).toBeCloseTo(expected[i]!, 6));
    }
    // In fact bit for bit: the same ops on the same weights, batches and dropout masks.
    expect(c.values('loss')).toEqual(a.values('loss').slice(4));
    expect(c.values('eval/loss')).toEqual(a.values('eval/loss').slice(1));
    expectSameWeights(await exportWeights(lmC), weightsA);
    for (const lm of [lmA, lmB, lmC]) lm.dispose();
  });

  it('stops after the current step when asked, and checkpoints that step with its data position', async () => {
    const lm = createModel(gpt2(), { seed: 2 });
    const folder = tempDir();
    let seen = 0;
    const rec = context(lm, countingRows(8, 10, 12), {
      runFolder: folder,
      onStep: (s) => (seen = s.step),
      stopRequested: () => seen >= 3,
    });
    // 8 rows in batches of 2: four batches per epoch, so after 3 steps the next batch is batch 3 of epoch 0.
    const summary = await train(rec.ctx, options({ max_steps: 10, batch_size: 2 }));
    expect(summary).toMatchObject({ stopped: true, steps: 3, earlyStopped: false });
    expect(rec.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    const dir = path.join(folder, 'checkpoints', 'step-3');
    for (const file of ['model.safetensors', 'optimizer.safetensors', 'config.json', 'trainer_state.json']) {
      expect(existsSync(path.join(dir, file)), file).toBe(true);
    }
    const state = readState(dir);
    expect(state).toMatchObject({ step: 3, totalSteps: 10, position: { epoch: 0, batch: 3 }, seed: 0 });
    expect(state.loss).toBe(rec.values('loss').at(-1));
    lm.dispose();
  });

  it('fails with NonFiniteError when the loss turns NaN, keeping the checkpoints written before', async () => {
    const lm = createModel(gpt2(), { seed: 4 });
    const folder = tempDir();
    let done = 0;
    const rec = context(lm, countingRows(8, 10, 12), {
      runFolder: folder,
      onStep: (s) => (done = s.step),
      // Between step 2 (checkpointed) and step 3, a weight goes bad, as after an overflowing update.
      stopRequested: () => {
        if (done === 2) {
          const wte = lm.params.get('transformer.wte.weight')!;
          wte.assign(tf.fill(wte.shape, NaN));
        }
        return false;
      },
    });
    const run = train(rec.ctx, options({ max_steps: 6, save_every: 1 }));
    await expect(run).rejects.toBeInstanceOf(NonFiniteError);
    await expect(run).rejects.toThrow(/loss is NaN: training diverged.*the last good checkpoint is kept/);
    expect(rec.steps.map((s) => s.step)).toEqual([1, 2]);
    expect(listCheckpoints(folder).map((c) => c.step)).toEqual([1, 2]);
    expect(readdirSync(path.join(folder, 'checkpoints')).sort()).toEqual(['step-1', 'step-2']);
    // The last checkpoint is a good one: every weight in it is finite.
    const kept = await readCheckpoint(path.join(folder, 'checkpoints', 'step-2'));
    expect(kept.state.step).toBe(2);
    for (const [name, t] of kept.weights) expect(t.data.every(Number.isFinite), name).toBe(true);
    lm.dispose();
  });

  it('saves no checkpoint from weights an update made non-finite, though the loss and gradients were finite', async () => {
    // lr x weight decay beyond float32: step 1's loss and gradients are finite, the weights it leaves are not
    // (the guard before the update cannot see this; the check before a checkpoint does).
    const lm = createModel(gpt2(), { seed: 4 });
    const total = [...lm.params.values()].reduce((n, v) => n + v.size, 0);
    const matrices = [...lm.params.values()].filter((v) => v.rank >= 2).reduce((n, v) => n + v.size, 0);
    const folder = tempDir();
    const rec = context(lm, countingRows(8, 10, 12), { runFolder: folder });
    const run = train(rec.ctx, options({ max_steps: 3, save_every: 1, learning_rate: 0.5, weight_decay: 1e39 }));
    await expect(run).rejects.toBeInstanceOf(NonFiniteError);
    await expect(run).rejects.toThrow(
      new RegExp(`^after step 1, ${matrices} of ${total} weights are not finite numbers: training diverged`),
    );
    expect(rec.values('loss').every(Number.isFinite)).toBe(true);
    expect(rec.steps.map((s) => s.step)).toEqual([1]);
    expect(listCheckpoints(folder)).toEqual([]);
    lm.dispose();
  });

  it('stops early when the eval loss has not improved for `patience` evaluations, reporting eval loss and perplexity', async () => {
    const lm = createModel(gpt2(), { seed: 5 });
    const rec = context(lm, countingRows(8, 10, 12), { eval: countingRows(4, 12, 12) });
    // Learning rate 0: the weights never move, so the eval loss never improves after the first evaluation.
    rec.ctx.hooks = { onEvaluate: async (_report, state) => earlyStopping(2)(state) };
    const summary = await train(rec.ctx, options({ max_steps: 20, learning_rate: 0, weight_decay: 0, eval_every: 1 }));
    expect(summary).toMatchObject({ steps: 3, earlyStopped: true, stopped: false });
    const evalLoss = rec.events.filter((e) => e.name === 'eval/loss');
    const perplexity = rec.events.filter((e) => e.name === 'eval/perplexity');
    expect(evalLoss.map((e) => e.step)).toEqual([1, 2, 3]);
    expect(perplexity.map((e) => e.step)).toEqual([1, 2, 3]);
    expect(evalLoss[0]!.value).toBeGreaterThan(0);
    expect(new Set(evalLoss.map((e) => e.value)).size).toBe(1);
    perplexity.forEach((p, i) => expect(p.value).toBeCloseTo(Math.exp(evalLoss[i]!.value), 10));
    expect(summary.bestEvalLoss).toBe(evalLoss[0]!.value);
    lm.dispose();
  });

  it('keeps only the newest `keepLast` checkpoints', async () => {
    const lm = createModel(gpt2(), { seed: 6 });
    const folder = tempDir();
    const rec = context(lm, countingRows(8, 10, 12), { runFolder: folder });
    await train(rec.ctx, options({ max_steps: 5, batch_size: 2, save_every: 1, keep_last: 2 }));
    expect(listCheckpoints(folder).map((c) => c.step)).toEqual([4, 5]);
    expect(readdirSync(path.join(folder, 'checkpoints')).sort()).toEqual(['step-4', 'step-5']);
    lm.dispose();
  });

  it('holds the number of live tensors flat from step to step (no leak in step, eval or checkpoint)', async () => {
    const lm = createModel(gpt2(), { seed: 8 });
    const counts: number[] = [];
    const rec = context(lm, countingRows(8, 10, 12), {
      eval: countingRows(4, 12, 12),
      runFolder: tempDir(),
      onStep: () => counts.push(tf.memory().numTensors),
    });
    await train(
      rec.ctx,
      options({ max_steps: 6, batch_size: 2, gradient_accumulation_steps: 2, eval_every: 1, save_every: 1 }),
    );
    expect(counts).toHaveLength(6);
    expect(counts[5]).toBe(counts[1]);
    lm.dispose();
  });
});

describe('trainStep', () => {
  it('gives the same update for two accumulated micro-batches of 2 rows as for one batch of the 4 rows', async () => {
    const config = gpt2();
    const rows = countingRows(4, 12, 12).map((r, i) => ({ ...r, input_ids: r.input_ids.map((t) => (t + i) % 32) }));
    for (const r of rows) r.labels = [...r.input_ids];
    const lmAcc = createModel(config, { seed: 11 });
    const lmBig = createModel(config, { seed: 11 });
    const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const optAcc = new AdamW(lmAcc.params, adam);
    const optBig = new AdamW(lmBig.params, adam);

    const acc = await trainStep(
      lmAcc,
      optAcc,
      [collate(rows.slice(0, 2), 32, 0), collate(rows.slice(2), 32, 0)],
      1e-3,
      1,
      0,
    );
    const big = await trainStep(lmBig, optBig, [collate(rows, 32, 0)], 1e-3, 1, 0);

    expect(acc.tokens).toBe(big.tokens);
    expect(acc.loss).toBeCloseTo(big.loss, 5);
    expect(acc.gradNorm).toBeCloseTo(big.gradNorm, 5);
    expectSameWeights(await exportWeights(lmAcc), await exportWeights(lmBig), 1e-5);
    optAcc.dispose();
    optBig.dispose();
    lmAcc.dispose();
    lmBig.dispose();
  });

  it('leaves no tensors behind: the count after step 2 equals the count after step 6', async () => {
    const lm = createModel(gpt2(), { seed: 12 });
    const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const rows = countingRows(4, 10, 12);
    const counts: number[] = [];
    for (let step = 0; step < 6; step++) {
      await trainStep(lm, opt, [collate(rows.slice(0, 2), 32, 0), collate(rows.slice(2), 32, 0)], 1e-3, 1, step);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[5]).toBe(counts[1]);
    opt.dispose();
    lm.dispose();
  });
});

describe('what a step reads and uploads', () => {
  it('reads once per optimizer step (every micro-batch loss and the gradient norm together)', async () => {
    const lm = createModel(gpt2({ resid_pdrop: 0.1, attn_pdrop: 0.1, embd_pdrop: 0.1 }), { seed: 13 });
    const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const rows = countingRows(4, 10, 12);
    for (let step = 0; step < 3; step++) {
      const micro = [collate(rows.slice(0, 2), 32, 0), collate(rows.slice(2), 32, 0), collate(rows, 32, 0)];
      const before = readCount();
      await trainStep(lm, opt, micro, 1e-3, 1, step);
      expect(readCount() - before).toBe(1);
    }
    opt.dispose();
    lm.dispose();
  });

  it('builds nothing per step on the host: no mask, no dropout mask, no RoPE table is uploaded', async () => {
    // Every host array that becomes a tensor passes through the engine's makeTensor; kernels' outputs do not.
    const engine = tf.engine() as unknown as { makeTensor: (...args: unknown[]) => tf.Tensor };
    const original = engine.makeTensor;
    let largest = 0;
    engine.makeTensor = function (this: unknown, ...args: unknown[]) {
      const t = original.apply(this, args);
      largest = Math.max(largest, t.size);
      return t;
    };
    try {
      for (const config of [
        gpt2({ resid_pdrop: 0.1, attn_pdrop: 0.1, embd_pdrop: 0.1 }),
        { ...TINY[1]![1], vocab_size: 32, resid_dropout: 0.1, attention_dropout: 0.1, embed_dropout: 0.1 },
        { ...TINY[2]![1], vocab_size: 32, attention_dropout: 0.1 },
      ]) {
        const lm = createModel(config, { seed: 14 });
        const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
        const rows = countingRows(4, 16, 16);
        const perStep: number[] = [];
        for (let step = 0; step < 3; step++) {
          const micro = [collate(rows, 16, 0)];
          largest = 0;
          await trainStep(lm, opt, micro, 1e-3, 1, step);
          perStep.push(largest);
        }
        // The first step builds the masks and tables once; after it, only scalars (learning rate, scales)
        // come from the host: no causal mask (16 x 16), dropout mask (4 x 16 x 8) or ones for a gradient.
        expect(perStep.slice(1), String(config.model_type)).toEqual([1, 1]);
        opt.dispose();
        lm.dispose();
      }
    } finally {
      engine.makeTensor = original;
    }
  });
});

const shared = path.resolve(repoRoot, '..', 'shared', 'data');

describe('training on real text', () => {
  it.skipIf(!existsSync(shared))(
    'lowers the loss on tiny Shakespeare with the real GPT-2 tokenizer (needs ../shared/data)',
    async () => {
      const tokenizer = await loadTokenizer(path.join(shared, 'gpt2-tokenizer'));
      const text = readFileSync(path.join(shared, 'tinyshakespeare.txt'), 'utf8').slice(0, 20_000);
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      const rows: TokenizedRow[] = [];
      for (let i = 0; i + 32 <= ids.length; i += 32) {
        const chunk = ids.slice(i, i + 32);
        rows.push({ input_ids: chunk, labels: [...chunk] });
      }
      expect(rows.length).toBeGreaterThan(100);
      // The full GPT-2 vocabulary but a tiny body: the LM head over 50257 tokens is most of the work.
      const lm = createModel(gpt2({ vocab_size: 50257, n_embd: 8, n_layer: 1, n_head: 2 }), { seed: 0 });
      const rec = context(lm, rows);
      rec.ctx.tokenizer = tokenizer;
      // ~1 s of CPU per step on the pure-JS backend (logits, softmax and AdamW over 50257 x 8): few steps,
      // one row each, and a learning rate high enough to learn the token frequencies in that time.
      await train(rec.ctx, options({ max_steps: 20, batch_size: 1, learning_rate: 3e-2 }));
      const losses = rec.values('loss');
      expect(losses).toHaveLength(20);
      const { first, last } = firstAndLastTenth(losses);
      expect(first).toBeGreaterThan(9); // about ln(50257) = 10.8 at the start
      expect(last).toBeLessThan(0.8 * first);
      lm.dispose();
    },
  );
});
