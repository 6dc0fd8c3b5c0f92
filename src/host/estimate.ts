/**
 * What a run will cost, from its config alone (the app's estimate before Run): parameter counts computed from
 * a Hugging Face config.json without building the model (a 7B model would need 28 GB just to be counted),
 * and the arithmetic that turns parameters, tokens per step and a measured matmul rate into seconds and bytes.
 *
 * Pure functions (plus the engine's config parsers, which hold each architecture's defaults); used by the
 * worker (worker-tasks.ts). May import engine; imported only inside src/host and by tests.
 */

import { gpt2Config } from '../engine/models/gpt2.js';
import { gptNeoConfig } from '../engine/models/gpt_neo.js';
import { architectureOf } from '../engine/models/index.js';
import { llamaConfig } from '../engine/models/llama.js';
import type { HFConfig } from '../engine/models/types.js';

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
  switch (architectureOf(config)) {
    case 'GPT2LMHeadModel': {
      const c = gpt2Config(config);
      const D = c.nEmbd;
      const perLayer =
        2 * D + (D * 3 * D + 3 * D) + (D * D + D) + 2 * D + (D * c.nInner + c.nInner) + (c.nInner * D + D);
      const parameters =
        c.vocabSize * D + c.nPositions * D + c.nLayer * perLayer + 2 * D + (c.tied ? 0 : c.vocabSize * D);
      return {
        parameters,
        layers: c.nLayer,
        hidden: D,
        heads: c.nHead,
        vocab: c.vocabSize,
        maxPositions: c.nPositions,
      };
    }
    case 'GPTNeoForCausalLM': {
      const c = gptNeoConfig(config);
      const [D, I] = [c.hiddenSize, c.intermediateSize];
      const perLayer = 2 * D + 3 * D * D + (D * D + D) + 2 * D + (I * D + I) + (D * I + D);
      const parameters =
        c.vocabSize * D + c.maxPositions * D + c.numLayers * perLayer + 2 * D + (c.tied ? 0 : c.vocabSize * D);
      return {
        parameters,
        layers: c.numLayers,
        hidden: D,
        heads: c.numHeads,
        vocab: c.vocabSize,
        maxPositions: c.maxPositions,
      };
    }
    case 'LlamaForCausalLM': {
      const c = llamaConfig(config);
      const [D, I] = [c.hiddenSize, c.intermediateSize];
      const [q, kv] = [c.numHeads * c.headDim, c.numKVHeads * c.headDim];
      const ab = c.attentionBias ? 1 : 0;
      const mb = c.mlpBias ? 1 : 0;
      const attn = q * D + 2 * kv * D + D * q + ab * (q + 2 * kv + D);
      const mlp = 3 * I * D + mb * (2 * I + D);
      const perLayer = attn + mlp + 2 * D;
      const parameters = c.vocabSize * D + c.numLayers * perLayer + D + (c.tied ? 0 : c.vocabSize * D);
      return {
        parameters,
        layers: c.numLayers,
        hidden: D,
        heads: c.numHeads,
        vocab: c.vocabSize,
        maxPositions: c.maxPositions,
      };
    }
  }
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
  switch (architectureOf(config)) {
    case 'GPT2LMHeadModel': {
      const c = gpt2Config(config);
      return { ...tiny, n_embd: 4 * c.nHead, n_inner: 8, n_positions: Math.min(c.nPositions, 64) };
    }
    case 'GPTNeoForCausalLM': {
      const c = gptNeoConfig(config);
      return { ...tiny, hidden_size: 4 * c.numHeads, intermediate_size: 8, max_position_embeddings: 64 };
    }
    case 'LlamaForCausalLM': {
      const c = llamaConfig(config);
      return { ...tiny, hidden_size: 4 * c.numHeads, head_dim: 4, intermediate_size: 8, max_position_embeddings: 64 };
    }
  }
}
