/**
 * Text generation with the KV cache: the prompt is run once (prefill), then one token per step. Sampling
 * follows Hugging Face's logits processors in their order — temperature, then top-k, then top-p — and
 * temperature 0 is greedy. Sampling happens on the host from a seeded generator, so a seed reproduces a
 * sample on any backend.
 *
 * Positions never pass the model's `maxPositions`: a prompt longer than that is an error, and generation is
 * truncated — it stops early and returns what it has — when prompt + new tokens reach maxPositions.
 */

import * as tf from '@tensorflow/tfjs-core';
import { readTensor } from './backend.js';
import type { CausalLM } from './models/types.js';
import { Rng } from './random.js';

export interface GenerateOptions {
  /** New tokens to generate at most. */
  maxNewTokens: number;
  /** Softmax temperature; 0 picks the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or absent: all). */
  topP?: number;
  /** Stop after generating this token (or any of these). */
  eosTokenId?: number | number[];
  /** Seed of the sampler (default 0). */
  seed?: number;
}

/** Index of the largest value (the first one on ties, as torch.argmax). */
function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Draws a token from next-token logits [V] with temperature, top-k and top-p (as HF's warpers). */
export function sampleToken(logits: Float32Array, options: GenerateOptions, rng: Rng): number {
  const temperature = options.temperature ?? 1;
  if (temperature <= 0) return argmax(logits);
  const V = logits.length;
  // Candidates sorted by logit, highest first; top-k keeps ties with the k-th (as HF: logits < kth are removed).
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const topK = options.topK ?? 0;
  if (topK > 0 && topK < V) {
    const kth = logits[order[topK - 1]!]!;
    order = order.filter((i) => logits[i]! >= kth);
  }
  const max = logits[order[0]!]! / temperature;
  const weights = order.map((i) => Math.exp(logits[i]! / temperature - max));
  let total = weights.reduce((a, b) => a + b, 0);
  const topP = options.topP ?? 1;
  if (topP < 1) {
    // Keep the most likely tokens until their mass reaches topP (always at least one).
    let mass = 0;
    let keep = 0;
    while (keep < order.length && (keep === 0 || mass < topP * total)) mass += weights[keep++]!;
    order = order.slice(0, keep);
    weights.length = keep;
    total = mass;
  }
  let u = rng.uniform() * total;
  for (let i = 0; i < order.length; i++) {
    u -= weights[i]!;
    if (u < 0) return order[i]!;
  }
  return order[order.length - 1]!;
}

/**
 * New token ids after `promptIds` (the EOS token included when it ends the sample), deterministic for a seed.
 * One read per new token: the next-token logits, sampled on the host.
 */
export async function generate(model: CausalLM, promptIds: number[], options: GenerateOptions): Promise<number[]> {
  if (promptIds.length === 0) throw new Error('generate: the prompt is empty; give at least one token (e.g. BOS)');
  if (promptIds.length > model.maxPositions) {
    throw new Error(
      `generate: the prompt has ${promptIds.length} tokens, but the model takes at most ${model.maxPositions}`,
    );
  }
  const eos = new Set(options.eosTokenId === undefined ? [] : [options.eosTokenId].flat());
  const rng = new Rng(options.seed ?? 0);
  const cache = model.createCache(1);
  const out: number[] = [];
  try {
    let input = promptIds;
    // The whole sequence (prompt + new tokens) stays within maxPositions, so it can be fed back whole.
    while (out.length < options.maxNewTokens && promptIds.length + out.length < model.maxPositions) {
      const last = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d([input], [1, input.length], 'int32'), { cache }); // (1, T, V)
        return tf.slice(logits, [0, input.length - 1, 0], [1, 1, -1]); // (1, 1, V)
      });
      let data: Float32Array;
      try {
        data = (await readTensor(last)) as Float32Array;
      } finally {
        last.dispose();
      }
      const next = sampleToken(data, options, rng);
      out.push(next);
      if (eos.has(next)) break;
      input = [next];
    }
  } finally {
    cache.dispose();
  }
  return out;
}

/** What `sampleText` needs of a tokenizer. */
export interface SampleTokenizer {
  encode(text: string): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
}

export interface SampledText {
  /** The prompt followed by the continuation. */
  text: string;
  /** The new text alone (special tokens skipped). */
  continuation: string;
  /** The token ids generation started from. */
  promptIds: number[];
}

/**
 * The one way a prompt becomes a sample (the trainer's samples, the CLI's `generate`, the app's Generate):
 * the prompt is encoded as the tokenizer's config says (Llama adds BOS); an empty prompt starts from the BOS
 * token, else from EOS (GPT-2's `<|endoftext|>` is both), and is an error only for a tokenizer with neither.
 * New tokens stop at the model's context; a prompt longer than the context is an error.
 */
export async function sampleText(
  lm: CausalLM,
  tokenizer: SampleTokenizer,
  prompt: string,
  options: Omit<GenerateOptions, 'eosTokenId'>,
): Promise<SampledText> {
  let ids = tokenizer.encode(prompt);
  if (ids.length === 0) {
    const start = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
    if (start === undefined) {
      throw new Error('the prompt is empty and the tokenizer has no BOS or EOS token to start from: give some text');
    }
    ids = [start];
  }
  const room = Math.max(0, lm.maxPositions - ids.length);
  const out = await generate(lm, ids, {
    ...options,
    maxNewTokens: Math.min(options.maxNewTokens, room),
    eosTokenId: tokenizer.eosTokenId,
  });
  // No new token (max 0, or a prompt that fills the context): decode([]) is '' for every tokenizer here.
  const continuation = out.length > 0 ? tokenizer.decode(out, { skipSpecialTokens: true }) : '';
  return { text: prompt + continuation, continuation, promptIds: ids };
}
