/**
 * Llama (`LlamaForCausalLM`), as Hugging Face transformers' modeling_llama.py: RMSNorm, rotary position
 * embeddings in the rotate_half (non-interleaved) convention, grouped-query attention (num_key_value_heads
 * may be fewer than num_attention_heads), a SwiGLU MLP (down(silu(gate(x)) · up(x))), nn.Linear weights
 * [out, in] without bias, and an LM head that is its own `lm_head.weight` unless tie_word_embeddings.
 * Read bottom-up: config → rotary embedding → attention → MLP → block → model.
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
  extendCache,
  linear,
  num,
  type Pass,
  rmsNorm,
  splitHeads,
  mergeHeads,
  str,
  embedding,
} from './layers.js';
import type { HFConfig } from './types.js';

/** LlamaConfig, with Hugging Face's default on each field. */
export interface LlamaConfig {
  vocabSize: number; // vocab_size = 32000
  hiddenSize: number; // hidden_size = 4096
  intermediateSize: number; // intermediate_size = 11008
  numLayers: number; // num_hidden_layers = 32
  numHeads: number; // num_attention_heads = 32
  numKVHeads: number; // num_key_value_heads = null → num_attention_heads
  headDim: number; // head_dim = null → hidden_size / num_attention_heads
  activation: string; // hidden_act = 'silu'
  maxPositions: number; // max_position_embeddings = 2048
  eps: number; // rms_norm_eps = 1e-6
  ropeTheta: number; // rope_theta = 10000
  ropeScaling: Record<string, unknown> | null; // rope_scaling = null (also: linear, llama3)
  attentionBias: boolean; // attention_bias = false
  mlpBias: boolean; // mlp_bias = false
  attentionDropout: number; // attention_dropout = 0
  initializerRange: number; // initializer_range = 0.02
  padTokenId: number | undefined; // pad_token_id = null: its embedding row starts at zero
  tied: boolean; // tie_word_embeddings = false
}

export function llamaConfig(c: HFConfig): LlamaConfig {
  const hiddenSize = count(c, 'hidden_size', 4096);
  const numHeads = count(c, 'num_attention_heads', 32);
  assert(
    (c.head_dim !== undefined && c.head_dim !== null) || hiddenSize >= numHeads,
    `config.json: hidden_size ${hiddenSize} is smaller than num_attention_heads ${numHeads}, so heads ` +
      'would have no width: set num_attention_heads (default 32) or head_dim',
  );
  const cfg: LlamaConfig = {
    vocabSize: count(c, 'vocab_size', 32000),
    hiddenSize,
    intermediateSize: count(c, 'intermediate_size', 11008),
    numLayers: count(c, 'num_hidden_layers', 32),
    numHeads,
    numKVHeads: count(c, 'num_key_value_heads', numHeads),
    headDim: count(c, 'head_dim', Math.floor(hiddenSize / numHeads)),
    activation: str(c, 'hidden_act', 'silu'),
    maxPositions: count(c, 'max_position_embeddings', 2048),
    eps: num(c, 'rms_norm_eps', 1e-6),
    ropeTheta: num(c, 'rope_theta', 10000),
    ropeScaling: (c.rope_scaling as Record<string, unknown> | null | undefined) ?? null,
    attentionBias: bool(c, 'attention_bias', false),
    mlpBias: bool(c, 'mlp_bias', false),
    attentionDropout: num(c, 'attention_dropout', 0),
    initializerRange: num(c, 'initializer_range', 0.02),
    padTokenId: typeof c.pad_token_id === 'number' ? c.pad_token_id : undefined,
    tied: bool(c, 'tie_word_embeddings', false),
  };
  assert(
    cfg.numHeads % cfg.numKVHeads === 0,
    `config.json: num_attention_heads (${cfg.numHeads}) must be a multiple of num_key_value_heads (${cfg.numKVHeads})`,
  );
  assert(cfg.headDim % 2 === 0, `config.json: head_dim (${cfg.headDim}) must be even for rotary embeddings`);
  return cfg;
}

// ------------------------------------------------------------------------------------- rotary embedding

/**
 * inv_freq[k] = 1 / θ^(2k/d), k < d/2, computed in float32 as Hugging Face does; `rope_scaling` of type
 * `linear` (divides by factor) or `llama3` (Llama 3.1's frequency-dependent scaling) adjusts it.
 */
export function ropeInvFreq(cfg: LlamaConfig): Float64Array {
  const d = cfg.headDim;
  const f = Math.fround;
  const inv = Float64Array.from({ length: d / 2 }, (_, k) => f(1 / f(Math.pow(cfg.ropeTheta, f((2 * k) / d)))));
  const s = cfg.ropeScaling;
  if (!s) return inv;
  const type = String(s.rope_type ?? s.type ?? 'default');
  const factor = Number(s.factor ?? 1);
  if (type === 'default') return inv;
  if (type === 'linear') return inv.map((x) => f(x / factor));
  if (type === 'llama3') {
    const [low, high, old] = [
      Number(s.low_freq_factor),
      Number(s.high_freq_factor),
      Number(s.original_max_position_embeddings),
    ];
    const [lowWavelen, highWavelen] = [old / low, old / high];
    return inv.map((x) => {
      const wavelen = (2 * Math.PI) / x;
      if (wavelen < highWavelen) return x;
      if (wavelen > lowWavelen) return f(x / factor);
      const smooth = (old / wavelen - low) / (high - low);
      return f((1 - smooth) * (x / factor) + smooth * x);
    });
  }
  throw new Error(`config.json: rope_scaling type "${type}" is not supported (use none, linear or llama3)`);
}

/** cos and sin (T, hs) for positions past..past+T-1: each frequency twice, [f0..f_{d/2-1}, f0..f_{d/2-1}]. */
export function ropeTables(invFreq: Float64Array, past: number, T: number): [tf.Tensor2D, tf.Tensor2D] {
  const half = invFreq.length;
  const cos = new Float32Array(T * 2 * half);
  const sin = new Float32Array(T * 2 * half);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < half; k++) {
      const angle = Math.fround((past + t) * invFreq[k]!);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      [cos[t * 2 * half + k], cos[t * 2 * half + half + k]] = [c, c];
      [sin[t * 2 * half + k], sin[t * 2 * half + half + k]] = [s, s];
    }
  }
  return [tf.tensor2d(cos, [T, 2 * half]), tf.tensor2d(sin, [T, 2 * half])];
}

/**
 * The tables of positions 0..P-1 kept on the device, grown (to twice the size, or what is asked) when a
 * longer sequence comes; each forward slices its positions out, so nothing is built on the host per step.
 */
export class RopeCache {
  private tables: { backend: string; cos: tf.Tensor2D; sin: tf.Tensor2D } | undefined;

  constructor(private readonly invFreq: Float64Array) {}

  /** cos and sin (T, hs) for positions past..past+T-1 (slices of the kept tables). */
  get(past: number, T: number): [tf.Tensor2D, tf.Tensor2D] {
    const need = past + T;
    const backend = tf.getBackend();
    let t = this.tables;
    if (!t || t.backend !== backend || t.cos.shape[0] < need) {
      const size = Math.max(need, t && t.backend === backend ? 2 * t.cos.shape[0] : 0);
      const [cos, sin] = ropeTables(this.invFreq, 0, size);
      this.dispose(); // slices taken earlier copy or share (refcounted) the data: safe to drop
      t = this.tables = { backend, cos: tf.keep(cos), sin: tf.keep(sin) };
    }
    return [tf.slice(t.cos, [past, 0], [T, -1]), tf.slice(t.sin, [past, 0], [T, -1])];
  }

  dispose(): void {
    if (this.tables) tf.dispose([this.tables.cos, this.tables.sin]);
    this.tables = undefined;
  }
}

/** x·cos + rotate_half(x)·sin, where rotate_half([x1, x2]) = [-x2, x1] over the two halves of the last axis. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const [x1, x2] = tf.split(x, 2, 3); // (B, nh, T, hs/2) each
  const rotated = tf.concat([tf.neg(x2!), x1!], 3); // (B, nh, T, hs)
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

// ------------------------------------------------------------------------------------------------ model

export class Llama extends BaseCausalLM {
  readonly architecture = 'LlamaForCausalLM' as const;
  readonly prefix = 'model.';
  readonly cfg: LlamaConfig;
  readonly tied: boolean;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  private readonly act: (x: tf.Tensor3D) => tf.Tensor3D;
  private readonly rope: RopeCache;

  constructor(config: HFConfig, seed = 0, initialize = true, maxBytes?: number) {
    super(config, seed, initialize, maxBytes);
    const c = (this.cfg = llamaConfig(config));
    [this.tied, this.vocabSize, this.maxPositions, this.numLayers] = [c.tied, c.vocabSize, c.maxPositions, c.numLayers];
    this.act = activation(c.activation);
    this.rope = new RopeCache(ropeInvFreq(c));
    const [D, I, std] = [c.hiddenSize, c.intermediateSize, { normal: c.initializerRange }];
    const [qDim, kvDim] = [c.numHeads * c.headDim, c.numKVHeads * c.headDim];
    const linearParam = (name: string, out: number, inp: number, bias: boolean) => {
      this.param(`${name}.weight`, [out, inp], std);
      if (bias) this.param(`${name}.bias`, [out], 'zeros');
    };
    const pad = c.padTokenId;
    this.param('model.embed_tokens.weight', [c.vocabSize, D], std, {
      rows: true,
      // nn.Embedding(padding_idx): that row starts at zero.
      edit: (data) => {
        if (pad !== undefined && pad >= 0 && pad < c.vocabSize) data.fill(0, pad * D, (pad + 1) * D);
      },
    });
    for (let i = 0; i < c.numLayers; i++) {
      const l = `model.layers.${i}`;
      linearParam(`${l}.self_attn.q_proj`, qDim, D, c.attentionBias);
      linearParam(`${l}.self_attn.k_proj`, kvDim, D, c.attentionBias);
      linearParam(`${l}.self_attn.v_proj`, kvDim, D, c.attentionBias);
      linearParam(`${l}.self_attn.o_proj`, D, qDim, c.attentionBias);
      linearParam(`${l}.mlp.gate_proj`, I, D, c.mlpBias);
      linearParam(`${l}.mlp.up_proj`, I, D, c.mlpBias);
      linearParam(`${l}.mlp.down_proj`, D, I, c.mlpBias);
      this.param(`${l}.input_layernorm.weight`, [D], 'ones');
      this.param(`${l}.post_attention_layernorm.weight`, [D], 'ones');
    }
    this.param('model.norm.weight', [D], 'ones');
    if (!c.tied) this.param('lm_head.weight', [c.vocabSize, D], std, { rows: true });
  }

  private norm(x: tf.Tensor3D, name: string): tf.Tensor3D {
    return rmsNorm(x, this.p(`${name}.weight`), this.cfg.eps);
  }

  private lin(x: tf.Tensor3D, name: string): tf.Tensor3D {
    return linear(x, this.p(`${name}.weight`), this.params.get(`${name}.bias`));
  }

  private attn(
    x: tf.Tensor3D,
    i: number,
    rope: [tf.Tensor2D, tf.Tensor2D],
    mask: tf.Tensor2D | undefined,
    pass: Pass,
  ): tf.Tensor3D {
    const { numHeads, numKVHeads, headDim, attentionDropout } = this.cfg;
    const a = `model.layers.${i}.self_attn`;
    const q = applyRope(splitHeads(this.lin(x, `${a}.q_proj`), numHeads), ...rope); // (B, nh, T, hs)
    const k = applyRope(splitHeads(this.lin(x, `${a}.k_proj`), numKVHeads), ...rope); // (B, nkv, T, hs)
    const [kAll, vAll] = extendCache(pass, i, k, splitHeads(this.lin(x, `${a}.v_proj`), numKVHeads)); // (B, nkv, S, hs)
    const y = attention(q, kAll, vAll, mask, 1 / Math.sqrt(headDim), attentionDropout, pass); // (B, nh, T, hs)
    return this.lin(mergeHeads(y), `${a}.o_proj`); // (B, T, C)
  }

  private mlp(x: tf.Tensor3D, i: number): tf.Tensor3D {
    const m = `model.layers.${i}.mlp`;
    const h: tf.Tensor3D = tf.mul(this.act(this.lin(x, `${m}.gate_proj`)), this.lin(x, `${m}.up_proj`)); // (B, T, I)
    return this.lin(h, `${m}.down_proj`); // (B, T, C)
  }

  private block(
    x: tf.Tensor3D,
    i: number,
    rope: [tf.Tensor2D, tf.Tensor2D],
    mask: tf.Tensor2D | undefined,
    pass: Pass,
  ): tf.Tensor3D {
    const l = `model.layers.${i}`;
    const a: tf.Tensor3D = tf.add(x, this.attn(this.norm(x, `${l}.input_layernorm`), i, rope, mask, pass)); // (B, T, C)
    return tf.add(a, this.mlp(this.norm(a, `${l}.post_attention_layernorm`), i));
  }

  protected logits(idx: tf.Tensor2D, pass: Pass): tf.Tensor3D {
    const [B, T] = idx.shape;
    let x = tf.reshape(embedding(this.weight('model.embed_tokens.weight'), tf.reshape(idx, [-1])), [
      B,
      T,
      -1,
    ]) as tf.Tensor3D; // (B, T, C)
    const rope = this.rope.get(pass.past, T); // (T, hs) each
    const mask = causalMask(T, pass.past); // (T, S)
    for (let i = 0; i < this.numLayers; i++) x = this.block(x, i, rope, mask, pass);
    return this.lmHead(this.norm(x, 'model.norm'), 'model.embed_tokens.weight'); // (B, T, V)
  }

  override dispose(): void {
    this.rope.dispose();
    super.dispose();
  }
}
