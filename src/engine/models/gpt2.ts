/**
 * GPT-2 (`GPT2LMHeadModel`), as Hugging Face transformers' modeling_gpt2.py: learned positions, pre-norm
 * blocks (gpt_base.ts), Conv1D projections stored [in, out], q/k/v fused in one `c_attn`, attention scaled by
 * 1/√head_dim, LM head tied to `wte`. Read bottom-up: config → weights → attention.
 */

import * as tf from '@tensorflow/tfjs-core';
import { kernel } from '../kernels/registry.js';
import { assert, bool, count, num, str } from './config.js';
import { GPTBase, type GPTConfig, gptWeights } from './gpt_base.js';
import * as L from './layers.js';
import type { HFConfig } from './types.js';
import * as W from './weights.js';

/**
 * GPT2Config, with Hugging Face's default on each field. The shared ones are vocab_size (50257), n_positions
 * (1024), n_embd (768), n_layer (12), n_head (12), tie_word_embeddings (true), activation_function
 * ('gelu_new'), layer_norm_epsilon (1e-5), embd_pdrop (0.1), resid_pdrop (0.1) and initializer_range (0.02).
 */
export interface GPT2Config extends GPTConfig {
  intermediateSize: number; // n_inner = null → 4 · n_embd
  attentionDropout: number; // attn_pdrop = 0.1
  scaleAttnWeights: boolean; // scale_attn_weights = true
  scaleByInverseLayerIdx: boolean; // scale_attn_by_inverse_layer_idx = false
}

export function gpt2Config(c: HFConfig): GPT2Config {
  const hiddenSize = count(c, 'n_embd', 768);
  const cfg: GPT2Config = {
    vocabSize: count(c, 'vocab_size', 50257),
    maxPositions: count(c, 'n_positions', 1024),
    positionsKey: 'n_positions',
    hiddenSize,
    numLayers: count(c, 'n_layer', 12),
    numHeads: count(c, 'n_head', 12),
    intermediateSize: count(c, 'n_inner', 4 * hiddenSize),
    activation: str(c, 'activation_function', 'gelu_new'),
    residDropout: num(c, 'resid_pdrop', 0.1),
    embedDropout: num(c, 'embd_pdrop', 0.1),
    attentionDropout: num(c, 'attn_pdrop', 0.1),
    eps: num(c, 'layer_norm_epsilon', 1e-5),
    initializerRange: num(c, 'initializer_range', 0.02),
    scaleAttnWeights: bool(c, 'scale_attn_weights', true),
    scaleByInverseLayerIdx: bool(c, 'scale_attn_by_inverse_layer_idx', false),
    tied: bool(c, 'tie_word_embeddings', true),
  };
  assert(
    cfg.hiddenSize % cfg.numHeads === 0,
    `config.json: n_embd (${cfg.hiddenSize}) must be divisible by n_head (${cfg.numHeads})`,
  );
  return cfg;
}

/** Every weight, under its Hugging Face name: Conv1D attention and MLP in the shared layout. */
export function gpt2Weights(c: GPT2Config) {
  const [D, I, std] = [c.hiddenSize, c.intermediateSize, c.initializerRange];
  // HF scales the residual projections (every `c_proj.weight`) by 1/√(2·n_layer) at init.
  const projStd = std / Math.sqrt(2 * c.numLayers);
  return gptWeights(c, () => ({
    attn: { c_attn: W.conv1dParams(D, 3 * D, std), c_proj: W.conv1dParams(D, D, projStd) },
    mlp: { c_fc: W.conv1dParams(D, I, std), c_proj: W.conv1dParams(I, D, projStd) },
  }));
}

/** The weights a GPT-2 config gives, by Hugging Face name and shape (no tensor is made). */
export const gpt2ParamShapes = W.paramShapesFor(gpt2Config, gpt2Weights);

type Attention = W.Weights<ReturnType<typeof gpt2Weights>>['transformer']['h'][number]['attn'];

export class GPT2 extends GPTBase<GPT2Config, Attention> {
  readonly architecture = 'GPT2LMHeadModel' as const;
  override readonly fanInFanOut = true; // Conv1D weights [in, out]
  protected readonly project = L.conv1d;

  protected attn(x: tf.Tensor3D, w: Attention, i: number, pass: L.Pass): tf.Tensor3D {
    const { numHeads, hiddenSize, scaleAttnWeights, scaleByInverseLayerIdx, attentionDropout } = this.cfg;
    const qkv = L.conv1d(x, w.c_attn, pass); // (B, T, 3C)
    const [q, k, v] = tf.split(qkv, 3, 2).map((t) => L.splitHeads(t as tf.Tensor3D, numHeads)) as tf.Tensor4D[]; // (B, nh, T, hs)
    const [kAll, vAll] = L.extendCache(pass, i, k!, v!); // (B, nh, S, hs)
    const scale = (scaleAttnWeights ? 1 / Math.sqrt(hiddenSize / numHeads) : 1) / (scaleByInverseLayerIdx ? i + 1 : 1);
    const dropout = L.dropoutDraw(attentionDropout, pass);
    const y = kernel('attention')(q!, kAll, vAll, { scale, dropout }); // (B, nh, T, hs)
    return L.dropout(L.conv1d(L.mergeHeads(y), w.c_proj, pass), this.cfg.residDropout, pass); // (B, T, C)
  }
}
