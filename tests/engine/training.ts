// Training options and data the engine's training tests share (trainer.test.ts, webgpu.test.ts).
import type { TokenizedRow } from '../../src/core/index.js';
import type { HFConfig } from '../../src/engine/models/types.js';
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

/** A tiny GPT-2 (vocab 32, width 16, 2 layers), without dropout unless the overrides ask for it. */
export function gpt2(overrides: HFConfig = {}): HFConfig {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: 32,
    n_positions: 32,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
    activation_function: 'gelu_new',
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    ...overrides,
  };
}
