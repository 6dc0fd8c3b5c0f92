/**
 * Models as Hugging Face folders: config.json + model.safetensors (or shards) + tokenizer files. Loading
 * (pretrained or a fresh model from a config), saving atomically in the same layout, and the model info
 * that `log_model` and the app show.
 */

import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { replaceDir, writeFileAtomic, type Model, type ModelInfo } from '../core/index.js';
import { baseWeights, mergedWeights, writePeftAdapter } from './lora.js';
import { countParameters, createModel, exportWeights, loadWeights, logicalWeights } from './models/index.js';
import type { CausalLM, HFConfig } from './models/types.js';
import { readSafetensorsFolder, writeSafetensors } from './safetensors.js';
import type { EngineTokenizer } from './tokenizer.js';

/** The SDK `Model` that Dumbo's engine plugins hand around: the tfjs model inside. */
export interface EngineModel extends Model {
  readonly lm: CausalLM;
  /** The folder it was loaded from (absent for a model made from a config alone). */
  readonly sourceDir?: string;
  readonly config: HFConfig;
}

/** Recognises an engine model by shape (it may come from another copy of the engine). */
export function isEngineModel(model: unknown): model is EngineModel {
  const m = model as EngineModel;
  return typeof m === 'object' && m !== null && typeof m.lm?.forward === 'function' && m.lm.params instanceof Map;
}

export function readConfig(dir: string): HFConfig {
  const file = path.join(dir, 'config.json');
  if (!existsSync(file)) throw new Error(`${dir}: no config.json (is this a Hugging Face model folder?)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HFConfig;
  } catch (error) {
    throw new Error(`${file}: invalid JSON: ${(error as Error).message}`, { cause: error });
  }
}

export function wrapModel(lm: CausalLM, sourceDir?: string, backend?: string): EngineModel {
  return {
    architecture: lm.architecture,
    config: lm.config,
    lm,
    sourceDir,
    info: () => describeModel(lm, backend),
  };
}

/** A fresh, seeded model from a config (how the quickstart starts). */
export function modelFromConfig(config: HFConfig, seed: number, backend?: string): EngineModel {
  return wrapModel(createModel(config, { seed }), undefined, backend);
}

/** config.json's mark of a model whose LoRA adapter (in the same folder) is merged into its weights. */
export const MERGED_ADAPTER_KEY = 'dumbo_lora_merged';

/** A model with its weights from a Hugging Face folder. */
export async function loadPretrained(dir: string, seed: number, backend?: string): Promise<EngineModel> {
  const config = readConfig(dir);
  const lm = createModel(config, { seed });
  try {
    const { tensors } = await readSafetensorsFolder(dir);
    // A LoRA run's checkpoint keeps its adapters among the weights (for an exact resume); they are also in its
    // adapter files, which `--adapter` / `lora: {adapter}` apply: the model itself is the base.
    if (existsSync(path.join(dir, 'adapter_config.json'))) {
      for (const name of [...tensors.keys()]) if (/\.lora_[AB]\.weight$/.test(name)) tensors.delete(name);
    }
    loadWeights(lm, tensors);
  } catch (error) {
    lm.dispose();
    throw error;
  }
  return wrapModel(lm, dir, backend);
}

export function describeModel(lm: CausalLM, backend?: string): ModelInfo {
  const { total, trainable } = countParameters(lm);
  const layers = logicalWeights(lm).map((w) => ({
    name: w.name,
    shape: w.shape,
    parameters: w.shape.reduce((a, b) => a * b, 1),
    trainable: w.vars[0]!.trainable,
  }));
  return {
    architecture: lm.architecture,
    modelType: lm.config.model_type,
    layers: lm.numLayers,
    vocabSize: lm.vocabSize,
    maxPositions: lm.maxPositions,
    parametersTotal: total,
    parametersTrainable: trainable,
    bytes: total * 4,
    dtype: 'float32',
    backend,
    tensors: layers,
  };
}

/**
 * Writes a Hugging Face folder (config.json, model.safetensors, tokenizer files) atomically: everything
 * goes to a temporary folder beside `dir`, which then replaces `dir`. A model with LoRA adapters is written
 * as its base (or merged, with `mergeOnSave`) weights plus the adapter in PEFT's files.
 */
export async function savePretrained(lm: CausalLM, dir: string, tokenizer?: EngineTokenizer): Promise<void> {
  const weights = !lm.lora
    ? await exportWeights(lm)
    : lm.lora.mergeOnSave
      ? await mergedWeights(lm)
      : await baseWeights(lm);
  const parent = path.dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.tmp-${path.basename(dir)}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const config: Record<string, unknown> = { ...lm.config, architectures: [lm.architecture], torch_dtype: 'float32' };
    // Merged weights with the adapter's files beside them: said in config.json, so the adapter is not applied twice.
    if (lm.lora?.mergeOnSave) config[MERGED_ADAPTER_KEY] = true;
    writeFileAtomic(path.join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    writeSafetensors(path.join(tmp, 'model.safetensors'), weights, { format: 'pt' });
    if (lm.lora) await writePeftAdapter(lm, tmp);
    if (tokenizer) {
      for (const f of tokenizer.files) copyFileSync(path.join(tokenizer.sourceDir, f), path.join(tmp, f));
    }
    const gen: Record<string, unknown> = {};
    for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (config[k] !== undefined) gen[k] = config[k];
    writeFileAtomic(path.join(tmp, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
    // The old folder moves aside before the new one moves in, so an interruption leaves one of them whole
    // (the run host's recoverRunFolder puts an orphaned old one back at the next start).
    replaceDir(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
