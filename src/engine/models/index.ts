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
import { GPT2 } from './gpt2.js';
import { GPTNeo } from './gpt_neo.js';
import { BaseCausalLM } from './layers.js';
import { Llama } from './llama.js';
import type { Architecture, CausalLM, HFConfig, HostTensor } from './types.js';

export { GPT2 } from './gpt2.js';
export { GPTNeo } from './gpt_neo.js';
export { Llama } from './llama.js';

export interface CreateModelOptions {
  /** Seed of the initial weights (default 0): the same config and seed give the same model. */
  seed?: number;
  /**
   * Draw the initial weights (default true). False starts every parameter at zero, which skips the draw
   * (seconds for a 100M-parameter model) when a checkpoint is loaded right after.
   */
  initialize?: boolean;
}

const BY_ARCHITECTURE: Record<
  Architecture,
  new (config: HFConfig, seed?: number, initialize?: boolean) => BaseCausalLM
> = {
  GPT2LMHeadModel: GPT2,
  GPTNeoForCausalLM: GPTNeo,
  LlamaForCausalLM: Llama,
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
  return new BY_ARCHITECTURE[architectureOf(config)](config, options.seed ?? 0, options.initialize ?? true);
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

/**
 * Copies checkpoint tensors into the model's parameters. Nothing is assigned unless every parameter is
 * found with the right shape; otherwise the error lists missing, unexpected and mis-shaped tensors.
 */
export function loadWeights(model: CausalLM, tensors: Map<string, HostTensor>): void {
  const prefix = prefixOf(model);
  const found = new Map<string, HostTensor>();
  const unexpected: string[] = [];
  const mismatched: string[] = [];
  for (const [name, t] of tensors) {
    const key = model.params.has(name) ? name : model.params.has(prefix + name) ? prefix + name : undefined;
    if (key === undefined) {
      // A tied checkpoint may still carry lm_head.weight (a copy of the embeddings); buffers are not weights.
      if (name === 'lm_head.weight' || BUFFERS.some((re) => re.test(name))) continue;
      unexpected.push(name);
      continue;
    }
    const expected = model.params.get(key)!.shape;
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      mismatched.push(`${key}: checkpoint has ${fmt(t.shape)}, config expects ${fmt(expected)}`);
    } else if (t.data.length !== size) {
      mismatched.push(`${key}: checkpoint data holds ${t.data.length} values, its shape ${fmt(t.shape)} needs ${size}`);
    } else {
      found.set(key, t);
    }
  }
  const missing = [...model.params.keys()].filter(
    (n) => !found.has(n) && !mismatched.some((m) => m.startsWith(`${n}:`)),
  );
  if (missing.length > 0 || unexpected.length > 0 || mismatched.length > 0) {
    const parts = [
      mismatched.length > 0 && `shape mismatches:\n  ${mismatched.join('\n  ')}`,
      missing.length > 0 && `missing tensors: ${missing.join(', ')}`,
      unexpected.length > 0 && `unexpected tensors: ${unexpected.join(', ')}`,
    ].filter(Boolean);
    throw new Error(`the checkpoint does not fit this ${model.architecture} config:\n${parts.join('\n')}`);
  }
  for (const [name, t] of found) {
    const v = model.params.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
}

/** Every parameter as a host tensor under its full Hugging Face name; a tied lm_head is left out (as save_pretrained). */
export function exportWeights(model: CausalLM): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, v] of model.params) {
    out.set(name, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
  }
  return out;
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
