// Training options and data the engine's training tests share (trainer.test.ts, webgpu.test.ts).
import type { TokenizedRow } from '../../src/core/index.js';
import type { TrainingOptions } from '../../src/engine/trainer.js';

/** Options of a short run: constant learning rate 1e-2, batch 4, 10 steps, no eval, checkpoint or sample. */
export function options(overrides: Partial<TrainingOptions> = {}): TrainingOptions {
  return {
    learningRate: 1e-2,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    warmupSteps: 0,
    schedule: 'constant',
    batchSize: 4,
    gradAccumulation: 1,
    maxGradNorm: 1,
    maxSteps: 10,
    epochs: 1,
    maxLength: 32,
    seed: 0,
    shuffle: true,
    evalEvery: 0,
    evalBatches: 0,
    saveEvery: 0,
    keepLast: 0,
    earlyStoppingPatience: 0,
    sampleEvery: 0,
    samplePrompt: '',
    sampleMaxNewTokens: 0,
    sampleTemperature: 1,
    ...overrides,
  };
}

/**
 * Rows that count upwards modulo `period` from a per-row start (1, 2, 3, ... 1, 2, ...): the next token is
 * a function of the current one, so even a tiny model learns it. Lengths vary between `minLen` and `maxLen`
 * so that batches are padded.
 */
export function countingRows(n: number, minLen: number, maxLen: number, period = 8): TokenizedRow[] {
  return Array.from({ length: n }, (_, r) => {
    const len = minLen + (r % (maxLen - minLen + 1));
    const ids = Array.from({ length: len }, (_, t) => ((r + t) % period) + 1);
    return { input_ids: ids, labels: [...ids] };
  });
}
