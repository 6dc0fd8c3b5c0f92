/**
 * GPT-Neo (`GPTNeoForCausalLM`, e.g. roneneldan/TinyStories-*), as Hugging Face transformers'
 * modeling_gpt_neo.py: GPT-2's layout with nn.Linear projections ([out, in]; q/k/v without bias), attention
 * scores NOT scaled by 1/√head_dim, and layers alternating global and local attention (a local layer lets
 * position i see positions j with i - window_size < j <= i). LM head tied to `wte`.
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
  dropout,
  extendCache,
  layerNorm,
  linear,
  mergeHeads,
  num,
  type Pass,
  splitHeads,
  str,
  embedding,
} from './layers.js';
import type { HFConfig } from './types.js';

export type AttentionType = 'global' | 'local';

/** GPTNeoConfig, with Hugging Face's default on each field. */
export interface GPTNeoConfig {
  vocabSize: number; // vocab_size = 50257
  maxPositions: number; // max_position_embeddings = 2048
  hiddenSize: number; // hidden_size = 2048
  numLayers: number; // num_layers = 24
  numHeads: number; // num_heads = 16
  attentionLayers: AttentionType[]; // attention_types = [[['global', 'local'], 12]], expanded per layer
  intermediateSize: number; // intermediate_size = null → 4 · hidden_size
  windowSize: number; // window_size = 256
  activation: string; // activation_function = 'gelu_new'
  residDropout: number; // resid_dropout = 0
  embedDropout: number; // embed_dropout = 0
  attentionDropout: number; // attention_dropout = 0
  eps: number; // layer_norm_epsilon = 1e-5
  initializerRange: number; // initializer_range = 0.02
  tied: boolean; // tie_word_embeddings = true
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

export class GPTNeo extends BaseCausalLM {
  readonly architecture = 'GPTNeoForCausalLM' as const;
  readonly prefix = 'transformer.';
  readonly cfg: GPTNeoConfig;
  readonly tied: boolean;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  private readonly act: (x: tf.Tensor3D) => tf.Tensor3D;

  constructor(config: HFConfig, seed = 0, initialize = true, maxBytes?: number) {
    super(config, seed, initialize, maxBytes);
    const c = (this.cfg = gptNeoConfig(config));
    [this.tied, this.vocabSize, this.maxPositions, this.numLayers] = [c.tied, c.vocabSize, c.maxPositions, c.numLayers];
    this.act = activation(c.activation);
    const [D, I, std] = [c.hiddenSize, c.intermediateSize, { normal: c.initializerRange }];
    this.param('transformer.wte.weight', [c.vocabSize, D], std, { rows: true });
    this.param('transformer.wpe.weight', [c.maxPositions, D], std);
    for (let i = 0; i < c.numLayers; i++) {
      const h = `transformer.h.${i}`;
      this.param(`${h}.ln_1.weight`, [D], 'ones');
      this.param(`${h}.ln_1.bias`, [D], 'zeros');
      for (const proj of ['k_proj', 'v_proj', 'q_proj']) this.param(`${h}.attn.attention.${proj}.weight`, [D, D], std);
      this.param(`${h}.attn.attention.out_proj.weight`, [D, D], std);
      this.param(`${h}.attn.attention.out_proj.bias`, [D], 'zeros');
      this.param(`${h}.ln_2.weight`, [D], 'ones');
      this.param(`${h}.ln_2.bias`, [D], 'zeros');
      this.param(`${h}.mlp.c_fc.weight`, [I, D], std);
      this.param(`${h}.mlp.c_fc.bias`, [I], 'zeros');
      this.param(`${h}.mlp.c_proj.weight`, [D, I], std);
      this.param(`${h}.mlp.c_proj.bias`, [D], 'zeros');
    }
    this.param('transformer.ln_f.weight', [D], 'ones');
    this.param('transformer.ln_f.bias', [D], 'zeros');
    if (!c.tied) this.param('lm_head.weight', [c.vocabSize, D], std, { rows: true });
  }

  private ln(x: tf.Tensor3D, name: string): tf.Tensor3D {
    return layerNorm(x, this.p(`${name}.weight`), this.p(`${name}.bias`), this.cfg.eps);
  }

  private lin(x: tf.Tensor3D, name: string): tf.Tensor3D {
    return linear(x, this.p(`${name}.weight`), this.params.get(`${name}.bias`));
  }

  private attn(x: tf.Tensor3D, i: number, mask: tf.Tensor2D | undefined, pass: Pass): tf.Tensor3D {
    const a = `transformer.h.${i}.attn.attention`;
    const nh = this.cfg.numHeads;
    const q = splitHeads(this.lin(x, `${a}.q_proj`), nh); // (B, nh, T, hs)
    const k = splitHeads(this.lin(x, `${a}.k_proj`), nh); // (B, nh, T, hs)
    const [kAll, vAll] = extendCache(pass, i, k, splitHeads(this.lin(x, `${a}.v_proj`), nh)); // (B, nh, S, hs)
    const y = attention(q, kAll, vAll, mask, 1, this.cfg.attentionDropout, pass); // unscaled, as GPT-Neo: (B, nh, T, hs)
    return dropout(this.lin(mergeHeads(y), `${a}.out_proj`), this.cfg.residDropout, pass); // (B, T, C)
  }

  private mlp(x: tf.Tensor3D, i: number, pass: Pass): tf.Tensor3D {
    const h = this.act(this.lin(x, `transformer.h.${i}.mlp.c_fc`)); // (B, T, I)
    return dropout(this.lin(h, `transformer.h.${i}.mlp.c_proj`), this.cfg.residDropout, pass); // (B, T, C)
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
      () =>
        `Cannot forward ${T} tokens after ${past} cached ones: max_position_embeddings is only ${this.maxPositions}`,
    );
    const tok = tf.reshape(embedding(this.weight('transformer.wte.weight'), tf.reshape(idx, [-1])), [B, T, -1]); // (B, T, C)
    const pos = tf.slice(this.p('transformer.wpe.weight'), [past, 0], [T, -1]); // (T, C)
    let x = dropout(tf.add(tok, pos) as tf.Tensor3D, this.cfg.embedDropout, pass); // (B, T, C)
    const masks = { global: causalMask(T, past), local: causalMask(T, past, this.cfg.windowSize) }; // (T, S)
    for (let i = 0; i < this.numLayers; i++) x = this.block(x, i, masks[this.cfg.attentionLayers[i]!], pass);
    return this.lmHead(this.ln(x, 'transformer.ln_f'), 'transformer.wte.weight'); // (B, T, V)
  }
}
