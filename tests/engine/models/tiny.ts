// Tiny configs of the three architectures and helpers the model tests share: random weights (norms
// included, so every parameter matters), host-side logits and losses.
import * as tf from '@tensorflow/tfjs-core';
import { causalLMLoss } from '../../../src/engine/loss.js';
import { logicalWeights, loadWeights } from '../../../src/engine/models/index.js';
import type { CausalLM, HFConfig, HostTensor } from '../../../src/engine/models/types.js';
import { Rng } from '../../../src/engine/random.js';

export const VOCAB = 11;

export const gpt2Tiny: HFConfig = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: VOCAB,
  n_positions: 16,
  n_embd: 8,
  n_layer: 2,
  n_head: 2,
  activation_function: 'gelu_new',
};

export const gptNeoTiny: HFConfig = {
  architectures: ['GPTNeoForCausalLM'],
  model_type: 'gpt_neo',
  vocab_size: VOCAB,
  max_position_embeddings: 16,
  hidden_size: 8,
  num_layers: 2,
  num_heads: 2,
  attention_types: [[['global', 'local'], 1]],
  window_size: 2,
  intermediate_size: null,
};

export const llamaTiny: HFConfig = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: VOCAB,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
};

export const TINY: [string, HFConfig][] = [
  ['GPT-2', gpt2Tiny],
  ['GPT-Neo', gptNeoTiny],
  ['Llama', llamaTiny],
];

/** Random weights of the model's own shapes: matrices ~ N(0, scale²), norm weights ~ 1 + N(0, 0.2²), biases ~ N(0, 0.2²). */
export function randomWeights(lm: CausalLM, seed: number, scale = 0.5): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const { name, shape } of logicalWeights(lm)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = /(ln_\d|ln_f|norm|layernorm)\.weight$/.test(name);
    const data = shape.length === 1 ? rng.normalArray(n, isNorm ? 1 : 0, 0.2) : rng.normalArray(n, 0, scale);
    out.set(name, { shape, data });
  }
  return out;
}

export function randomize(lm: CausalLM, seed: number, scale = 0.5): CausalLM {
  loadWeights(lm, randomWeights(lm, seed, scale));
  return lm;
}

export function ids(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');
}

/** Logits on the host, [B][T][V] flattened. */
export function logitsOf(lm: CausalLM, rows: number[][]): Float32Array {
  const x = ids(rows);
  const y = lm.forward(x);
  const data = y.dataSync() as Float32Array;
  tf.dispose([x, y]);
  return data;
}

export function lossOf(lm: CausalLM, rows: number[][], labels: number[][] = rows): number {
  return tf.tidy(() => causalLMLoss(lm.forward(ids(rows)), ids(labels)).loss.dataSync()[0]!);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
