// LoRA (src/engine/lora.ts) on the three architectures: at init the logits are unchanged; A and B get the
// gradients finite differences give; PEFT's names and shapes (GPT-2's Conv1D transposed: fan_in_fan_out);
// the PEFT files round-trip to the same logits; the merged weights give the logits of base + adapter; turning
// the adapters off gives the base; bad settings and files give the error a user should see.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/safetensors.js';
import {
  attachLora,
  baseWeights,
  DEFAULT_TARGET_MODULES,
  detachLora,
  loadLoraAdapter,
  loraTrainable,
  mergedWeights,
  readPeftAdapter,
  writePeftAdapter,
} from '../../src/engine/lora.js';
import { createModel, loadWeights } from '../../src/engine/models/index.js';
import type { CausalLM, HFConfig } from '../../src/engine/models/types.js';
import { causalLMLoss } from '../../src/engine/loss.js';
import { ids, maxAbsDiff, randomize, TINY } from './models/tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const ROWS = [
  [1, 5, 2, 9, 4],
  [7, 0, 3, 3, 10],
];

function logits(lm: CausalLM, options = {}): Float32Array {
  return tf.tidy(() => lm.forward(ids(ROWS), options).dataSync() as Float32Array);
}

function model(config: HFConfig, seed = 1): CausalLM {
  return randomize(createModel(config, { seed }), 3);
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'dumbo-lora-'));

/** PEFT's names and shapes for a tiny model of each architecture with its default targets (r = 4). */
const PEFT_NAMES: Record<string, [string, number[]][]> = {
  'GPT-2': [
    ['transformer.h.0.attn.c_attn.lora_A.weight', [4, 8]],
    ['transformer.h.0.attn.c_attn.lora_B.weight', [24, 4]],
  ],
  'GPT-Neo': [
    ['transformer.h.0.attn.attention.q_proj.lora_A.weight', [4, 8]],
    ['transformer.h.0.attn.attention.q_proj.lora_B.weight', [8, 4]],
    ['transformer.h.0.attn.attention.v_proj.lora_A.weight', [4, 8]],
    ['transformer.h.0.attn.attention.v_proj.lora_B.weight', [8, 4]],
  ],
  Llama: [
    ['model.layers.0.self_attn.q_proj.lora_A.weight', [4, 8]],
    ['model.layers.0.self_attn.q_proj.lora_B.weight', [8, 4]],
    ['model.layers.0.self_attn.v_proj.lora_A.weight', [4, 8]],
    ['model.layers.0.self_attn.v_proj.lora_B.weight', [4, 4]], // 2 kv heads of 2
  ],
};

describe.each(TINY)('LoRA on %s', (arch, config) => {
  it('at init (B zeros) leaves the logits unchanged, and freezes every weight but the adapters', () => {
    const lm = model(config);
    const plain = logits(lm);
    const lora = attachLora(lm, { r: 4, lora_alpha: 8, seed: 2 });
    expect(maxAbsDiff(logits(lm), plain)).toBe(0);
    expect(maxAbsDiff(logits(lm, { training: true, seed: 3 }), logits(lm, { training: true, seed: 3 }))).toBe(0);
    expect(lora.modules.size).toBe(2 * (arch === 'GPT-2' ? 1 : 2)); // 2 layers
    for (const [name, v] of lm.params) expect(v.trainable, name).toBe(lora.params.has(name));
    lm.dispose();
  });

  it("names its adapters and shapes them as PEFT does, with the architecture's default targets", () => {
    const lm = model(config);
    attachLora(lm, { r: 4 });
    const shapes = new Map([...lm.lora!.params].map(([n, v]) => [n, v.shape]));
    for (const [name, shape] of PEFT_NAMES[arch]!) expect(shapes.get(name), name).toEqual(shape);
    expect(lm.lora!.settings.target_modules).toEqual(DEFAULT_TARGET_MODULES[String(config.model_type)]);
    lm.dispose();
  });

  it('gives A and B the gradients of finite differences', async () => {
    const lm = model(config);
    const lora = attachLora(lm, { r: 2, lora_alpha: 4, init_lora_weights: false, seed: 5 });
    const x = ids(ROWS);
    const y = ids(ROWS.map((r) => [...r.slice(1), 1]));
    const loss = () => causalLMLoss(lm.forward(x), y).loss;
    const vars = [...lora.params.values()];
    const { grads } = tf.variableGrads(loss as () => tf.Scalar, vars);
    const h = 1e-2;
    for (const [name, v] of lora.params) {
      const analytic = grads[v.name]!.dataSync();
      const values = v.dataSync().slice();
      for (const i of [0, values.length - 1]) {
        const at = (d: number) => {
          const moved = values.slice();
          moved[i] = values[i]! + d;
          v.assign(tf.tensor(moved, v.shape));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        v.assign(tf.tensor(values, v.shape));
        expect(Math.abs(analytic[i]! - numeric), `${name}[${i}]`).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
      }
    }
    tf.dispose([x, y, ...Object.values(grads)]);
    lm.dispose();
  });

  it('writes PEFT files that load back to the same logits, and merges to the logits of base + adapter', async () => {
    const lm = model(config);
    attachLora(lm, { r: 4, lora_alpha: 16, init_lora_weights: false, seed: 7, baseModel: '/models/base' });
    const adapted = logits(lm);
    lm.lora!.enabled = false;
    const base = logits(lm);
    lm.lora!.enabled = true;
    expect(maxAbsDiff(adapted, base)).toBeGreaterThan(1e-3); // the adapters change the model

    const dir = tmp();
    await writePeftAdapter(lm, dir);
    const cfg = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: '/models/base',
      r: 4,
      lora_alpha: 16,
      fan_in_fan_out: arch === 'GPT-2',
      bias: 'none',
      inference_mode: true,
    });
    const read = await readPeftAdapter(dir);
    expect([...read.tensors.keys()].sort()).toEqual([...lm.lora!.params.keys()].sort());

    // A fresh copy of the base with the adapter loaded: the adapted logits.
    const fresh = model(config);
    await loadLoraAdapter(fresh, dir);
    expect(maxAbsDiff(logits(fresh), adapted)).toBe(0);

    // The merged weights, loaded into a plain model: base + adapter within 1e-5.
    const merged = await mergedWeights(lm);
    const plain = createModel(config, { seed: 9 });
    loadWeights(plain, merged);
    expect(maxAbsDiff(logits(plain), adapted)).toBeLessThan(1e-5);

    detachLora(fresh);
    expect(maxAbsDiff(logits(fresh), base)).toBe(0);
    expect([...fresh.params.keys()].some((n) => n.includes('lora_'))).toBe(false);
    for (const m of [lm, fresh, plain]) m.dispose();
  });
});

describe('LoRA settings and files', () => {
  it('scales by alpha/r, or alpha/sqrt(r) with rsLoRA, and targets by name or regex', () => {
    const lm = model(TINY[0]![1]);
    const lora = attachLora(lm, { r: 4, lora_alpha: 8, use_rslora: true, target_modules: 'transformer\\.h\\.1\\..*' });
    expect([...lora.modules.keys()].sort()).toEqual([
      'transformer.h.1.attn.c_attn',
      'transformer.h.1.attn.c_proj',
      'transformer.h.1.mlp.c_fc',
      'transformer.h.1.mlp.c_proj',
    ]);
    expect([...lora.modules.values()][0]!.scaling).toBe(4);
    lm.dispose();
  });

  it('trains modules_to_save whole (matched as PEFT: by the end of the name), saves them in the adapter, keeps the base', async () => {
    const lm = model(TINY[2]![1]);
    const before = tf.memory().numTensors;
    const lora = attachLora(lm, { r: 2, modules_to_save: ['lm_head', 'embed_tokens'] });
    expect([...loraTrainable(lora).keys()]).toEqual(
      expect.arrayContaining(['lm_head.weight', 'model.embed_tokens.weight']),
    );
    expect(lm.params.get('lm_head.weight')!.trainable).toBe(true);
    const head = lm.params.get('lm_head.weight')!;
    const original = head.dataSync().slice();
    tf.tidy(() => head.assign(tf.add(head, 1))); // "trained"
    const dir = tmp();
    await writePeftAdapter(lm, dir);
    const read = await readPeftAdapter(dir);
    expect([...read.tensors.get('lm_head.weight')!.data]).toEqual([...head.dataSync()]);
    // The base keeps the module as it was; the merged model has it trained.
    expect([...(await baseWeights(lm)).get('lm_head.weight')!.data]).toEqual([...original]);
    expect([...(await mergedWeights(lm)).get('lm_head.weight')!.data]).toEqual([...head.dataSync()]);
    // A file without the module to save it lists is refused.
    const fresh = model(TINY[2]![1]);
    writeSafetensors(
      path.join(dir, 'adapter_model.safetensors'),
      new Map(
        [...(await readSafetensors(path.join(dir, 'adapter_model.safetensors'))).tensors].filter(
          ([k]) => !k.endsWith('lm_head.weight'),
        ),
      ),
    );
    await expect(loadLoraAdapter(fresh, dir)).rejects.toThrow('no base_model.model.lm_head.weight');
    fresh.dispose();
    detachLora(lm);
    expect(tf.memory().numTensors).toBe(before); // the adapters and the saved copies are freed
    lm.dispose();
  });

  it("refuses GPT-2's lm_head as a module to save, saying the head is tied", () => {
    const lm = model(TINY[0]![1]);
    expect(() => attachLora(lm, { modules_to_save: ['lm_head'] })).toThrow(
      "lora.modules_to_save: the model has no module 'lm_head' (its LM head is tied to the token embeddings)",
    );
    lm.dispose();
  });

  it('refuses what PEFT would, naming the field', () => {
    const lm = model(TINY[0]![1]);
    expect(() => attachLora(lm, { target_modules: ['q_proj'] })).toThrow(
      'lora.target_modules: ["q_proj"] matches none of the model\'s projections (transformer.h.0.attn.c_attn, ' +
        'transformer.h.0.attn.c_proj, transformer.h.0.mlp.c_fc, transformer.h.0.mlp.c_proj, and the same in every layer)',
    );
    expect(() => attachLora(lm, { r: 0 })).toThrow('lora.r: expected a positive integer, got 0');
    expect(() => attachLora(lm, { modules_to_save: ['score'] })).toThrow(
      "lora.modules_to_save: the model has no module 'score'",
    );
    expect(lm.lora).toBeUndefined();
    attachLora(lm, {});
    expect(() => attachLora(lm, {})).toThrow('this model already has LoRA adapters attached');
    lm.dispose();
  });

  it('reads its own files and ones whose keys keep the adapter name (older PEFT), and refuses one for another model', async () => {
    const lm = model(TINY[0]![1]);
    attachLora(lm, { r: 2, init_lora_weights: false, seed: 3 });
    const dir = tmp();
    await writePeftAdapter(lm, dir);
    const want = logits(lm);
    const other = model(TINY[2]![1]);
    await expect(loadLoraAdapter(other, dir)).rejects.toThrow('matches none of the model');
    expect(other.lora).toBeUndefined();
    const fresh = model(TINY[0]![1]);
    await loadLoraAdapter(fresh, dir);
    expect(maxAbsDiff(logits(fresh), want)).toBe(0);
    // Keys as older PEFT versions wrote them: `...lora_A.default.weight`.
    const named = tmp();
    const file = path.join(dir, 'adapter_model.safetensors');
    const { tensors } = await readSafetensors(file);
    writeSafetensors(
      path.join(named, 'adapter_model.safetensors'),
      new Map([...tensors].map(([k, t]) => [k.replace(/\.(lora_[AB])\.weight$/, '.$1.default.weight'), t])),
    );
    writeFileSync(path.join(named, 'adapter_config.json'), readFileSync(path.join(dir, 'adapter_config.json')));
    const older = model(TINY[0]![1]);
    await loadLoraAdapter(older, named);
    expect(maxAbsDiff(logits(older), want)).toBe(0);
    older.dispose();
    // A config that PEFT features we do not have.
    const cfgFile = path.join(dir, 'adapter_config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), use_dora: true }));
    await expect(readPeftAdapter(dir)).rejects.toThrow(`${cfgFile}: use_dora true is not supported`);
    await expect(readPeftAdapter(tmp())).rejects.toThrow(
      'no adapter_config.json (is this a PEFT LoRA adapter folder?)',
    );
    for (const m of [lm, other, fresh]) m.dispose();
  });
});
