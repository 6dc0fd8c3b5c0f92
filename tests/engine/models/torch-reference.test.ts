// Checks the three architectures against an independent PyTorch implementation (tests/engine/reference/
// reference.py, float64, no transformers package): random tiny models written from TypeScript, logits and
// loss compared. Skipped, with a note, where PyTorch is not installed.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import { causalLMLoss } from '../../../src/engine/loss.js';
import { createModel, exportWeights } from '../../../src/engine/models/index.js';
import type { HFConfig } from '../../../src/engine/models/types.js';
import { repoRoot, tempDir } from '../../helpers.js';
import { ids, randomize } from './tiny.js';
import { findTorchPython, pythonEnv } from '../../../src/bench/python.js';

const script = path.join(repoRoot, 'tests', 'engine', 'reference', 'reference.py');

const python = findTorchPython();
if (!python)
  console.warn(
    'torch-reference: PyTorch not installed: apt-get install python3-torch (skipping the PyTorch comparison)',
  );

const V = 23;

const CASES: [string, HFConfig][] = [
  ['GPT-2', { architectures: ['GPT2LMHeadModel'], vocab_size: V, n_positions: 12, n_embd: 16, n_layer: 2, n_head: 4 }],
  [
    'GPT-2 (exact gelu, n_inner, untied head)',
    {
      architectures: ['GPT2LMHeadModel'],
      vocab_size: V,
      n_positions: 12,
      n_embd: 16,
      n_layer: 2,
      n_head: 2,
      n_inner: 24,
      activation_function: 'gelu',
      tie_word_embeddings: false,
    },
  ],
  [
    'GPT-Neo (global + local layers, window 3)',
    {
      architectures: ['GPTNeoForCausalLM'],
      vocab_size: V,
      max_position_embeddings: 12,
      hidden_size: 16,
      num_layers: 3,
      num_heads: 4,
      attention_types: [
        [['global', 'local'], 1],
        [['local'], 1],
      ],
      window_size: 3,
      intermediate_size: null,
    },
  ],
  [
    'Llama (GQA, untied head)',
    {
      architectures: ['LlamaForCausalLM'],
      vocab_size: V,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
    },
  ],
  [
    'Llama (one k/v head, head_dim 8, tied head)',
    {
      architectures: ['LlamaForCausalLM'],
      vocab_size: V,
      hidden_size: 16,
      intermediate_size: 20,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 8,
      max_position_embeddings: 64,
      rope_theta: 500000,
      tie_word_embeddings: true,
    },
  ],
];

const INPUT = [
  [3, 14, 15, 9, 2, 6, 5],
  [22, 0, 1, 7, 7, 19, 4],
];
const LABELS = [
  [3, 14, -100, 9, 2, 6, 5],
  [-100, 0, 1, 7, 7, 19, -100],
];

interface Result {
  shape: number[];
  logits: number[];
  loss: number;
}

describe.skipIf(!python)('agreement with an independent PyTorch implementation', () => {
  const ours: { logits: Float32Array; loss: number }[] = [];
  let theirs: Result[] = [];

  beforeAll(async () => {
    await initBackend('cpu');
    const cases = await Promise.all(
      CASES.map(async ([, config], i) => {
        const lm = randomize(createModel(config, { seed: i }), 100 + i, 0.3);
        const logits = lm.forward(ids(INPUT));
        const loss = tf.tidy(() => causalLMLoss(logits, ids(LABELS)).loss.dataSync()[0]!);
        ours.push({ logits: logits.dataSync() as Float32Array, loss });
        logits.dispose();
        const weights = Object.fromEntries(
          [...(await exportWeights(lm))].map(([name, t]) => [name, { shape: t.shape, data: Array.from(t.data) }]),
        );
        lm.dispose();
        return { arch: lm.architecture, config, weights, input_ids: INPUT, labels: LABELS };
      }),
    );
    const file = path.join(tempDir('dumbo-torch-'), 'cases.json');
    writeFileSync(file, JSON.stringify({ cases }));
    const r = spawnSync(python!, [script, file], { env: pythonEnv(), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`reference.py failed (${r.status}): ${r.stderr || r.error}`);
    theirs = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { results: Result[] }).results;
  });

  it.each(CASES.map(([name], i) => [name, i] as const))('%s: logits and loss agree to 1e-4', (_name, i) => {
    const ref = theirs[i]!;
    const got = ours[i]!;
    expect(ref.shape).toEqual([2, 7, V]);
    expect(got.logits.length).toBe(ref.logits.length);
    const scale = Math.max(1, ...ref.logits.map(Math.abs));
    let worst = 0;
    for (let k = 0; k < ref.logits.length; k++) worst = Math.max(worst, Math.abs(got.logits[k]! - ref.logits[k]!));
    expect(scale, 'logits should be far from trivial').toBeGreaterThan(0.5);
    expect(worst / scale, `max |Δlogit| ${worst} over max |logit| ${scale}`).toBeLessThan(1e-4);
    expect(Math.abs(got.loss - ref.loss) / Math.max(1, ref.loss)).toBeLessThan(1e-4);
  });
});
