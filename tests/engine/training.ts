// Training options and data the engine's training tests share (trainer.test.ts, webgpu.test.ts).
import type { TokenizedRow } from '../../src/core/index.js';
import { trainingDefaults, type TrainingConfig } from '../../src/engine/trainer.js';

/** The section of a short run: constant learning rate 1e-2, batch 4, 10 steps, no eval, checkpoint or sample. */
export function options(overrides: Partial<TrainingConfig> = {}): TrainingConfig {
  return trainingDefaults({
    learning_rate: 1e-2,
    lr_scheduler: 'constant',
    batch_size: 4,
    max_grad_norm: 1,
    max_steps: 10,
    max_length: 32,
    seed: 0,
    keep_last: 0,
    sample_at_end: false,
    ...overrides,
  });
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
