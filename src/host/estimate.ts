/**
 * What a run will cost, from its config alone (the app's estimate before Run): parameter counts computed from
 * a Hugging Face config.json without building the model (a 7B model would need 28 GB just to be counted),
 * and the arithmetic that turns parameters, tokens per step and a measured matmul rate into seconds and bytes.
 *
 * Pure functions (plus the engine's `paramShapes` and config parsers, which hold each architecture's weights and
 * defaults); used by the worker (worker/estimate.ts, worker/estimate-facts.ts). May import engine; imported only inside src/host and by tests.
 */

import { architectureOf, commonConfig, paramShapes, type HFConfig } from '../engine/index.js';

export interface ModelShape {
  parameters: number;
  layers: number;
  hidden: number;
  heads: number;
  vocab: number;
  maxPositions: number;
}

/** Parameters exactly as the engine's models hold them (a tied LM head counts once), from the config. */
export function modelShape(config: HFConfig): ModelShape {
  const parameters = paramShapes(config).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const c = commonConfig(config);
  return {
    parameters,
    layers: c.numLayers,
    hidden: c.hiddenSize,
    heads: c.numHeads,
    vocab: c.vocabSize,
    maxPositions: c.maxPositions,
  };
}

/** Training FLOPs of one optimizer step: 6 · N · tokens (forward 2·N·t, backward 4·N·t). */
export function stepFlops(parameters: number, tokensPerStep: number): number {
  return 6 * parameters * tokensPerStep;
}

/**
 * Peak memory of training in float32: weights, gradients and AdamW's two moments (16 bytes per parameter),
 * plus the activations kept for the backward pass of one micro-batch (per layer about 34·d + 5·h·T values per
 * token, after Korthikanti et al. 2022, in 4-byte floats) and the logits with their softmax and gradient.
 */
export function trainingMemoryBytes(shape: ModelShape, batchSize: number, seqLen: number): number {
  const tokens = batchSize * seqLen;
  const perLayer = tokens * (34 * shape.hidden + 5 * shape.heads * seqLen) * 4;
  const logits = tokens * shape.vocab * 4 * 3;
  return shape.parameters * 16 + shape.layers * perLayer + logits;
}

/**
 * A model of the same architecture and depth as `config`, tiny in width and vocabulary. One training step of
 * it launches the same kernels as the real model's (their number, not their size, is what the host pays for
 * on a GPU), so timing it measures the backend's fixed cost per step; FLOPs over the measured matmul rate
 * give the rest.
 */
export function tinyClone(config: HFConfig): HFConfig {
  const tiny = { ...config, vocab_size: 64 };
  const c = commonConfig(config);
  switch (architectureOf(config)) {
    case 'GPT2LMHeadModel':
      return { ...tiny, n_embd: 4 * c.numHeads, n_inner: 8, n_positions: Math.min(c.maxPositions, 64) };
    case 'GPTNeoForCausalLM':
      return { ...tiny, hidden_size: 4 * c.numHeads, intermediate_size: 8, max_position_embeddings: 64 };
    case 'LlamaForCausalLM':
      return { ...tiny, hidden_size: 4 * c.numHeads, head_dim: 4, intermediate_size: 8, max_position_embeddings: 64 };
  }
}
