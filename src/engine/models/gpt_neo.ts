/**
 * GPT-Neo (`GPTNeoForCausalLM`, e.g. roneneldan/TinyStories-*), as Hugging Face transformers'
 * modeling_gpt_neo.py: GPT-2's layout with nn.Linear projections ([out, in]; q/k/v without bias), attention
 * scores NOT scaled by 1/√head_dim, and layers alternating global and local attention (a local layer lets
 * position i see positions j with i - window_size < j <= i). LM head tied to `wte`.
 * Blocks as GPT-2's (gpt_base.ts). Read bottom-up: config → weights → attention.
 */

import * as tf from '@tensorflow/tfjs-core';
import { kernel } from '../kernels/registry.js';
import { assert, bool, count, num, str } from './config.js';
import { GPTBase, type GPTConfig, gptWeights } from './gpt_base.js';
import * as L from './layers.js';
import type { HFConfig } from './types.js';
import * as W from './weights.js';

export type AttentionType = 'global' | 'local';

/**
 * GPTNeoConfig, with Hugging Face's default on each field. The shared ones are vocab_size (50257),
 * max_position_embeddings (2048), hidden_size (2048), num_layers (24), num_heads (16), tie_word_embeddings
 * (true), activation_function ('gelu_new'), layer_norm_epsilon (1e-5), embed_dropout (0), resid_dropout (0)
 * and initializer_range (0.02).
 */
export interface GPTNeoConfig extends GPTConfig {
  attentionLayers: AttentionType[]; // attention_types = [[['global', 'local'], 12]], expanded per layer
  intermediateSize: number; // intermediate_size = null → 4 · hidden_size
  windowSize: number; // window_size = 256
  attentionDropout: number; // attention_dropout = 0
}

/** [[['global', 'local'], 2]] → ['global', 'local', 'global', 'local'], as GPTNeoConfig.expand_attention_types_params. */
export function expandAttentionTypes(types: unknown): AttentionType[] {
  const bad = () =>
    `config.json: attention_types must look like [[["global", "local"], 12]], got ${JSON.stringify(types)}`;
  assert(Array.isArray(types), bad);
  const layers: AttentionType[] = [];
  for (const item of types) {
    assert(Array.isArray(item) && Array.isArray(item[0]) && typeof item[1] === 'number', bad);
    for (let r = 0; r < item[1]; r++) layers.push(...(item[0] as AttentionType[]));
  }
  return layers;
}

export function gptNeoConfig(c: HFConfig): GPTNeoConfig {
  const hiddenSize = count(c, 'hidden_size', 2048);
  const numLayers = count(c, 'num_layers', 24);
  // config.json may carry the expanded list too (HF then uses it as saved).
  const attentionLayers = Array.isArray(c.attention_layers)
    ? (c.attention_layers as AttentionType[])
    : expandAttentionTypes(c.attention_types ?? [[['global', 'local'], 12]]);
  const cfg: GPTNeoConfig = {
    vocabSize: count(c, 'vocab_size', 50257),
    maxPositions: count(c, 'max_position_embeddings', 2048),
    positionsKey: 'max_position_embeddings',
    hiddenSize,
    numLayers,
    numHeads: count(c, 'num_heads', 16),
    attentionLayers,
    intermediateSize: count(c, 'intermediate_size', 4 * hiddenSize),
    windowSize: count(c, 'window_size', 256),
    activation: str(c, 'activation_function', 'gelu_new'),
    residDropout: num(c, 'resid_dropout', 0),
    embedDropout: num(c, 'embed_dropout', 0),
    attentionDropout: num(c, 'attention_dropout', 0),
    eps: num(c, 'layer_norm_epsilon', 1e-5),
    initializerRange: num(c, 'initializer_range', 0.02),
    tied: bool(c, 'tie_word_embeddings', true),
  };
  assert(
    attentionLayers.length === numLayers,
    `config.json: attention_types expand to ${attentionLayers.length} layers, but num_layers is ${numLayers}`,
  );
  for (const t of attentionLayers) {
    assert(t === 'global' || t === 'local', `config.json: attention type "${t}" is neither "global" nor "local"`);
  }
  assert(
    hiddenSize % cfg.numHeads === 0,
    `config.json: hidden_size (${hiddenSize}) must be divisible by num_heads (${cfg.numHeads})`,
  );
  return cfg;
}

/** Every weight, under its Hugging Face name: nn.Linear attention (q/k/v without bias) and MLP in the shared layout. */
export function gptNeoWeights(c: GPTNeoConfig) {
  const [D, I, std] = [c.hiddenSize, c.intermediateSize, c.initializerRange];
  return gptWeights(c, () => ({
    attn: {
      attention: {
        k_proj: W.linearParams(D, D, std, false),
        v_proj: W.linearParams(D, D, std, false),
        q_proj: W.linearParams(D, D, std, false),
        out_proj: W.linearParams(D, D, std, true),
      },
    },
    mlp: { c_fc: W.linearParams(D, I, std, true), c_proj: W.linearParams(I, D, std, true) },
  }));
}

/** The weights a GPT-Neo config gives, by Hugging Face name and shape (no tensor is made). */
export const gptNeoParamShapes = W.paramShapesFor(gptNeoConfig, gptNeoWeights);

type Attention = W.Weights<ReturnType<typeof gptNeoWeights>>['transformer']['h'][number]['attn'];

export class GPTNeo extends GPTBase<GPTNeoConfig, Attention> {
  readonly architecture = 'GPTNeoForCausalLM' as const;
  protected readonly project = L.linear;

  protected attn(x: tf.Tensor3D, { attention: w }: Attention, i: number, pass: L.Pass): tf.Tensor3D {
    const { numHeads: nh, attentionLayers, windowSize, attentionDropout } = this.cfg;
    const q = L.splitHeads(L.linear(x, w.q_proj, pass), nh); // (B, nh, T, hs)
    const k = L.splitHeads(L.linear(x, w.k_proj, pass), nh); // (B, nh, T, hs)
    const [kAll, vAll] = L.extendCache(pass, i, k, L.splitHeads(L.linear(x, w.v_proj, pass), nh)); // (B, nh, S, hs)
    const y = kernel('attention')(q, kAll, vAll, {
      scale: 1, // unscaled, as GPT-Neo
      window: attentionLayers[i] === 'local' ? windowSize : undefined,
      dropout: L.dropoutDraw(attentionDropout, pass),
    }); // (B, nh, T, hs)
    return L.dropout(L.linear(L.mergeHeads(y), w.out_proj, pass), this.cfg.residDropout, pass); // (B, T, C)
  }
}
