/**
 * GPT-2 (`GPT2LMHeadModel`), as Hugging Face transformers' modeling_gpt2.py: learned positions, pre-norm
 * blocks, Conv1D projections stored [in, out], attention scaled by 1/√head_dim, LM head tied to `wte`.
 * Read bottom-up: config → attention → MLP → block → model.
 */

import * as tf from '@tensorflow/tfjs-core';
import {
  activation,
  count,
  assert,
  attention,
  BaseCausalLM,
  bool,
  causalMask,
  conv1d,
  dropout,
  extendCache,
  layerNorm,
  mergeHeads,
  num,
  type Pass,
  splitHeads,
  str,
  embedding,
} from './layers.js';
import type { HFConfig } from './types.js';

/** GPT2Config, with Hugging Face's default on each field. */
export interface GPT2Config {
  vocabSize: number; // vocab_size = 50257
  nPositions: number; // n_positions = 1024
  nEmbd: number; // n_embd = 768
  nLayer: number; // n_layer = 12
  nHead: number; // n_head = 12
  nInner: number; // n_inner = null → 4 · n_embd
  activation: string; // activation_function = 'gelu_new'
  residPdrop: number; // resid_pdrop = 0.1
  embdPdrop: number; // embd_pdrop = 0.1
  attnPdrop: number; // attn_pdrop = 0.1
  eps: number; // layer_norm_epsilon = 1e-5
  initializerRange: number; // initializer_range = 0.02
  scaleAttnWeights: boolean; // scale_attn_weights = true
  scaleByInverseLayerIdx: boolean; // scale_attn_by_inverse_layer_idx = false
  tied: boolean; // tie_word_embeddings = true
}

export function gpt2Config(c: HFConfig): GPT2Config {
  const nEmbd = count(c, 'n_embd', 768);
  const cfg: GPT2Config = {
    vocabSize: count(c, 'vocab_size', 50257),
    nPositions: count(c, 'n_positions', 1024),
    nEmbd,
    nLayer: count(c, 'n_layer', 12),
    nHead: count(c, 'n_head', 12),
    nInner: count(c, 'n_inner', 4 * nEmbd),
    activation: str(c, 'activation_function', 'gelu_new'),
    residPdrop: num(c, 'resid_pdrop', 0.1),
    embdPdrop: num(c, 'embd_pdrop', 0.1),
    attnPdrop: num(c, 'attn_pdrop', 0.1),
    eps: num(c, 'layer_norm_epsilon', 1e-5),
    initializerRange: num(c, 'initializer_range', 0.02),
    scaleAttnWeights: bool(c, 'scale_attn_weights', true),
    scaleByInverseLayerIdx: bool(c, 'scale_attn_by_inverse_layer_idx', false),
    tied: bool(c, 'tie_word_embeddings', true),
  };
  assert(cfg.nEmbd % cfg.nHead === 0, `config.json: n_embd (${cfg.nEmbd}) must be divisible by n_head (${cfg.nHead})`);
  return cfg;
}

export class GPT2 extends BaseCausalLM {
  readonly architecture = 'GPT2LMHeadModel' as const;
  readonly prefix = 'transformer.';
  readonly cfg: GPT2Config;
  readonly tied: boolean;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  private readonly act: (x: tf.Tensor3D) => tf.Tensor3D;

  constructor(config: HFConfig, seed = 0, initialize = true, maxBytes?: number) {
    super(config, seed, initialize, maxBytes);
    const c = (this.cfg = gpt2Config(config));
    [this.tied, this.vocabSize, this.maxPositions, this.numLayers] = [c.tied, c.vocabSize, c.nPositions, c.nLayer];
    this.act = activation(c.activation);
    const [D, std] = [c.nEmbd, { normal: c.initializerRange }];
    // HF scales the residual projections (every `c_proj.weight`) by 1/√(2·n_layer) at init.
    const projStd = { normal: c.initializerRange / Math.sqrt(2 * c.nLayer) };
    this.param('transformer.wte.weight', [c.vocabSize, D], std, { rows: true });
    this.param('transformer.wpe.weight', [c.nPositions, D], std);
    for (let i = 0; i < c.nLayer; i++) {
      const h = `transformer.h.${i}`;
      this.param(`${h}.ln_1.weight`, [D], 'ones');
      this.param(`${h}.ln_1.bias`, [D], 'zeros');
      this.param(`${h}.attn.c_attn.weight`, [D, 3 * D], std);
      this.param(`${h}.attn.c_attn.bias`, [3 * D], 'zeros');
      this.param(`${h}.attn.c_proj.weight`, [D, D], projStd);
      this.param(`${h}.attn.c_proj.bias`, [D], 'zeros');
      this.param(`${h}.ln_2.weight`, [D], 'ones');
      this.param(`${h}.ln_2.bias`, [D], 'zeros');
      this.param(`${h}.mlp.c_fc.weight`, [D, c.nInner], std);
      this.param(`${h}.mlp.c_fc.bias`, [c.nInner], 'zeros');
      this.param(`${h}.mlp.c_proj.weight`, [c.nInner, D], projStd);
      this.param(`${h}.mlp.c_proj.bias`, [D], 'zeros');
    }
    this.param('transformer.ln_f.weight', [D], 'ones');
    this.param('transformer.ln_f.bias', [D], 'zeros');
    if (!c.tied) this.param('lm_head.weight', [c.vocabSize, D], std, { rows: true });
  }

  private ln(x: tf.Tensor3D, name: string): tf.Tensor3D {
    return layerNorm(x, this.p(`${name}.weight`), this.p(`${name}.bias`), this.cfg.eps);
  }

  private conv(x: tf.Tensor3D, name: string): tf.Tensor3D {
    return conv1d(x, this.p(`${name}.weight`), this.p(`${name}.bias`));
  }

  private attn(x: tf.Tensor3D, i: number, mask: tf.Tensor2D | undefined, pass: Pass): tf.Tensor3D {
    const { nHead, nEmbd, scaleAttnWeights, scaleByInverseLayerIdx, attnPdrop, residPdrop } = this.cfg;
    const qkv = this.conv(x, `transformer.h.${i}.attn.c_attn`); // (B, T, 3C)
    const [q, k, v] = tf.split(qkv, 3, 2).map((t) => splitHeads(t as tf.Tensor3D, nHead)) as tf.Tensor4D[]; // (B, nh, T, hs)
    const [kAll, vAll] = extendCache(pass, i, k!, v!); // (B, nh, S, hs)
    const scale = (scaleAttnWeights ? 1 / Math.sqrt(nEmbd / nHead) : 1) / (scaleByInverseLayerIdx ? i + 1 : 1);
    const y = attention(q!, kAll, vAll, mask, scale, attnPdrop, pass); // (B, nh, T, hs)
    return dropout(this.conv(mergeHeads(y), `transformer.h.${i}.attn.c_proj`), residPdrop, pass); // (B, T, C)
  }

  private mlp(x: tf.Tensor3D, i: number, pass: Pass): tf.Tensor3D {
    const h = this.act(this.conv(x, `transformer.h.${i}.mlp.c_fc`)); // (B, T, n_inner)
    return dropout(this.conv(h, `transformer.h.${i}.mlp.c_proj`), this.cfg.residPdrop, pass); // (B, T, C)
  }

  private block(x: tf.Tensor3D, i: number, mask: tf.Tensor2D | undefined, pass: Pass): tf.Tensor3D {
    const a: tf.Tensor3D = tf.add(x, this.attn(this.ln(x, `transformer.h.${i}.ln_1`), i, mask, pass)); // (B, T, C)
    return tf.add(a, this.mlp(this.ln(a, `transformer.h.${i}.ln_2`), i, pass));
  }

  protected logits(idx: tf.Tensor2D, pass: Pass): tf.Tensor3D {
    const [B, T] = idx.shape;
    const { past } = pass;
    assert(
      past + T <= this.maxPositions,
      () => `Cannot forward ${T} tokens after ${past} cached ones: n_positions is only ${this.maxPositions}`,
    );
    const tok = tf.reshape(embedding(this.weight('transformer.wte.weight'), tf.reshape(idx, [-1])), [B, T, -1]); // (B, T, C)
    const pos = tf.slice(this.p('transformer.wpe.weight'), [past, 0], [T, -1]); // (T, C)
    let x = dropout(tf.add(tok, pos) as tf.Tensor3D, this.cfg.embdPdrop, pass); // (B, T, C)
    const mask = causalMask(T, past); // (T, S)
    for (let i = 0; i < this.numLayers; i++) x = this.block(x, i, mask, pass);
    return this.lmHead(this.ln(x, 'transformer.ln_f'), 'transformer.wte.weight'); // (B, T, V)
  }
}
