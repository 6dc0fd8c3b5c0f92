/**
 * What GPT-2 and GPT-Neo share (modeling_gpt2.py, modeling_gpt_neo.py): the weights `transformer.wte` (tokens),
 * `transformer.wpe` (learned positions), blocks `transformer.h.N` of ln_1 → attention → ln_2 → MLP (c_fc, the
 * activation, c_proj) with dropout on each residual branch, `transformer.ln_f`, and an LM head tied to `wte`
 * unless the config says otherwise. Each of the two brings its config, its attention and its projection layout
 * (GPT-2's Conv1D [in, out], GPT-Neo's nn.Linear [out, in]).
 */

import type * as tf from '@tensorflow/tfjs-core';
import { kernel } from '../kernels/registry.js';
import { BaseCausalLM } from './base.js';
import type { CommonConfig } from './config.js';
import * as L from './layers.js';
import * as W from './weights.js';

/** The config fields the shared parts read, named alike in both. */
export interface GPTConfig extends CommonConfig {
  eps: number;
  embedDropout: number;
  residDropout: number;
  initializerRange: number;
  /** The config.json field `maxPositions` comes from, for the error when a sequence is longer. */
  positionsKey: string;
}

/**
 * The declaration around a block's own attention and MLP projections (`block` is called once per layer), in the
 * order Hugging Face creates (and the seed draws) the weights.
 */
export function gptWeights<A extends W.WeightTree, P extends W.WeightTree>(
  c: GPTConfig,
  block: () => { attn: A; mlp: { c_fc: P; c_proj: P } },
) {
  const [D, std] = [c.hiddenSize, c.initializerRange];
  return {
    transformer: {
      wte: W.embeddingParams(c.vocabSize, D, std),
      wpe: { weight: new W.Param([c.maxPositions, D], W.normal(std)) },
      h: W.layerList(c.numLayers, () => {
        const { attn, mlp } = block();
        return { ln_1: W.layerNormParams(D), attn, ln_2: W.layerNormParams(D), mlp };
      }),
      ln_f: W.layerNormParams(D),
    },
    lm_head: W.lmHeadParams(c, std),
  };
}

interface LayerNorm {
  weight: tf.Tensor;
  bias: tf.Tensor;
}

/** The variables of a `gptWeights` declaration whose attention weights are `A`. */
export interface GPTWeights<A> {
  transformer: {
    wte: { weight: tf.Tensor[] };
    wpe: { weight: tf.Tensor };
    h: { ln_1: LayerNorm; attn: A; ln_2: LayerNorm; mlp: { c_fc: L.Projection; c_proj: L.Projection } }[];
    ln_f: LayerNorm;
  };
  lm_head: { weight: tf.Tensor[] } | undefined;
}

export abstract class GPTBase<C extends GPTConfig, A> extends BaseCausalLM<C, GPTWeights<A>> {
  readonly prefix = 'transformer.';
  /** A projection in this architecture's weight layout (`L.conv1d` or `L.linear`). */
  protected abstract readonly project: (x: tf.Tensor3D, w: L.Projection, pass?: L.Pass) => tf.Tensor3D;
  /** Block `i`'s attention: (B, T, C) → (B, T, C), residual dropout included. */
  protected abstract attn(x: tf.Tensor3D, w: A, i: number, pass: L.Pass): tf.Tensor3D;

  private ln(x: tf.Tensor3D, w: LayerNorm): tf.Tensor3D {
    return kernel('layer_norm')(x, w.weight, w.bias, this.cfg.eps);
  }

  private mlp(x: tf.Tensor3D, w: GPTWeights<A>['transformer']['h'][number]['mlp'], pass: L.Pass): tf.Tensor3D {
    const h = this.act(this.project(x, w.c_fc, pass)); // (B, T, n_inner)
    return L.dropout(this.project(h, w.c_proj, pass), this.cfg.residDropout, pass); // (B, T, C)
  }

  protected headWeights(): readonly tf.Tensor[] {
    return (this.w.lm_head ?? this.w.transformer.wte).weight;
  }

  protected hidden(idx: tf.Tensor2D, pass: L.Pass): tf.Tensor3D {
    const { wte, wpe, h, ln_f } = this.w.transformer;
    let x = L.learnedEmbeddings(wte.weight, wpe.weight, idx, this.cfg.embedDropout, pass, this.cfg.positionsKey); // (B, T, C)
    for (const [i, w] of h.entries()) {
      x = L.preNormBlock(
        x,
        (a) => this.ln(a, w.ln_1),
        (a) => this.attn(a, w.attn, i, pass),
        (a) => this.ln(a, w.ln_2),
        (a) => this.mlp(a, w.mlp, pass),
      );
    }
    return this.ln(x, ln_f); // (B, T, C)
  }
}
