// Dumbo's LoRA adapter files against PEFT, re-implemented independently in PyTorch
// (tests/engine/reference/peft_merge.py): for GPT-2 (Conv1D: fan_in_fan_out) and Llama, the adapter's keys,
// names and shapes are the ones PEFT's rules give, and the base merged PEFT's way runs (in the float64
// reference forward) to the logits Dumbo computes with the adapter applied, within 1e-4. Skipped, with a note,
// where PyTorch is not installed.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { findTorchPython, pythonEnv } from '../../src/bench/python.js';
import { initBackend } from '../../src/engine/backend.js';
import { attachLora, writePeftAdapter } from '../../src/engine/lora.js';
import { createModel } from '../../src/engine/models/index.js';
import { savePretrained } from '../../src/engine/pretrained.js';
import { repoRoot, tempDir } from '../helpers.js';
import { ids, maxAbsDiff, randomize, TINY } from './models/tiny.js';

const python = findTorchPython();
if (!python) console.warn('lora-peft-reference: PyTorch not installed: apt-get install python3-torch (skipping)');
const script = path.join(repoRoot, 'tests', 'engine', 'reference', 'peft_merge.py');
const ROWS = [
  [1, 5, 2, 9, 4],
  [7, 0, 3, 3, 10],
];

beforeAll(async () => {
  await initBackend('cpu');
});

const CASES = TINY.filter(([arch]) => arch !== 'GPT-Neo').map(([arch, config]) => ({ arch, config }));

describe.skipIf(!python)('LoRA adapters as PEFT reads and merges them (PyTorch re-implementation)', () => {
  it.each(CASES)(
    '$arch: PEFT names and shapes; base merged PEFT-style gives the adapted logits',
    async ({ config }) => {
      const lm = randomize(createModel(config, { seed: 1 }), 3);
      const baseDir = path.join(tempDir(), 'base');
      await savePretrained(lm, baseDir);
      const lora = attachLora(lm, {
        r: 3,
        lora_alpha: 6,
        use_rslora: true,
        init_lora_weights: false, // B random: the merge has something to add
        seed: 4,
        target_modules: config.model_type === 'gpt2' ? ['c_attn', 'c_fc'] : ['q_proj', 'v_proj', 'down_proj'],
      });
      const adapterDir = tempDir();
      await writePeftAdapter(lm, adapterDir);
      const idsFile = path.join(tempDir(), 'ids.json');
      writeFileSync(idsFile, JSON.stringify(ROWS));
      const r = spawnSync(python!, [script, baseDir, adapterDir, idsFile], { encoding: 'utf8', env: pythonEnv() });
      expect(r.status, r.stderr).toBe(0);
      const ref = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { modules: string[]; logits: number[] };
      expect(ref.modules).toEqual([...lora.modules.keys()].sort());
      const adapted = tf.tidy(() => lm.forward(ids(ROWS)).dataSync() as Float32Array);
      expect(maxAbsDiff(adapted, Float32Array.from(ref.logits))).toBeLessThan(1e-4);
      lora.enabled = false;
      const base = tf.tidy(() => lm.forward(ids(ROWS)).dataSync() as Float32Array);
      expect(maxAbsDiff(base, Float32Array.from(ref.logits))).toBeGreaterThan(1e-3); // the merge added something
      lm.dispose();
    },
  );
});
