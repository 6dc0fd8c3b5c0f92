/**
 * Llama (`LlamaForCausalLM`), as Hugging Face transformers' modeling_llama.py: RMSNorm, rotary position
 * embeddings in the rotate_half (non-interleaved) convention, grouped-query attention (num_key_value_heads
 * may be fewer than num_attention_heads), a SwiGLU MLP (down(silu(gate(x)) · up(x))), nn.Linear weights
 * [out, in] without bias, and an LM head that is its own `lm_head.weight` unless tie_word_embeddings.
 * Read bottom-up: config → weights → rotary embedding → attention → MLP → block → model.
 */

import * as tf from '@tensorflow/tfjs-core';
import { kernel } from '../kernels/registry.js';
import { BaseCausalLM } from './base.js';
import { assert, bool, count, type CommonConfig, num, str } from './config.js';
import * as L from './layers.js';
import type { HFConfig } from './types.js';
import * as W from './weights.js';

/**
 * LlamaConfig, with Hugging Face's default on each field. The shared ones (`CommonConfig`) are vocab_size
 * (32000), hidden_size (4096), num_hidden_layers (32), num_attention_heads (32), max_position_embeddings (2048),
 * tie_word_embeddings (false) and hidden_act ('silu').
 */
export interface LlamaConfig extends CommonConfig {
  intermediateSize: number; // intermediate_size = 11008
  numKVHeads: number; // num_key_value_heads = null → num_attention_heads
  headDim: number; // head_dim = null → hidden_size / num_attention_heads
  eps: number; // rms_norm_eps = 1e-6
  ropeTheta: number; // rope_theta = 10000
  ropeScaling: Record<string, unknown> | null; // rope_scaling = null (also: linear, llama3)
  attentionBias: boolean; // attention_bias = false
  mlpBias: boolean; // mlp_bias = false
  attentionDropout: number; // attention_dropout = 0
  initializerRange: number; // initializer_range = 0.02
  padTokenId: number | undefined; // pad_token_id = null: its embedding row starts at zero
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

/** Every weight, under its Hugging Face name, in the order HF creates (and the seed draws) them. */
export function llamaWeights(c: LlamaConfig) {
  const [D, I, std] = [c.hiddenSize, c.intermediateSize, c.initializerRange];
  const [qDim, kvDim] = [c.numHeads * c.headDim, c.numKVHeads * c.headDim];
  const pad = c.padTokenId;
  // nn.Embedding(padding_idx): that row starts at zero.
  const zeroPadRow = (data: Float32Array) => {
    if (pad !== undefined && pad >= 0 && pad < c.vocabSize) data.fill(0, pad * D, (pad + 1) * D);
  };
  return {
    model: {
      embed_tokens: W.embeddingParams(c.vocabSize, D, std, zeroPadRow),
      layers: W.layerList(c.numLayers, () => ({
        self_attn: {
          q_proj: W.linearParams(D, qDim, std, c.attentionBias),
          k_proj: W.linearParams(D, kvDim, std, c.attentionBias),
          v_proj: W.linearParams(D, kvDim, std, c.attentionBias),
          o_proj: W.linearParams(qDim, D, std, c.attentionBias),
        },
        mlp: {
          gate_proj: W.linearParams(D, I, std, c.mlpBias),
          up_proj: W.linearParams(D, I, std, c.mlpBias),
          down_proj: W.linearParams(I, D, std, c.mlpBias),
        },
        input_layernorm: { weight: new W.Param([D], 'ones') },
        post_attention_layernorm: { weight: new W.Param([D], 'ones') },
      })),
      norm: { weight: new W.Param([D], 'ones') },
    },
    lm_head: W.lmHeadParams(c, std),
  };
}

/** The weights a Llama config gives, by Hugging Face name and shape (no tensor is made). */
export const llamaParamShapes = W.paramShapesFor(llamaConfig, llamaWeights);

type Weights = W.Weights<ReturnType<typeof llamaWeights>>;
type Block = Weights['model']['layers'][number];

/** cos and sin (T, hs) of the positions of one forward. */
type Rope = [tf.Tensor2D, tf.Tensor2D];

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

// ------------------------------------------------------------------------------------------------ model

export class Llama extends BaseCausalLM<LlamaConfig, Weights> {
  readonly architecture = 'LlamaForCausalLM' as const;
  readonly prefix = 'model.';
  private readonly rope: RopeCache;

  constructor(config: HFConfig, cfg: LlamaConfig, create: () => W.Instantiated<Weights>) {
    const invFreq = ropeInvFreq(cfg); // an unknown rope_scaling is refused before any weight is made
    super(config, cfg, create);
    this.rope = new RopeCache(invFreq);
  }

  /** act(gate)·up: the kernel table's swiglu for silu, else the configured activation. */
  private gated(gate: tf.Tensor3D, up: tf.Tensor3D): tf.Tensor3D {
    const silu = this.cfg.activation === 'silu' || this.cfg.activation === 'swish';
    return silu ? kernel('swiglu')(gate, up) : tf.mul(this.act(gate), up);
  }

  private norm(x: tf.Tensor3D, w: Block['input_layernorm']): tf.Tensor3D {
    return kernel('rms_norm')(x, w.weight, this.cfg.eps);
  }

  private attn(x: tf.Tensor3D, w: Block['self_attn'], i: number, rope: Rope, pass: L.Pass): tf.Tensor3D {
    const { numHeads, numKVHeads, headDim, attentionDropout } = this.cfg;
    const [q, k] = kernel('rope')(
      L.splitHeads(L.linear(x, w.q_proj, pass), numHeads), // (B, nh, T, hs)
      L.splitHeads(L.linear(x, w.k_proj, pass), numKVHeads), // (B, nkv, T, hs)
      ...rope,
    );
    const [kAll, vAll] = L.extendCache(pass, i, k, L.splitHeads(L.linear(x, w.v_proj, pass), numKVHeads)); // (B, nkv, S, hs)
    const scale = 1 / Math.sqrt(headDim);
    const y = kernel('attention')(q, kAll, vAll, { scale, dropout: L.dropoutDraw(attentionDropout, pass) }); // (B, nh, T, hs)
    return L.linear(L.mergeHeads(y), w.o_proj, pass); // (B, T, C)
  }

  private mlp(x: tf.Tensor3D, w: Block['mlp'], pass: L.Pass): tf.Tensor3D {
    const [gate, up] = [L.linear(x, w.gate_proj, pass), L.linear(x, w.up_proj, pass)]; // (B, T, I) each
    return L.linear(this.gated(gate, up), w.down_proj, pass); // (B, T, C)
  }

  protected headWeights(): readonly tf.Tensor[] {
    return (this.w.lm_head ?? this.w.model.embed_tokens).weight;
  }

  protected hidden(idx: tf.Tensor2D, pass: L.Pass): tf.Tensor3D {
    const { embed_tokens, layers, norm } = this.w.model;
    let x = L.tokenEmbeddings(embed_tokens.weight, idx); // (B, T, C)
    const rope = this.rope.get(pass.past, idx.shape[1]); // (T, hs) each
    for (const [i, w] of layers.entries()) {
      x = L.preNormBlock(
        x,
        (a) => this.norm(a, w.input_layernorm),
        (a) => this.attn(a, w.self_attn, i, rope, pass),
        (a) => this.norm(a, w.post_attention_layernorm),
        (a) => this.mlp(a, w.mlp, pass),
      );
    }
    return this.norm(x, norm); // (B, T, C)
  }

  override dispose(): void {
    this.rope.dispose();
    super.dispose();
  }
}
