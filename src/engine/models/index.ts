/**
 * The model architectures (GPT-2, GPT-Neo, Llama) behind one interface (`CausalLM`, types.ts), and the
 * mechanical copy between a model and a checkpoint: every parameter is named and shaped exactly as in
 * Hugging Face transformers, so loading and saving transpose nothing.
 *
 * Loading accepts what real checkpoints hold, as transformers' from_pretrained does: names with or without
 * the base-model prefix (`transformer.`, `model.`), a missing tied `lm_head.weight`, and non-parameter
 * buffers (attention masks, rotary inv_freq), which are ignored. Anything else that does not fit the config
 * is an error naming every missing, unexpected and mis-shaped tensor.
 */

import * as tf from '@tensorflow/tfjs-core';
import { BaseCausalLM } from './base.js';
import type { CommonConfig } from './config.js';
import { GPT2, gpt2Config, gpt2ParamShapes, gpt2Weights } from './gpt2.js';
import { GPTNeo, gptNeoConfig, gptNeoParamShapes, gptNeoWeights } from './gpt_neo.js';
import { Llama, llamaConfig, llamaParamShapes, llamaWeights } from './llama.js';
import type { Architecture, CausalLM, HFConfig, HostTensor } from './types.js';
import {
  instantiate,
  type InstantiateOptions,
  type Instantiated,
  type ParamShape,
  type Weights,
  type WeightTree,
} from './weights.js';

export { MODEL_COUNT_FIELDS, type CommonConfig } from './config.js';
export { GPT2, gpt2Config, gpt2ParamShapes, type GPT2Config } from './gpt2.js';
export { GPTNeo, gptNeoConfig, gptNeoParamShapes, type GPTNeoConfig } from './gpt_neo.js';
export { Llama, llamaConfig, llamaParamShapes, type LlamaConfig } from './llama.js';
export type { ParamShape } from './weights.js';

export interface CreateModelOptions {
  /** Seed of the initial weights (default 0): the same config and seed give the same model. */
  seed?: number;
  /**
   * Draw the initial weights (default true). False starts every parameter at zero, which skips the draw
   * (seconds for a 100M-parameter model) when a checkpoint is loaded right after.
   */
  initialize?: boolean;
  /**
   * Weights larger than this many bytes are stored in row parts when they can be (embeddings, LM head) and
   * refused otherwise. Default: what the running backend binds in one kernel (Infinity but on WebGPU).
   */
  maxTensorBytes?: number;
}

/** What each architecture provides: its model built from a config, its config parser, its weights' shapes. */
interface ArchitectureEntry {
  create: (config: HFConfig, options: InstantiateOptions) => CausalLM;
  parseConfig: (config: HFConfig) => CommonConfig;
  paramShapes: (config: HFConfig) => ParamShape[];
}

/**
 * An architecture's entry from its parts: the model is built by parsing the config, then creating the declared
 * weights once the model's constructor has checked what it must (the compiler checks that the declaration's
 * variables have the shape the model reads).
 */
function entry<C extends CommonConfig, T extends WeightTree>(
  model: new (config: HFConfig, cfg: C, create: () => Instantiated<Weights<T>>) => CausalLM,
  parseConfig: (config: HFConfig) => C,
  declare: (cfg: C) => T,
  paramShapes: (config: HFConfig) => ParamShape[],
): ArchitectureEntry {
  const create = (config: HFConfig, options: InstantiateOptions) => {
    const cfg = parseConfig(config);
    return new model(config, cfg, () => instantiate(declare(cfg), options));
  };
  return { create, parseConfig, paramShapes };
}

const BY_ARCHITECTURE: Record<Architecture, ArchitectureEntry> = {
  GPT2LMHeadModel: entry(GPT2, gpt2Config, gpt2Weights, gpt2ParamShapes),
  GPTNeoForCausalLM: entry(GPTNeo, gptNeoConfig, gptNeoWeights, gptNeoParamShapes),
  LlamaForCausalLM: entry(Llama, llamaConfig, llamaWeights, llamaParamShapes),
};

const BY_MODEL_TYPE: Record<string, Architecture> = {
  gpt2: 'GPT2LMHeadModel',
  gpt_neo: 'GPTNeoForCausalLM',
  llama: 'LlamaForCausalLM',
};

export const SUPPORTED_ARCHITECTURES = Object.keys(BY_ARCHITECTURE) as Architecture[];

/** The architecture a config names: `architectures[0]` if it is one we implement, else `model_type`. */
export function architectureOf(config: HFConfig): Architecture {
  const named = config.architectures?.[0];
  if (named && named in BY_ARCHITECTURE) return named as Architecture;
  const byType = config.model_type ? BY_MODEL_TYPE[config.model_type] : undefined;
  if (byType) return byType;
  const what = [named && `architecture "${named}"`, config.model_type && `model_type "${config.model_type}"`]
    .filter(Boolean)
    .join(', ');
  throw new Error(
    `config.json: unsupported model (${what || 'no architectures or model_type given'}): Dumbo implements ` +
      `${SUPPORTED_ARCHITECTURES.join(', ')} (model_type ${Object.keys(BY_MODEL_TYPE).join(', ')})`,
  );
}

/** A fresh model, initialized as Hugging Face's `_init_weights` does, from a seeded generator. */
export function createModel(config: HFConfig, options: CreateModelOptions = {}): CausalLM {
  return BY_ARCHITECTURE[architectureOf(config)].create(config, {
    seed: options.seed ?? 0,
    initialize: options.initialize ?? true,
    maxBytes: options.maxTensorBytes,
  });
}

/**
 * Every weight the model of this config holds, by Hugging Face name and shape, in order (a tied LM head once,
 * under the embeddings' name): the same list the model's constructor creates its variables from, made without
 * a tensor (a 7B model would need 28 GB just to be counted).
 */
export function paramShapes(config: HFConfig): ParamShape[] {
  return BY_ARCHITECTURE[architectureOf(config)].paramShapes(config);
}

/** The config parsed with Hugging Face's defaults, seen through what every architecture's config has (sizes, tying, activation). */
export function commonConfig(config: HFConfig): CommonConfig {
  return BY_ARCHITECTURE[architectureOf(config)].parseConfig(config);
}

function prefixOf(model: CausalLM): string {
  return model instanceof BaseCausalLM
    ? model.prefix
    : model.architecture === 'LlamaForCausalLM'
      ? 'model.'
      : 'transformer.';
}

/** Checkpoint tensors that are buffers, not parameters: transformers ignores them when loading, and so do we. */
const BUFFERS = [/\.attn\.(bias|masked_bias)$/, /\.attn\.attention\.(bias|masked_bias)$/, /\.rotary_emb\.inv_freq$/];

const fmt = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** A weight under its Hugging Face name: its full shape and the variables holding it (itself, or row parts). */
export interface LogicalWeight {
  name: string;
  shape: number[];
  vars: tf.Variable[];
}

/** The model's weights as the checkpoint names them, whether or not the backend made it split some. */
export function logicalWeights(model: CausalLM): LogicalWeight[] {
  const parts = model.parts ?? new Map<string, { shape: number[]; names: string[] }>();
  const partOf = new Map<string, string>();
  for (const [name, p] of parts) for (const n of p.names) partOf.set(n, name);
  const out: LogicalWeight[] = [];
  for (const [name, v] of model.params) {
    const whole = partOf.get(name);
    if (whole === undefined) out.push({ name, shape: [...v.shape], vars: [v] });
    else if (parts.get(whole)!.names[0] === name) {
      out.push({
        name: whole,
        shape: [...parts.get(whole)!.shape],
        vars: parts.get(whole)!.names.map((n) => model.params.get(n)!),
      });
    }
  }
  return out;
}

/**
 * Host tensors keyed by parameter (part names `W[a:b]`, with an optional suffix such as `.exp_avg`) merged into
 * the whole weights' names: what a checkpoint holds, the same on every backend.
 */
export function mergeParts(model: CausalLM, tensors: Map<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map(tensors);
  for (const [name, p] of model.parts ?? []) {
    const suffixes = new Set<string>();
    for (const key of tensors.keys()) if (key.startsWith(p.names[0]!)) suffixes.add(key.slice(p.names[0]!.length));
    for (const suffix of suffixes) {
      const pieces = p.names.map((n) => tensors.get(n + suffix));
      if (pieces.some((x) => x === undefined)) continue;
      const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
      let at = 0;
      for (const x of pieces) {
        data.set(x!.data, at);
        at += x!.data.length;
      }
      for (const n of p.names) out.delete(n + suffix);
      out.set(name + suffix, { shape: [...p.shape], data });
    }
  }
  return out;
}

/** The inverse of `mergeParts`: whole weights (with any suffix) cut into the model's row parts. */
export function splitParts(model: CausalLM, tensors: Map<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map(tensors);
  for (const [name, p] of model.parts ?? []) {
    for (const [key, t] of tensors) {
      if (key !== name && !(key.startsWith(name) && /^\.[\w.]+$/.test(key.slice(name.length)))) continue;
      const suffix = key.slice(name.length);
      if (t.shape.join(',') !== p.shape.join(',')) continue; // reported as a shape mismatch by the caller
      const rowSize = t.data.length / p.shape[0]!;
      out.delete(key);
      for (const n of p.names) {
        const [start, end] = /\[(\d+):(\d+)\]$/.exec(n)!.slice(1).map(Number) as [number, number];
        out.set(n + suffix, {
          shape: [end - start, ...p.shape.slice(1)],
          data: t.data.subarray(start * rowSize, end * rowSize),
        });
      }
    }
  }
  return out;
}

/**
 * Copies checkpoint tensors into the model's parameters. Nothing is assigned unless every parameter is
 * found with the right shape; otherwise the error lists missing, unexpected and mis-shaped tensors.
 */
export function loadWeights(model: CausalLM, tensors: Map<string, HostTensor>): void {
  const prefix = prefixOf(model);
  const weights = new Map(logicalWeights(model).map((w) => [w.name, w]));
  const found = new Map<string, HostTensor>();
  const unexpected: string[] = [];
  const mismatched: string[] = [];
  for (const [name, t] of tensors) {
    const key = weights.has(name) ? name : weights.has(prefix + name) ? prefix + name : undefined;
    if (key === undefined) {
      // A tied checkpoint may still carry lm_head.weight (a copy of the embeddings); buffers are not weights.
      if (name === 'lm_head.weight' || BUFFERS.some((re) => re.test(name))) continue;
      unexpected.push(name);
      continue;
    }
    const expected = weights.get(key)!.shape;
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      mismatched.push(`${key}: checkpoint has ${fmt(t.shape)}, config expects ${fmt(expected)}`);
    } else if (t.data.length !== size) {
      mismatched.push(`${key}: checkpoint data holds ${t.data.length} values, its shape ${fmt(t.shape)} needs ${size}`);
    } else {
      found.set(key, t);
    }
  }
  const missing = [...weights.keys()].filter((n) => !found.has(n) && !mismatched.some((m) => m.startsWith(`${n}:`)));
  if (missing.length > 0 || unexpected.length > 0 || mismatched.length > 0) {
    const parts = [
      mismatched.length > 0 && `shape mismatches:\n  ${mismatched.join('\n  ')}`,
      missing.length > 0 && `missing tensors: ${missing.join(', ')}`,
      unexpected.length > 0 && `unexpected tensors: ${unexpected.join(', ')}`,
    ].filter(Boolean);
    throw new Error(`the checkpoint does not fit this ${model.architecture} config:\n${parts.join('\n')}`);
  }
  for (const [name, t] of splitParts(model, found)) {
    const v = model.params.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
}

/**
 * Every weight as a host tensor under its full Hugging Face name (row parts joined); a tied lm_head is left
 * out (as save_pretrained). Reads all of them at once, asynchronously (the only way WebGPU reads in Node).
 */
export async function exportWeights(model: CausalLM): Promise<Map<string, HostTensor>> {
  const names = [...model.params.keys()];
  const values = await Promise.all([...model.params.values()].map((v) => v.data() as Promise<Float32Array>));
  const out = new Map<string, HostTensor>();
  names.forEach((name, i) => {
    out.set(name, { shape: [...model.params.get(name)!.shape], data: Float32Array.from(values[i]!) });
  });
  return mergeParts(model, out);
}

/** Parameter counts (a tied LM head counts once, as in Hugging Face's num_parameters()). */
export function countParameters(model: CausalLM): { total: number; trainable: number } {
  let total = 0;
  let trainable = 0;
  for (const v of model.params.values()) {
    total += v.size;
    if (v.trainable) trainable += v.size;
  }
  return { total, trainable };
}
