/**
 * LoRA, as Hugging Face PEFT computes and stores it. `attachLora` puts a low-rank adapter on each targeted
 * projection of a model (layers.ts adds dropout(x)·Aᵀ·Bᵀ·scaling to its output), with A [r, in] and B [out, r]
 * in both weight layouts (GPT-2's Conv1D is PEFT's `fan_in_fan_out`: its merged delta is transposed). The
 * adapters' variables join the model's `params` as `<module>.lora_A.weight` / `.lora_B.weight`, so checkpoints
 * keep them and a resume is exact; every other weight is frozen (`trainable = false`) except `modules_to_save`.
 *
 * Files: `adapter_config.json` and `adapter_model.safetensors` with PEFT's keys
 * (`base_model.model.transformer.h.0.attn.c_attn.lora_A.weight`), written beside the model in `final/` and in
 * each checkpoint (`writePeftAdapter`), read back by `loadLoraAdapter` (also files saved by Python's PEFT).
 * `mergedWeights` gives the base weights with every delta added (W + scaling·B·A, transposed for Conv1D):
 * what `dumbo merge` and `merge_on_save` write.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../core/index.js';
import type { LoraAdapter, Projection } from './models/layers.js';
import { exportWeights, mergeParts } from './models/index.js';
import type { CausalLM, HostTensor } from './models/types.js';
import { Rng } from './random.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** The prefix PEFT's PeftModelForCausalLM gives every key of the adapter file. */
const PEFT_PREFIX = 'base_model.model.';

/** PEFT's default target modules per model type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const DEFAULT_TARGET_MODULES: Record<string, string[]> = {
  gpt2: ['c_attn'],
  gpt_neo: ['q_proj', 'v_proj'],
  llama: ['q_proj', 'v_proj'],
};

/** What a LoRA is made of: PEFT's LoraConfig fields, by their names. */
export interface LoraSettings {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** Module names (a module matches when its name is one of them or ends with `.` + one) or one regex (full match). */
  target_modules: string[] | string;
  use_rslora: boolean;
  /** Only `none` (PEFT's default): biases stay frozen. */
  bias: 'none';
  /** Modules trained and saved whole besides the adapters (e.g. `lm_head`). */
  modules_to_save: string[] | null;
  /** PEFT's: true (A Kaiming-uniform, B zeros: the model starts unchanged), 'gaussian' (A normal(0, 1/r)), false (B random too). */
  init_lora_weights: boolean | 'gaussian';
}

export const LORA_DEFAULTS: Omit<LoraSettings, 'target_modules'> = {
  r: 8,
  lora_alpha: 8,
  lora_dropout: 0,
  use_rslora: false,
  bias: 'none',
  modules_to_save: null,
  init_lora_weights: true,
};

/** The adapters of one model (`lm.lora`): their settings, variables and the switch that turns them off. */
export interface LoraModel {
  readonly settings: LoraSettings;
  /** The targeted modules by name, each with its adapter. */
  readonly modules: ReadonlyMap<string, LoraAdapter>;
  /** The adapters' variables, by parameter name (`<module>.lora_A.weight`). */
  readonly params: ReadonlyMap<string, tf.Variable>;
  /** The parameters trained besides the adapters (`modules_to_save`), by name. */
  readonly saved: ReadonlyMap<string, tf.Variable>;
  /** Off: the model computes the base model's outputs (DPO's reference); on by default. */
  enabled: boolean;
  /** Write the merged weights as the model (`final/`) instead of the base ones. */
  mergeOnSave: boolean;
  /** What `base_model_name_or_path` says in adapter_config.json. */
  baseModel: string;
  /** The `modules_to_save` weights as they were before training: the base model's. */
  readonly originals: ReadonlyMap<string, tf.Tensor>;
}

/** How a module name matches `target_modules`, as PEFT's check_target_module_exists. */
export function matchesTarget(name: string, targets: string[] | string): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(name);
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** alpha/r, or alpha/√r with rsLoRA. */
export function loraScaling(s: Pick<LoraSettings, 'r' | 'lora_alpha' | 'use_rslora'>): number {
  return s.use_rslora ? s.lora_alpha / Math.sqrt(s.r) : s.lora_alpha / s.r;
}

/** [in, out] of a projection: its weight is [in, out] with fan_in_fan_out, else [out, in]. */
function features(p: Projection, fanInFanOut: boolean): [number, number] {
  const [a, b] = p.weight.shape as [number, number];
  return fanInFanOut ? [a, b] : [b, a];
}

/** PEFT's initial A and B: A Kaiming-uniform (a = √5: bound 1/√in) or normal(0, 1/r); B zeros unless `false`. */
function initialValues(inF: number, outF: number, s: LoraSettings, rng: Rng): [Float32Array, Float32Array] {
  const a = new Float32Array(s.r * inF);
  if (s.init_lora_weights === 'gaussian') {
    a.set(rng.normalArray(a.length, 0, 1 / s.r));
  } else {
    const bound = 1 / Math.sqrt(inF);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
  }
  const b = new Float32Array(outF * s.r);
  if (s.init_lora_weights === false) {
    const bound = 1 / Math.sqrt(s.r);
    for (let i = 0; i < b.length; i++) b[i] = (2 * rng.uniform() - 1) * bound;
  }
  return [a, b];
}

/** Refuses settings PEFT would refuse, naming the field. */
function check(s: LoraSettings): void {
  if (!Number.isInteger(s.r) || s.r < 1) throw new Error(`lora.r: expected a positive integer, got ${s.r}`);
  if (!(s.lora_alpha > 0)) throw new Error(`lora.lora_alpha: expected a positive number, got ${s.lora_alpha}`);
  if (!(s.lora_dropout >= 0 && s.lora_dropout < 1)) {
    throw new Error(`lora.lora_dropout: expected a number in [0, 1), got ${s.lora_dropout}`);
  }
  if (s.bias !== 'none') throw new Error(`lora.bias: only 'none' is supported, got '${s.bias}'`);
  if (typeof s.target_modules === 'string') {
    try {
      new RegExp(s.target_modules);
    } catch (error) {
      throw new Error(`lora.target_modules: not a valid regular expression: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

/**
 * Attaches adapters to every projection of `lm` whose module name matches `settings.target_modules` (missing:
 * PEFT's default for the model type), freezes the other weights but `modules_to_save`, and sets `lm.lora`.
 * A target list that matches nothing is an error listing the model's projections.
 */
export function attachLora(
  lm: CausalLM,
  options: Partial<LoraSettings> & { seed?: number; baseModel?: string },
): LoraModel {
  if (lm.lora) throw new Error('this model already has LoRA adapters attached');
  const modelType = String(lm.config.model_type ?? '');
  const target_modules = options.target_modules ?? DEFAULT_TARGET_MODULES[modelType];
  if (!target_modules) {
    throw new Error(`lora.target_modules: no default for model type '${modelType}': name the modules to adapt`);
  }
  const settings: LoraSettings = {
    ...LORA_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    target_modules,
  } as LoraSettings;
  check(settings);
  const projections = lm.projections();
  const targets = [...projections.keys()].filter((name) => matchesTarget(name, target_modules));
  if (targets.length === 0) {
    const names = [...projections.keys()];
    const layer0 = names.filter((n) => !/\.(?:[1-9]\d*)\./.test(n));
    throw new Error(
      `lora.target_modules: ${JSON.stringify(target_modules)} matches none of the model's projections ` +
        `(${layer0.join(', ')}, and the same in every layer)`,
    );
  }
  // A module to save matches as PEFT matches it: by its name or the end of it (`embed_tokens`).
  const saveNames = settings.modules_to_save ?? [];
  const moduleOf = (param: string) => param.replace(/\.(weight|bias)(\[\d+:\d+\])?$/, '');
  const saved = new Map([...lm.params].filter(([name]) => saveNames.some((m) => matchesTarget(moduleOf(name), [m]))));
  const unmatched = saveNames.filter((m) => ![...saved.keys()].some((n) => matchesTarget(moduleOf(n), [m])));
  if (unmatched.length > 0) {
    const tied =
      (lm as { tied?: boolean }).tied && unmatched.includes('lm_head')
        ? ' (its LM head is tied to the token embeddings)'
        : '';
    throw new Error(
      `lora.modules_to_save: the model has no module ${unmatched.map((m) => `'${m}'`).join(', ')}${tied}`,
    );
  }
  const rng = new Rng(options.seed ?? 0);
  const scaling = loraScaling(settings);
  const state = { enabled: true };
  const modules = new Map<string, LoraAdapter>();
  const params = new Map<string, tf.Variable>();
  for (const name of targets) {
    const projection = projections.get(name)!;
    const [inF, outF] = features(projection, lm.fanInFanOut);
    const [a, b] = initialValues(inF, outF, settings, rng);
    // Made in a tidy: the variables keep the values, the tensors they were made from go.
    const [A, B] = tf.tidy(() => [
      tf.variable(tf.tensor2d(a, [settings.r, inF]), true),
      tf.variable(tf.tensor2d(b, [outF, settings.r]), true),
    ]);
    const adapter: LoraAdapter = { A, B, scaling, dropout: settings.lora_dropout, state };
    projection.lora = adapter;
    modules.set(name, adapter);
    params.set(`${name}.lora_A.weight`, A);
    params.set(`${name}.lora_B.weight`, B);
  }
  for (const [name, v] of lm.params) v.trainable = saved.has(name);
  // The modules to save as they were: what the base model holds (final/'s model, the adapters off).
  const originals = new Map([...saved].map(([name, v]) => [name, tf.keep(tf.clone(v))]));
  for (const [name, v] of params) lm.params.set(name, v);
  const lora: LoraModel = {
    settings,
    modules,
    params,
    saved,
    get enabled() {
      return state.enabled;
    },
    set enabled(on: boolean) {
      state.enabled = on;
    },
    mergeOnSave: false,
    baseModel: options.baseModel ?? '',
    originals,
  };
  lm.lora = lora;
  return lora;
}

/** The parameters a LoRA run trains: the adapters and `modules_to_save`. */
export function loraTrainable(lora: LoraModel): Map<string, tf.Variable> {
  return new Map([...lora.params, ...lora.saved]);
}

/** The adapter file's tensors under PEFT's keys: every A and B, and the `modules_to_save` weights whole. */
export async function peftTensors(lm: CausalLM): Promise<Map<string, HostTensor>> {
  const lora = lm.lora!;
  const entries = [...lora.params, ...lora.saved];
  const values = await Promise.all(entries.map(([, v]) => v.data() as Promise<Float32Array>));
  // A module to save held as row parts (past a GPU's binding limit) is written whole, as PEFT holds it.
  const whole = mergeParts(
    lm,
    new Map(entries.map(([name, v], i) => [name, { shape: [...v.shape], data: Float32Array.from(values[i]!) }])),
  );
  return new Map([...whole].map(([name, t]) => [PEFT_PREFIX + name, t]));
}

/** adapter_config.json as PEFT writes it for a causal LM. */
export function peftConfig(lm: CausalLM): Record<string, unknown> {
  const s = lm.lora!.settings;
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: lm.lora!.baseModel,
    bias: s.bias,
    fan_in_fan_out: lm.fanInFanOut,
    inference_mode: true,
    init_lora_weights: s.init_lora_weights,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: s.lora_alpha,
    lora_dropout: s.lora_dropout,
    modules_to_save: s.modules_to_save,
    peft_type: 'LORA',
    r: s.r,
    rank_pattern: {},
    revision: null,
    target_modules: s.target_modules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: s.use_rslora,
  };
}

/** Writes adapter_config.json and adapter_model.safetensors into `dir` (each atomically). */
export async function writePeftAdapter(lm: CausalLM, dir: string): Promise<void> {
  const tensors = await peftTensors(lm);
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' });
  writeFileAtomic(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftConfig(lm), null, 2) + '\n');
}

/** A PEFT adapter folder, read: its settings and its tensors under our parameter names. */
export interface PeftAdapter {
  settings: LoraSettings;
  baseModel: string;
  tensors: Map<string, HostTensor>;
}

/** Reads a PEFT LoRA adapter folder (Dumbo's or Python PEFT's), with errors naming the file and the field. */
export async function readPeftAdapter(dir: string): Promise<PeftAdapter> {
  const configFile = path.join(dir, ADAPTER_CONFIG_FILE);
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS_FILE);
  for (const f of [configFile, weightsFile]) {
    if (!existsSync(f)) throw new Error(`${dir}: no ${path.basename(f)} (is this a PEFT LoRA adapter folder?)`);
  }
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${configFile}: invalid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (c.peft_type !== 'LORA')
    throw new Error(`${configFile}: peft_type is ${JSON.stringify(c.peft_type)}, expected "LORA"`);
  const field = <T>(key: string, ok: (v: unknown) => boolean, fallback: T, what: string): T => {
    const v = c[key];
    if (v === undefined || v === null) return fallback;
    if (!ok(v)) throw new Error(`${configFile}: ${key} is ${JSON.stringify(v)}, expected ${what}`);
    return v as T;
  };
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const settings: LoraSettings = {
    r: field('r', (v) => Number.isInteger(v) && (v as number) > 0, 8, 'a positive integer'),
    lora_alpha: field('lora_alpha', (v) => typeof v === 'number' && v > 0, 8, 'a positive number'),
    lora_dropout: field('lora_dropout', (v) => typeof v === 'number' && v >= 0 && v < 1, 0, 'a number in [0, 1)'),
    target_modules: field('target_modules', (v) => typeof v === 'string' || strings(v), [], 'names or a regex'),
    use_rslora: field('use_rslora', (v) => typeof v === 'boolean', false, 'true or false'),
    bias: field('bias', (v) => v === 'none', 'none', '"none" (trained biases are not supported)'),
    modules_to_save: field('modules_to_save', strings, null, 'a list of module names'),
    init_lora_weights: true,
  };
  for (const key of ['use_dora', 'rank_pattern', 'alpha_pattern', 'layers_to_transform'] as const) {
    const v = c[key];
    const unused =
      v === undefined || v === null || v === false || (typeof v === 'object' && Object.keys(v).length === 0);
    if (!unused) throw new Error(`${configFile}: ${key} ${JSON.stringify(v)} is not supported`);
  }
  const { tensors: raw } = await readSafetensors(weightsFile);
  const tensors = new Map<string, HostTensor>();
  for (const [key, t] of raw) {
    // PEFT keys: base_model.model.<name>; older files keep the adapter name (`lora_A.default.weight`).
    const name = key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key;
    tensors.set(
      name.replace(/\.(lora_[AB])\.default\.weight$/, '.$1.weight').replace('.modules_to_save.default.', '.'),
      t,
    );
  }
  return { settings, baseModel: String(c.base_model_name_or_path ?? ''), tensors };
}

/**
 * Attaches the adapter saved in `dir` to `lm` (its own settings, its values): to continue training it or to
 * apply it. Every tensor of the file must land on an adapter or a module to save of the same shape.
 */
export async function loadLoraAdapter(lm: CausalLM, dir: string, overrides: { lora_dropout?: number } = {}) {
  const adapter = await readPeftAdapter(dir);
  const lora = attachLora(lm, { ...adapter.settings, ...overrides, baseModel: adapter.baseModel });
  const wanted = loraTrainable(lora);
  const file = path.join(dir, ADAPTER_WEIGHTS_FILE);
  const problems: string[] = [];
  for (const [name, t] of adapter.tensors) {
    const v = wanted.get(name);
    if (!v) problems.push(`${PEFT_PREFIX}${name} is not an adapter of this model`);
    else if (t.shape.join(',') !== v.shape.join(',')) {
      problems.push(`${PEFT_PREFIX}${name} is [${t.shape}], this model's is [${v.shape}]`);
    }
  }
  for (const name of wanted.keys()) if (!adapter.tensors.has(name)) problems.push(`no ${PEFT_PREFIX}${name}`);
  if (problems.length > 0) {
    detachLora(lm);
    throw new Error(
      `${file}: ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? ` (and ${problems.length - 4} more)` : ''}`,
    );
  }
  tf.tidy(() => {
    for (const [name, t] of adapter.tensors) wanted.get(name)!.assign(tf.tensor(t.data, t.shape));
  });
  return lora;
}

/** Removes the adapters: the model is its base again, every weight trainable. */
export function detachLora(lm: CausalLM): void {
  const lora = lm.lora;
  if (!lora) return;
  for (const p of lm.projections().values()) delete p.lora;
  for (const [name, v] of lora.params) {
    lm.params.delete(name);
    v.dispose();
  }
  for (const v of lm.params.values()) v.trainable = true;
  for (const t of lora.originals.values()) t.dispose();
  lm.lora = undefined;
}

/** The model's weights without the adapters' (what `final/` holds as the base model). */
export async function baseWeights(lm: CausalLM): Promise<Map<string, HostTensor>> {
  const all = await exportWeights(lm);
  for (const name of lm.lora?.params.keys() ?? []) all.delete(name);
  // The modules to save as they were: the trained ones are the adapter's (PEFT keeps the base unchanged).
  const originals = [...(lm.lora?.originals ?? [])];
  const values = await Promise.all(originals.map(([, t]) => t.data() as Promise<Float32Array>));
  const parts = new Map(
    originals.map(([n, t], i) => [n, { shape: [...t.shape], data: Float32Array.from(values[i]!) }]),
  );
  for (const [name, t] of mergeParts(lm, parts)) all.set(name, t);
  return all;
}

/** The model's weights as merged: the base with every adapter's delta added and the trained modules to save. */

export async function mergedWeights(lm: CausalLM): Promise<Map<string, HostTensor>> {
  // W + scaling·(B·A), transposed where weights are [in, out]; the modules to save as trained.
  const out = await exportWeights(lm);
  for (const name of lm.lora?.params.keys() ?? []) out.delete(name);
  const lora = lm.lora;
  if (!lora) return out;
  for (const [module, adapter] of lora.modules) {
    const name = `${module}.weight`;
    const base = out.get(name)!;
    const delta = tf.tidy(() => {
      const d = tf.mul(tf.matMul(adapter.B, adapter.A), adapter.scaling); // (out, in)
      return lm.fanInFanOut ? tf.transpose(d) : d;
    });
    const values = (await delta.data()) as Float32Array;
    delta.dispose();
    const data = new Float32Array(base.data.length);
    for (let i = 0; i < data.length; i++) data[i] = base.data[i]! + values[i]!;
    out.set(name, { shape: base.shape, data });
  }
  return out;
}
