// The lora plugin in real runs (the quickstart stories, a tiny GPT-2): the base trains first; a LoRA run on it
// trains only the adapters (final/'s model is the base, bit for bit; the optimizer holds moments for the
// adapters alone), its loss falls, final/ and every checkpoint hold PEFT's adapter files; `dumbo score` with
// `--adapter` equals the score of the folder `dumbo merge` writes, and of final/ with `merge_on_save`; a run
// continues from a saved adapter (`lora: {adapter: DIR}`); a stopped LoRA run resumes bit for bit; the
// lora-sft example's data is its script's and the example trains (on a small base instead of the quickstart's);
// optimizer state with LoRA r=8 on GPT-2 mini is under 2% of full fine-tuning's.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareRun, runLifecycle, setConsoleLogLevel } from '../../src/core/index.js';
import {
  AdamW,
  attachLora,
  createModel,
  initBackend,
  listCheckpoints,
  loadPretrained,
  loraTrainable,
  readSafetensors,
} from '../../src/engine/index.js';
import { engineConfig } from '../fixtures/configs.js';
import { lastLine, repoRoot, runDumbo, tempDir } from '../helpers.js';

beforeAll(async () => {
  setConsoleLogLevel('off');
  await initBackend('cpu');
});

/** Runs `yaml` in a new folder; the folder and each step's loss. */
async function run(yaml: string): Promise<{ dir: string; losses: number[] }> {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'run.yaml'), yaml);
  const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
  const losses: number[] = [];
  const outcome = await runLifecycle(prepared, { runFolder: dir, onStep: (s) => void losses.push(s.loss!) });
  expect(outcome.error).toBeUndefined();
  return { dir, losses };
}

/** Rows of a learnable text (counting words), for the LoRA runs. */
function countingData(): string {
  const file = path.join(tempDir(), 'counting.jsonl');
  const line = 'one two three four five six seven eight nine ten. ';
  writeFileSync(
    file,
    Array.from({ length: 60 }, (_, i) => JSON.stringify({ text: line.repeat(3 + (i % 3)) }) + '\n').join(''),
  );
  return file;
}

/** The quickstart test config on the trained base `base`, on `data`, with a `lora:` section. */
function loraYaml(base: string, data: string, lora: string, steps = 16): string {
  return engineConfig({ steps, plugins: ['lora'], extra: `lora:\n${lora}` })
    .replace(/ {2}base_model: .*\n {2}init: from_config\n {2}config: .*\n/, `  base_model: ${base}\n`)
    .replace(/path: .*stories\.jsonl/, `path: ${data}`)
    .replace('learning_rate: 0.01', 'learning_rate: 0.02');
}

const LORA = '  r: 4\n  lora_alpha: 8\n  target_modules: [c_attn, c_fc]\n';

async function tensors(file: string) {
  return (await readSafetensors(file)).tensors;
}

async function score(model: string, adapter?: string): Promise<number> {
  const text = path.join(tempDir(), 'text.txt');
  writeFileSync(text, 'Once upon a time there was a little fox who lived in the woods. One day the fox saw a bird.');
  const r = await runDumbo([
    'score',
    '--model',
    model,
    ...(adapter ? ['--adapter', adapter] : []),
    '--text',
    text,
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(lastLine(r.stdout)) as { loss: number }).loss;
}

describe('lora in a run', () => {
  let base: string;
  let data: string;
  let lora: { dir: string; losses: number[] };

  beforeAll(async () => {
    // A base trained enough that its embeddings are more than their initial noise (frozen under LoRA).
    const baseYaml = engineConfig({ steps: 30, saveEvery: 0 }).replace('learning_rate: 0.01', 'learning_rate: 0.03');
    base = path.join((await run(baseYaml)).dir, 'final');
    data = countingData();
    lora = await run(loraYaml(base, data, LORA));
  }, 240_000);

  it('trains only the adapters: final/ holds the base unchanged, the loss falls', async () => {
    const [before, after] = [
      await tensors(path.join(base, 'model.safetensors')),
      await tensors(path.join(lora.dir, 'final', 'model.safetensors')),
    ];
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, t] of before) expect([...after.get(name)!.data], name).toEqual([...t.data]);
    expect(lora.losses).toHaveLength(16);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(lora.losses.slice(-4))).toBeLessThan(mean(lora.losses.slice(0, 4)) - 0.05);
  });

  it("writes PEFT's adapter files to final/ and every checkpoint; checkpoints hold moments for the adapters only", async () => {
    const final = path.join(lora.dir, 'final');
    const config = JSON.parse(readFileSync(path.join(final, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      target_modules: ['c_attn', 'c_fc'],
      fan_in_fan_out: true,
      base_model_name_or_path: base,
    });
    const adapter = await tensors(path.join(final, 'adapter_model.safetensors'));
    expect([...adapter.keys()].sort()).toEqual([
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight',
      'base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight',
      'base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight',
    ]);
    expect(adapter.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).toEqual([4, 32]);
    const B = adapter.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!;
    expect(B.shape).toEqual([96, 4]);
    expect(B.data.some((x) => x !== 0)).toBe(true); // B starts at zero: it was trained
    const checkpoints = listCheckpoints(lora.dir);
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const c of checkpoints) {
      expect(existsSync(path.join(c.dir, 'adapter_config.json')), c.dir).toBe(true);
      const moments = [...(await tensors(path.join(c.dir, 'optimizer.safetensors'))).keys()];
      expect(moments.length).toBe(8); // exp_avg and exp_avg_sq of 4 adapter weights
      expect(moments.every((k) => k.includes('.lora_'))).toBe(true);
    }
  });

  it('dumbo score --adapter equals the score of the merged folder (dumbo merge), which differs from the base', async () => {
    const final = path.join(lora.dir, 'final');
    const merged = path.join(tempDir(), 'merged');
    const r = await runDumbo(['merge', '--model', base, '--adapter', final, '--output', merged]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`merged 2 LoRA modules (r=4) of ${final} into ${base}: wrote ${merged}`);
    expect(existsSync(path.join(merged, 'adapter_config.json'))).toBe(false);
    const [adapted, viaMerge, plain] = [await score(base, final), await score(merged), await score(base)];
    expect(Math.abs(adapted - viaMerge)).toBeLessThan(1e-5);
    expect(Math.abs(adapted - plain)).toBeGreaterThan(1e-4);
    expect(JSON.parse(readFileSync(path.join(merged, 'config.json'), 'utf8'))).not.toHaveProperty('dumbo_lora_merged');
    const bad = await runDumbo(['merge', '--model', base, '--adapter', base, '--output', path.join(tempDir(), 'x')]);
    expect(bad.code).toBe(2);
    expect(lastLine(bad.stderr)).toBe(`${base}: no adapter_config.json (is this a PEFT LoRA adapter folder?)`);
    // An existing folder is never replaced (it could be the base, the adapter or a run).
    const taken = await runDumbo(['merge', '--model', base, '--adapter', final, '--output', lora.dir]);
    expect(taken.code).toBe(2);
    expect(lastLine(taken.stderr)).toBe(
      `${lora.dir}: --output must be a new or empty folder: it is replaced by the merged model`,
    );
    expect(existsSync(path.join(lora.dir, 'final', 'adapter_config.json'))).toBe(true);
    // A checkpoint of the LoRA run loads as a model (its adapters among the weights are left to --adapter).
    const ckpt = await loadPretrained(listCheckpoints(lora.dir).at(-1)!.dir, 0);
    expect([...ckpt.lm.params.keys()].some((n) => n.includes('lora_'))).toBe(false);
    ckpt.lm.dispose();
    const note = await runDumbo(['generate', '--model', final, '--prompt', 'one', '--max-new-tokens', '2']);
    expect(note.stderr).toContain(
      `${final}: the model here is the base of a LoRA adapter (adapter_config.json): add --adapter ${final} to apply it`,
    );
  }, 120_000);

  it('merge_on_save writes the merged model to final/; a run continues from a saved adapter', async () => {
    const adapter = path.join(lora.dir, 'final');
    const merged = await run(loraYaml(base, data, `  adapter: ${adapter}\n  merge_on_save: true\n`, 4));
    const final = path.join(merged.dir, 'final');
    // It started where the saved adapter ended: its first loss is well below the first LoRA run's first.
    expect(merged.losses[0]!).toBeLessThan(lora.losses[0]! - 0.05);
    expect(Math.abs((await score(final)) - (await score(base, final)))).toBeLessThan(1e-5);
    // Its adapter files carry the loaded adapter's settings on, beside the merged model, which refuses them.
    expect(JSON.parse(readFileSync(path.join(final, 'adapter_config.json'), 'utf8'))).toMatchObject({
      r: 4,
      lora_alpha: 8,
    });
    const twice = await runDumbo(['generate', '--model', final, '--adapter', final, '--prompt', 'one']);
    expect(twice.code).toBe(2);
    expect(lastLine(twice.stderr)).toBe(
      `${final}: its model has this adapter merged in already (merge_on_save): leave --adapter out`,
    );
  }, 120_000);
});

describe('the lora section', () => {
  it('refuses a shape setting beside adapter:, naming it', async () => {
    const base = path.join((await run(engineConfig({ steps: 2, saveEvery: 0 }))).dir, 'final');
    const first = await run(loraYaml(base, countingData(), LORA, 2));
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'run.yaml'),
      loraYaml(base, countingData(), `  adapter: ${path.join(first.dir, 'final')}\n  r: 16\n`, 2),
    );
    const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    const outcome = await runLifecycle(prepared, { runFolder: dir });
    expect(String(outcome.error)).toContain(
      "lora.r: not used with lora.adapter (the adapter's adapter_config.json sets it): remove one of them",
    );
  }, 120_000);
});

describe('a stopped LoRA run', () => {
  it('resumes to the adapter an uninterrupted run ends with, bit for bit', async () => {
    const baseYaml = engineConfig({ steps: 4, saveEvery: 0 });
    const base = path.join((await run(baseYaml)).dir, 'final');
    const data = countingData();
    const yaml = (resume: boolean) =>
      loraYaml(base, data, LORA, 8)
        .replace('save_every: 4', 'save_every: 0')
        .replace('model:', `${resume ? 'resume_from: latest\n' : ''}model:`);
    const whole = await run(yaml(false));
    // The same run, stopped after step 5 (it checkpoints there), then resumed in its folder.
    const dir = tempDir();
    writeFileSync(path.join(dir, 'run.yaml'), yaml(false));
    let steps = 0;
    const first = await runLifecycle(await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('u-') }), {
      runFolder: dir,
      onStep: () => void steps++,
      stopRequested: () => steps >= 5,
    });
    expect(first.status).toBe('stopped');
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([5]);
    writeFileSync(path.join(dir, 'run.yaml'), yaml(true));
    const second = await runLifecycle(await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('u-') }), {
      runFolder: dir,
    });
    expect(second.status).toBe('completed');
    const [a, b] = [
      await tensors(path.join(whole.dir, 'final', 'adapter_model.safetensors')),
      await tensors(path.join(dir, 'final', 'adapter_model.safetensors')),
    ];
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, t] of a) expect([...b.get(name)!.data], name).toEqual([...t.data]);
  }, 240_000);
});

describe('the lora-sft example', () => {
  it('its data is what scripts/make-lora-sft.mjs makes (the same bytes again)', async () => {
    const out = tempDir();
    const { makeLoraSft } = (await import(path.join(repoRoot, 'scripts', 'make-lora-sft.mjs'))) as {
      makeLoraSft: (dir: string) => void;
    };
    makeLoraSft(out);
    for (const f of ['train.jsonl', 'eval.jsonl']) {
      expect(readFileSync(path.join(out, f), 'utf8'), f).toBe(
        readFileSync(path.join(repoRoot, 'resources', 'lora-sft', f), 'utf8'),
      );
    }
  });

  it('trains its adapters on a small base: the eval loss falls', async () => {
    const baseYaml = engineConfig({ steps: 30, saveEvery: 0 })
      .replace('learning_rate: 0.01', 'learning_rate: 0.03')
      .replace('n_positions: 32', 'n_positions: 64'); // the example's max_length is 48
    const base = path.join((await run(baseYaml)).dir, 'final');
    const examples = path.join(repoRoot, 'resources', 'examples');
    // The example as shipped, on this base instead of the quickstart's, for 20 steps; paths stay relative to it.
    const yaml = readFileSync(path.join(examples, 'lora-sft.yaml'), 'utf8')
      .replace(/base_model: .*/, `base_model: ${base}`)
      .replace(/max_steps: \d+/, 'max_steps: 20')
      .replace(/eval_every: \d+/, 'eval_every: 10')
      .replaceAll('../lora-sft/', path.join(repoRoot, 'resources', 'lora-sft') + '/');
    const dir = tempDir();
    writeFileSync(path.join(dir, 'run.yaml'), yaml);
    const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    const outcome = await runLifecycle(prepared, { runFolder: dir });
    expect(outcome.error).toBeUndefined();
    // The file logger's lines: `<time> step=N eval/loss=X`.
    const log = readFileSync(path.join(dir, 'training.log'), 'utf8');
    const evals = [...log.matchAll(/ eval\/loss=([\d.]+)/g)].map((m) => Number(m[1]));
    expect(evals).toHaveLength(2);
    expect(evals[1]!).toBeLessThan(evals[0]! - 0.02);
    expect(existsSync(path.join(dir, 'final', 'adapter_model.safetensors'))).toBe(true);
  }, 240_000);
});

describe('lora memory', () => {
  it('optimizer state with LoRA r=8 on GPT-2 mini is under 2% of full fine-tuning', () => {
    const config = {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_layer: 3,
      n_embd: 384,
      n_head: 6,
      vocab_size: 50257,
      n_positions: 1024,
    };
    const lm = createModel(config, { seed: 0 });
    const stateBytes = (params: Map<string, tf.Variable>) => {
      const before = tf.memory().numBytes;
      const opt = new AdamW(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
      const bytes = tf.memory().numBytes - before;
      opt.dispose();
      return bytes;
    };
    const total = [...lm.params.values()].reduce((n, v) => n + v.size, 0);
    const full = stateBytes(new Map(lm.params));
    const lora = attachLora(lm, { r: 8 });
    const adapters = stateBytes(loraTrainable(lora));
    expect(full).toBe(2 * 4 * total); // m and v of every weight
    expect(adapters).toBe(2 * 4 * 3 * (8 * 384 + 3 * 384 * 8)); // m and v of A [8, 384] and B [1152, 8], 3 layers
    expect(adapters / full).toBeLessThan(0.02);
    lm.dispose();
  });
});
