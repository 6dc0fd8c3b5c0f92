/**
 * Reading a Hugging Face config.json: typed fields with their defaults, each wrong value an error naming its
 * key, and the facts every architecture's parsed config gives under one name (`CommonConfig`).
 */

import type { HFConfig } from './types.js';

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(typeof message === 'string' ? message : message());
}

/**
 * What every parsed config says, under one name whatever config.json calls it (`n_embd`, `hidden_size`): the
 * model's base class and the run estimate read these.
 */
export interface CommonConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Longest sequence the position embeddings (or the RoPE config) allow. */
  maxPositions: number;
  /** The LM head is the token embedding matrix (tie_word_embeddings). */
  tied: boolean;
  /** The MLP's activation, by its Hugging Face name (activation_function, hidden_act). */
  activation: string;
}

/** A numeric config.json field, with its Hugging Face default; a wrong type is an error naming the key. */
export function num(config: HFConfig, key: string, fallback: number): number {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  assert(typeof v === 'number' && Number.isFinite(v), `config.json: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The config.json fields that are sizes or counts in the architectures this engine builds (GPT-2, GPT-Neo,
 * Llama). `count` reads them; the transformers plugin's schema checks overrides of them (`model.config:
 * {n_layer: 0}`) when the config is validated, before any weights exist.
 */
export const MODEL_COUNT_FIELDS = [
  'vocab_size',
  'n_positions',
  'n_embd',
  'n_layer',
  'n_head',
  'n_inner',
  'max_position_embeddings',
  'hidden_size',
  'num_layers',
  'num_heads',
  'window_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
] as const;

/** A size or count (layers, heads, widths, vocabulary, positions): a whole number, at least 1. */
export function count(config: HFConfig, key: string, fallback: number): number {
  const v = num(config, key, fallback);
  assert(
    Number.isInteger(v) && v >= 1,
    `config.json: ${key} must be a whole number, at least 1, got ${JSON.stringify(v)}`,
  );
  return v;
}

export function str(config: HFConfig, key: string, fallback: string): string {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  assert(typeof v === 'string', `config.json: ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

export function bool(config: HFConfig, key: string, fallback: boolean): boolean {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  assert(typeof v === 'boolean', `config.json: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}
