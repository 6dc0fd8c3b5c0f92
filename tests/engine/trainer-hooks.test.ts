// The training loop's plugin seams, on a tiny GPT-2 and the cpu backend: callbacks that steer (stop, save,
// evaluate, log), the trainable_parameters hook (frozen weights stay bit-identical, the optimizer holds only
// what is trained), the compute_loss hook (the loop trains on the loss it is given), and samples from an
// empty prompt (they start from BOS/EOS instead of failing the run).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLogger, setConsoleLogLevel, type MetricEvent, type TrainerState } from '../../src/core/index.js';
import { initBackend } from '../../src/engine/backend.js';
import { listCheckpoints } from '../../src/engine/checkpoint.js';
import { createModel, exportWeights } from '../../src/engine/models/index.js';
import type { CausalLM, HFConfig } from '../../src/engine/models/types.js';
import {
  causalLMLossFunction,
  earlyStopping,
  train,
  type EngineLossFunction,
  type TrainingRun,
} from '../../src/engine/trainer.js';
import { tempDir } from '../helpers.js';
import { countingRows, gpt2, options } from './training.js';

beforeAll(async () => {
  await initBackend('cpu');
  setConsoleLogLevel('off');
});

const CONFIG: HFConfig = gpt2();

/** A run of `lm` over counting rows that records what it reports; `logged` holds the steps sent to loggers. */
function recorder(lm: CausalLM, extra: Partial<TrainingRun> = {}) {
  const events: MetricEvent[] = [];
  const logged: number[] = [];
  const run: TrainingRun = {
    lm,
    seed: 0,
    train: countingRows(8, 10, 12),
    log: getLogger('trainer-hooks-test'),
    reportStep: async (step, metrics, o) => {
      if (o?.log === false) return;
      logged.push(step.step);
      events.push(...metrics);
    },
    stopRequested: () => false,
    ...extra,
  };
  const values = (name: string) => events.filter((e) => e.name === name);
  return { run, logged, values };
}

describe('trainer callbacks (on_step_end / on_evaluate / on_save controls)', () => {
  it('saves, evaluates, logs and stops when a callback asks, beyond what the schedule says', async () => {
    const lm = createModel(CONFIG, { seed: 1 });
    const folder = tempDir();
    const saved: { step: number; dir: string }[] = [];
    const seen: TrainerState[] = [];
    const rec = recorder(lm, {
      runFolder: folder,
      eval: countingRows(2, 12, 12),
      hooks: {
        onStepEnd: async (state) => {
          seen.push(state);
          return {
            should_save: state.step === 2,
            should_evaluate: state.step === 3,
            should_log: state.step === 3,
            should_stop: state.step === 5,
          };
        },
        onSave: async (checkpoint) => {
          saved.push(checkpoint);
          return {};
        },
      },
    });
    // No schedule of its own: no eval, no checkpoint until the end, metrics every 4 steps.
    const summary = await train(rec.run, options({ max_steps: 10, eval_every: 0, save_every: 0, log_every: 4 }));
    expect(summary).toMatchObject({ steps: 5, earlyStopped: true, stopped: false });
    expect(seen.map((s) => s.step)).toEqual([1, 2, 3, 4, 5]);
    expect(seen[0]).toMatchObject({ totalSteps: 10, evaluations: [] });
    expect(seen[0]!.loss).toBeGreaterThan(0);
    // Saved at step 2 (asked) and at the end (step 5); on_save saw both folders.
    expect(listCheckpoints(folder).map((c) => c.step)).toEqual([2, 5]);
    expect(saved.map((s) => [s.step, path.basename(s.dir)])).toEqual([
      [2, 'step-2'],
      [5, 'step-5'],
    ]);
    // Evaluated only at step 3 (asked), and the state after it carries the evaluation.
    expect(rec.values('eval/loss').map((e) => e.step)).toEqual([3]);
    expect(seen[3]!.evaluations.map((e) => e.step)).toEqual([3]);
    // Metrics reached the loggers at step 3 (asked) and 4 (log_every), not at 1, 2, 5.
    expect(rec.logged).toEqual([3, 4]);
    lm.dispose();
  });

  it('always logs an evaluation, also on a step that log_every skips', async () => {
    const lm = createModel(CONFIG, { seed: 5 });
    const rec = recorder(lm, { eval: countingRows(2, 12, 12) });
    await train(rec.run, options({ max_steps: 8, eval_every: 3, log_every: 4 }));
    expect(rec.logged).toEqual([3, 4, 6, 8]);
    expect(rec.values('eval/loss').map((e) => e.step)).toEqual([3, 6, 8]);
    lm.dispose();
  });

  it('resumes from a checkpoint written before the evaluation history and stops where the run would have', async () => {
    const stopAt = async (resumeFrom?: string, folder = tempDir()) => {
      const lm = createModel(CONFIG, { seed: 6 });
      const rec = recorder(lm, {
        runFolder: folder,
        resumeFrom,
        eval: countingRows(2, 12, 12),
        hooks: { onEvaluate: async (_r, state) => earlyStopping(2)(state) },
      });
      // Learning rate 0: every evaluation equals the first, so patience 2 runs out at step 3.
      const summary = await train(rec.run, options({ max_steps: 10, learning_rate: 0, eval_every: 1, save_every: 1 }));
      lm.dispose();
      return { steps: summary.steps, folder };
    };
    const whole = await stopAt();
    expect(whole.steps).toBe(3);
    // The step-2 checkpoint as the older format wrote it: the best loss and one evaluation without improvement.
    const step2 = path.join(whole.folder, 'checkpoints', 'step-2');
    const file = path.join(step2, 'trainer_state.json');
    const { evaluations, ...rest } = JSON.parse(readFileSync(file, 'utf8'));
    expect(evaluations).toHaveLength(2);
    writeFileSync(file, JSON.stringify({ ...rest, evalsWithoutImprovement: 1 }));
    expect((await stopAt(step2)).steps).toBe(3);
  });

  it('early stopping reads the evaluation history: patience and min_delta', () => {
    const state = (losses: number[]): TrainerState => ({
      step: losses.length,
      totalSteps: 100,
      epoch: 0,
      evaluations: losses.map((loss, i) => ({ step: i + 1, loss })),
    });
    expect(earlyStopping(2)(state([3, 2, 1]))).toEqual({});
    expect(earlyStopping(2)(state([3, 2, 2.5, 2.1]))).toEqual({ should_stop: true });
    // Improvements smaller than min_delta do not count.
    expect(earlyStopping(2, 0.5)(state([3, 2.9, 2.8]))).toEqual({ should_stop: true });
    expect(earlyStopping(2, 0.5)(state([3, 2.4, 2.3]))).toEqual({});
    expect(earlyStopping(0)(state([3, 4, 5, 6]))).toEqual({});
  });
});

describe('trainable_parameters', () => {
  it('trains only the parameters the hook keeps: the others stay bit-identical', async () => {
    const lm = createModel(CONFIG, { seed: 2 });
    const before = await exportWeights(lm);
    let given: string[] = [];
    const rec = recorder(lm, {
      hooks: {
        trainableParameters: async (params) => {
          given = [...params.keys()];
          return new Map([...params].filter(([name]) => name.includes('ln_f')));
        },
      },
    });
    await train(rec.run, options({ max_steps: 3, learning_rate: 1e-2 }));
    const after = await exportWeights(lm);
    expect(given.length).toBe(lm.params.size);
    for (const [name, t] of before) {
      const same = t.data.every((v, i) => v === after.get(name)!.data[i]);
      expect(same, name).toBe(!name.includes('ln_f'));
    }
    lm.dispose();
  });
});

describe('trainable_parameters: parameters outside the model', () => {
  it('refuses a parameter the model does not hold (a checkpoint would lose it), saying where to attach it', async () => {
    const lm = createModel(CONFIG, { seed: 7 });
    const extra = tf.variable(tf.zeros([2]), true);
    const rec = recorder(lm, {
      hooks: { trainableParameters: async (params) => new Map([...params, ['adapter.weight', extra as never]]) },
    });
    await expect(train(rec.run, options({ max_steps: 1 }))).rejects.toThrow(
      "trainable_parameters returned 1 parameter(s) that are not the model's (adapter.weight)",
    );
    extra.dispose();
    lm.dispose();
  });
});

describe('compute_loss', () => {
  it('trains on the loss the hook gives: the reported loss is the wrapped one', async () => {
    const runWith = async (wrap: boolean) => {
      const lm = createModel(CONFIG, { seed: 3 });
      const doubled: EngineLossFunction = (m, batch, o) => {
        const out = causalLMLossFunction(m, batch, o);
        return { loss: tf.mul(out.loss, 2) as tf.Scalar, weight: out.weight };
      };
      const rec = recorder(lm, wrap ? { hooks: { computeLoss: async () => doubled as never } } : {});
      await train(rec.run, options({ max_steps: 1 }));
      lm.dispose();
      return rec.values('loss')[0]!.value;
    };
    const plain = await runWith(false);
    expect(await runWith(true)).toBeCloseTo(2 * plain, 5);
  });
});

describe('samples', () => {
  it('samples from an empty sample_prompt every N steps without failing the run (BOS/EOS start)', async () => {
    const lm = createModel(CONFIG, { seed: 4 });
    const folder = tempDir();
    const tokenizer = {
      vocabSize: 32,
      eosTokenId: 0,
      encode: (text: string) => [...text].map((ch) => ch.charCodeAt(0) % 32),
      decode: (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join(''),
    };
    const rec = recorder(lm, { runFolder: folder, tokenizer });
    const summary = await train(
      rec.run,
      options({ max_steps: 4, sample_every: 2, sample_prompt: '', sample_max_new_tokens: 3 }),
    );
    expect(summary.steps).toBe(4);
    const file = path.join(folder, 'samples.jsonl');
    expect(existsSync(file)).toBe(true);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([2, 4]);
    for (const l of lines) expect(l.prompt).toBe('');
    lm.dispose();
  });
});
