/**
 * What every architecture implements. Weights are tfjs Variables keyed by their Hugging Face names (with
 * the base-model prefix: `transformer.h.0.attn.c_attn.weight`, `model.layers.0.self_attn.q_proj.weight`)
 * and shaped exactly as in the Hugging Face checkpoint (GPT-2's Conv1D weights are [in, out]; nn.Linear
 * weights are [out, in]). A tied `lm_head.weight` is not a separate parameter.
 */

import type * as tf from '@tensorflow/tfjs-core';
import type { LoraModel } from '../lora.js';
import type { Projection } from './layers.js';

export type Architecture = 'GPT2LMHeadModel' | 'GPTNeoForCausalLM' | 'LlamaForCausalLM';

/** A Hugging Face config.json, parsed. */
export type HFConfig = Record<string, unknown> & { architectures?: string[]; model_type?: string; vocab_size?: number };

/** A host-side tensor: what safetensors files hold. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Per-layer key/value cache for generation: grows along the time axis. */
export interface KVCache {
  /** Tokens already in the cache. */
  length: number;
  /** Per layer: keys and values, [B, nKVHeads, T, headDim]; disposed by `dispose()`. */
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[];
  dispose(): void;
}

export interface ForwardOptions {
  /** Dropout is applied only when true. */
  training?: boolean;
  /** Seed for dropout masks (so a resumed run draws the same masks as an uninterrupted one). */
  seed?: number;
  /** Generation: attend to and extend this cache; positions continue from `cache.length`. */
  cache?: KVCache;
}

export interface CausalLM {
  readonly architecture: Architecture;
  readonly config: HFConfig;
  /**
   * Every trainable weight, by Hugging Face name. A weight too large for the backend to bind in one kernel
   * (an embedding or LM head on some GPUs) is held as row parts named `NAME[start:end]`, listed in `parts`.
   */
  readonly params: Map<string, tf.Variable>;
  /** Weights stored as row parts: full shape and part names, by Hugging Face name (absent or empty: none). */
  readonly parts?: ReadonlyMap<string, { shape: number[]; names: string[] }>;
  readonly vocabSize: number;
  /** Longest sequence the position embeddings allow (Infinity-like for RoPE: max_position_embeddings). */
  readonly maxPositions: number;
  readonly numLayers: number;
  /** Logits [B, T, V] for input ids [B, T] (int32). */
  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D;
  /**
   * The final hidden states [B, T, D] (after the final norm): what `forward` feeds to the LM head, with the same
   * options. With `lmHeadWeight` it lets a fused LM head + loss (`linear_cross_entropy`) skip the logits.
   */
  forwardHidden(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D;
  /**
   * The LM head weight [V, D] (the token embeddings when tied), so that `forward` is forwardHidden · weightᵀ.
   * It may be the model's own variable: use it inside a tidy and never dispose it.
   */
  lmHeadWeight(): tf.Tensor2D;
  /**
   * The LM head weight as the model holds it: one [V, D] tensor, or its row parts in order where it is split
   * (a weight past a GPU's binding limit), which `lmHeadWeight` would concatenate into one too large to bind.
   */
  lmHeadWeights(): readonly tf.Tensor2D[];
  /**
   * The projections (nn.Linear and Conv1D modules) by Hugging Face module name (`transformer.h.0.attn.c_attn`,
   * `model.layers.0.self_attn.q_proj`): the model's own objects, which LoRA attaches its adapters to.
   */
  projections(): Map<string, Projection>;
  /** Projection weights stored [in, out] (GPT-2's Conv1D; PEFT's `fan_in_fan_out`), else [out, in]. */
  readonly fanInFanOut: boolean;
  /** The LoRA adapters attached to this model (../lora.ts), if any. */
  lora?: LoraModel;
  /** An empty KV cache for `batch` sequences. */
  createCache(batch: number): KVCache;
  dispose(): void;
}
