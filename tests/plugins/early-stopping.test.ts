// The early_stopping plugin: a trainer callback (on_evaluate -> should_stop) built on the plugin API, run for
// real through the run lifecycle with the engine's plugins, and its answer to an evaluation history.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  prepareRun,
  runLifecycle,
  setConsoleLogLevel,
  standaloneContext,
  type TrainerState,
} from '../../src/core/index.js';
import { initBackend } from '../../src/engine/index.js';
import { EarlyStopping } from '../../plugins/early_stopping/index.js';
import { engineConfig } from '../fixtures/configs.js';
import { tempDir } from '../helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
  setConsoleLogLevel('off');
});

const history = (losses: number[]): TrainerState => ({
  step: losses.length,
  totalSteps: 10,
  epoch: 0,
  evaluations: losses.map((loss, i) => ({ step: i + 1, loss })),
  bestEvalLoss: Math.min(...losses),
});

describe('early_stopping', () => {
  it('answers on_evaluate with should_stop once patience evaluations have not improved by min_delta', async () => {
    const hooks = new EarlyStopping().hooks();
    const ctx = standaloneContext('early_stopping');
    await hooks.log_init!({ patience: 2, min_delta: 0.1 }, ctx);
    const report = { step: 3, metrics: { 'eval/loss': 1 } };
    expect((await hooks.on_evaluate!(report, history([3, 2]), ctx)).unwrap()).toEqual({});
    expect((await hooks.on_evaluate!(report, history([3, 2, 1.95, 1.92]), ctx)).unwrap()).toEqual({
      should_stop: true,
    });
  });

  it('stops a real run at the evaluation where patience runs out', async () => {
    const dir = tempDir();
    // Evaluations at steps 4, 8, 12, 16; no improvement can beat a min_delta of 100, so with patience 2
    // the run stops right after the evaluation at step 12.
    const yaml = engineConfig({
      steps: 20,
      saveEvery: 0,
      plugins: ['early_stopping'],
      extra: 'early_stopping:\n  patience: 2\n  min_delta: 100\n',
    }).replace(/\s+- console_logger\n/, '\n');
    writeFileSync(path.join(dir, 'run.yaml'), yaml);
    const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    const steps: number[] = [];
    const outcome = await runLifecycle(prepared, { runFolder: dir, onStep: (s) => steps.push(s.step) });
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe('completed');
    expect(outcome.summary).toMatchObject({ steps: 12, earlyStopped: true });
    expect(steps.at(-1)).toBe(12);
  });
});
