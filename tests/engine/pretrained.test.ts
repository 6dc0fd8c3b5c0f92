// Hugging Face folders: savePretrained → loadPretrained round trips for every architecture, the folder's
// layout (config.json, model.safetensors, generation_config.json, tokenizer files), the atomic save, and the
// error a folder whose weights do not fit its config gives.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { createModel, exportWeights } from '../../src/engine/models/index.js';
import type { HFConfig } from '../../src/engine/models/types.js';
import { loadPretrained, modelFromConfig, readConfig, savePretrained } from '../../src/engine/pretrained.js';
import { readSafetensors } from '../../src/engine/safetensors.js';
import { loadTokenizer, type EngineTokenizer } from '../../src/engine/tokenizer.js';
import { repoRoot, tempDir } from '../helpers.js';
import { gpt2Tiny, logitsOf, randomize, TINY, VOCAB } from './models/tiny.js';

const ROWS = [
  [1, 4, 7, 2, 9, 0, 3],
  [10, 5, 5, 8, 6, 1, 2],
];
const quickstartTokenizer = path.join(repoRoot, 'resources', 'quickstart', 'tokenizer');

/** Names starting with `.tmp-` in a folder: what an interrupted or failed save would leave behind. */
const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.tmp-'));

beforeAll(async () => {
  await initBackend('cpu');
});

describe('savePretrained → loadPretrained', () => {
  it.each(TINY.map(([name, config], i) => [name, config, i] as const))(
    '%s: the loaded model gives bitwise identical logits',
    async (_name, config, i) => {
      const parent = tempDir();
      const dir = path.join(parent, 'model');
      const lm = randomize(createModel(config, { seed: i }), 200 + i, 0.5);
      const before = logitsOf(lm, ROWS);
      await savePretrained(lm, dir);
      // A different seed: every weight must come from the file, none from the seeded initialisation.
      const loaded = await loadPretrained(dir, 999, 'cpu');
      try {
        expect(loaded.architecture).toBe(lm.architecture);
        expect(loaded.sourceDir).toBe(dir);
        expect([...loaded.lm.params.keys()].sort()).toEqual([...lm.params.keys()].sort());
        const after = logitsOf(loaded.lm, ROWS);
        expect(after.length).toBe(2 * 7 * VOCAB);
        expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(true);
        for (const [name, t] of await exportWeights(lm)) {
          expect(Array.from(loaded.lm.params.get(name)!.dataSync()), name).toEqual(Array.from(t.data));
        }
      } finally {
        lm.dispose();
        loaded.lm.dispose();
      }
      expect(leftovers(parent)).toEqual([]);
    },
  );

  it('writes config.json (with architectures), model.safetensors and generation_config.json', async () => {
    const dir = path.join(tempDir(), 'gpt2');
    const config: HFConfig = { ...gpt2Tiny, bos_token_id: 9, eos_token_id: 10 };
    const lm = createModel(config, { seed: 1 });
    await savePretrained(lm, dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const saved = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as HFConfig;
    expect(saved).toEqual({ ...config, architectures: ['GPT2LMHeadModel'], torch_dtype: 'float32' });
    expect(readConfig(dir)).toEqual(saved);
    expect(JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'))).toEqual({
      bos_token_id: 9,
      eos_token_id: 10,
    });
    const { tensors, metadata } = await readSafetensors(path.join(dir, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    // Every parameter under its Hugging Face name; the tied head is left out, as save_pretrained does.
    expect([...tensors.keys()].sort()).toEqual([...lm.params.keys()].sort());
    expect(tensors.has('lm_head.weight')).toBe(false);
    expect(tensors.get('transformer.wte.weight')!.shape).toEqual([VOCAB, 8]);
    expect(tensors.get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([8, 24]); // Conv1D: [in, out]
    lm.dispose();
  });

  it('an untied Llama head is saved as lm_head.weight', async () => {
    const dir = path.join(tempDir(), 'llama');
    const lm = createModel(TINY[2]![1], { seed: 0 });
    await savePretrained(lm, dir);
    const { tensors } = await readSafetensors(path.join(dir, 'model.safetensors'));
    expect(tensors.get('lm_head.weight')!.shape).toEqual([VOCAB, 8]);
    expect(tensors.has('model.embed_tokens.weight')).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'))).toEqual({});
    lm.dispose();
  });

  it("copies the tokenizer's files byte for byte, and the folder loads as model and tokenizer", async () => {
    const tokenizer = await loadTokenizer(quickstartTokenizer);
    expect(tokenizer.files.sort()).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    const quickstart = readConfig(path.join(repoRoot, 'resources', 'quickstart', 'model'));
    const model = modelFromConfig({ ...quickstart, n_layer: 1 }, 3, 'cpu');
    const dir = path.join(tempDir(), 'final');
    await savePretrained(model.lm, dir, tokenizer);
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    for (const f of tokenizer.files) {
      expect(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(quickstartTokenizer, f))), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'))).toEqual({
      bos_token_id: 511,
      eos_token_id: 511,
    });
    const again = await loadTokenizer(dir);
    expect(again.vocabSize).toBe(512);
    expect(again.eosTokenId).toBe(511);
    expect(again.encode('Once upon a time')).toEqual(tokenizer.encode('Once upon a time'));
    const loaded = await loadPretrained(dir, 0, 'cpu');
    expect(loaded.info!().parametersTotal).toBe(model.info!().parametersTotal);
    const rows = [[5, 100, 511, 7]];
    expect(Array.from(logitsOf(loaded.lm, rows))).toEqual(Array.from(logitsOf(model.lm, rows)));
    model.lm.dispose();
    loaded.lm.dispose();
  });
});

describe('the save is atomic', () => {
  it('replaces an existing folder whole (no stale files) and leaves no .tmp-* folder', async () => {
    const parent = tempDir();
    const dir = path.join(parent, 'model');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'stale.bin'), 'old');
    writeFileSync(path.join(dir, 'config.json'), '{"old": true}');
    const lm = createModel(gpt2Tiny, { seed: 4 });
    await savePretrained(lm, dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    expect(readConfig(dir).architectures).toEqual(['GPT2LMHeadModel']);
    expect(leftovers(parent)).toEqual([]);
    lm.dispose();
  });

  it('a save that fails part-way leaves the existing folder as it was, and no .tmp-* folder', async () => {
    const parent = tempDir();
    const dir = path.join(parent, 'model');
    const good = createModel(gpt2Tiny, { seed: 5 });
    await savePretrained(good, dir);
    const snapshot = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))]));
    // A tokenizer whose file has gone missing: the copy fails after config and weights were written.
    const broken = {
      sourceDir: tempDir(),
      files: ['tokenizer.json'],
    } as unknown as EngineTokenizer;
    const other = createModel({ ...gpt2Tiny, n_layer: 1 }, { seed: 6 });
    await expect(savePretrained(other, dir, broken)).rejects.toThrow(/ENOENT.*tokenizer\.json/);
    expect(readdirSync(dir).sort()).toEqual(Object.keys(snapshot).sort());
    for (const [f, bytes] of Object.entries(snapshot))
      expect(readFileSync(path.join(dir, f)).equals(bytes), f).toBe(true);
    expect(leftovers(parent)).toEqual([]);
    const loaded = await loadPretrained(dir, 0);
    expect(Array.from(logitsOf(loaded.lm, ROWS))).toEqual(Array.from(logitsOf(good, ROWS)));
    for (const m of [good, other, loaded.lm]) m.dispose();
  });

  it('creates missing parent folders', async () => {
    const dir = path.join(tempDir(), 'a', 'b', 'model');
    const lm = createModel(gpt2Tiny, { seed: 0 });
    await savePretrained(lm, dir);
    expect(existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
    lm.dispose();
  });
});

describe('loading a folder that does not fit', () => {
  /** A saved tiny GPT-2 whose config.json is then edited. */
  async function savedWithConfig(edit: (c: HFConfig) => HFConfig): Promise<string> {
    const dir = path.join(tempDir(), 'model');
    const lm = createModel(gpt2Tiny, { seed: 0 });
    await savePretrained(lm, dir);
    lm.dispose();
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(edit(readConfig(dir))));
    return dir;
  }

  it('names the missing tensors when the config has more layers than the weights', async () => {
    const dir = await savedWithConfig((c) => ({ ...c, n_layer: 3 }));
    const error = await loadPretrained(dir, 0).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^the checkpoint does not fit this GPT2LMHeadModel config:\nmissing tensors: /);
    for (const n of ['ln_1.weight', 'attn.c_attn.weight', 'mlp.c_proj.bias'])
      expect(error?.message).toContain(`transformer.h.2.${n}`);
    expect(error?.message).not.toContain('transformer.h.1.');
  });

  it('names the unexpected tensors when the config has fewer layers', async () => {
    const dir = await savedWithConfig((c) => ({ ...c, n_layer: 1 }));
    await expect(loadPretrained(dir, 0)).rejects.toThrow(
      /unexpected tensors: .*transformer\.h\.1\.attn\.c_attn\.weight/,
    );
  });

  it('names each mis-shaped tensor with both shapes', async () => {
    const dir = await savedWithConfig((c) => ({ ...c, vocab_size: VOCAB + 1 }));
    await expect(loadPretrained(dir, 0)).rejects.toThrow(
      `shape mismatches:\n  transformer.wte.weight: checkpoint has [${VOCAB},8], config expects [${VOCAB + 1},8]`,
    );
  });

  it('names a folder without config.json, and one without weights', async () => {
    const empty = tempDir();
    await expect(loadPretrained(empty, 0)).rejects.toThrow(`${empty}: no config.json`);
    writeFileSync(path.join(empty, 'config.json'), JSON.stringify(gpt2Tiny));
    await expect(loadPretrained(empty, 0)).rejects.toThrow(
      `${empty}: no weights: looked for model.safetensors and model.safetensors.index.json`,
    );
  });
});
