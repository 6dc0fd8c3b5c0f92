/**
 * What the three architectures share as objects: the weights created from the architecture's declaration
 * (weights.ts), the forward pass in a tidy with its checks, the LM head and the KV cache. Each architecture
 * (gpt2.ts, gpt_neo.ts, llama.ts) brings a config parser, a weight declaration, `hidden` (the final hidden
 * states) and `headWeights`; `createModel` (index.ts) puts them together.
 */

import * as tf from '@tensorflow/tfjs-core';
import { deviceBindingLimit } from '../backend.js';
import { formatBytes as formatSize } from '../webgpu.js';
import { assert, type CommonConfig } from './config.js';
import { activation, LayerCache, makePass, type Pass, type Projection } from './layers.js';
import type { LoraModel } from '../lora.js';
import type { Architecture, CausalLM, ForwardOptions, HFConfig, KVCache } from './types.js';
import type { Instantiated, WeightParts } from './weights.js';

/** Modules holding one matrix that are looked up, not projected: never a LoRA target. */
const EMBEDDINGS = new Set(['wte', 'wpe', 'embed_tokens', 'lm_head']);

/** A model of parsed config `C` whose weights, built by `instantiate` from its declaration, have the shape `Wt`. */
export abstract class BaseCausalLM<C extends CommonConfig, Wt> implements CausalLM {
  abstract readonly architecture: Architecture;
  /** The base-model prefix of the Hugging Face names (`transformer.` or `model.`). */
  abstract readonly prefix: string;
  /** Every weight by full Hugging Face name (row parts by `NAME[start:end]`): what checkpoints read and write. */
  readonly params: Map<string, tf.Variable>;
  readonly parts: Map<string, WeightParts>;
  /** The same variables in the shape of their names: `w.transformer.h[0].attn.c_attn.weight`. */
  readonly w: Wt;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  /** Tied LM head: logits use the input embedding matrix, and `lm_head.weight` is not a parameter. */
  readonly tied: boolean;
  /** The MLP's activation (config `activation_function`, `hidden_act`). */
  protected readonly act: (x: tf.Tensor3D) => tf.Tensor3D;
  readonly fanInFanOut: boolean = false;
  lora?: LoraModel;

  constructor(
    readonly config: HFConfig,
    /** The parsed config, with Hugging Face's defaults filled in. */
    readonly cfg: C,
    /** Makes the weights (`instantiate(declaration, options)`), once the config has passed every check. */
    create: () => Instantiated<Wt>,
  ) {
    ({ vocabSize: this.vocabSize, maxPositions: this.maxPositions, numLayers: this.numLayers, tied: this.tied } = cfg);
    this.act = activation(cfg.activation); // an unknown one is refused before any weight is made
    ({ weights: this.w, params: this.params, parts: this.parts } = create());
  }

  /** The final hidden states (B, T, C) for ids (B, T), after the final norm — each architecture's, inside a tidy. */
  protected abstract hidden(idx: tf.Tensor2D, pass: Pass): tf.Tensor3D;

  /** The LM head weight (V, C) — `lm_head.weight` or the tied embeddings — whole or as its row parts. */
  protected abstract headWeights(): readonly tf.Tensor[];

  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D {
    return this.run(inputIds, options, (x) => this.lmHead(x, this.headWeights())); // (B, T, V)
  }

  forwardHidden(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D {
    return this.run(inputIds, options, (x) => x); // (B, T, C)
  }

  /** The head's variable, or its row parts (a weight past a GPU's binding limit) as they are held. */
  lmHeadWeights(): readonly tf.Tensor2D[] {
    return this.headWeights() as readonly tf.Tensor2D[];
  }

  /**
   * The whole weight when it is one variable; row parts are concatenated here (one tensor past the binding
   * limit when they were split for it: a fused op takes `lmHeadWeights` instead).
   */
  lmHeadWeight(): tf.Tensor2D {
    const head = this.headWeights();
    return (head.length === 1 ? head[0]! : tf.concat(head as tf.Tensor[], 0)) as tf.Tensor2D;
  }

  /** The checks on the input, then `top(hidden states)` in a tidy; the cache, if any, grows by T. */
  private run(
    inputIds: tf.Tensor2D,
    options: ForwardOptions | undefined,
    top: (x: tf.Tensor3D) => tf.Tensor3D,
  ): tf.Tensor3D {
    assert(inputIds.rank === 2, `input ids must be [batch, time], got shape [${inputIds.shape.join(', ')}]`);
    assert(inputIds.dtype === 'int32', `input ids must be int32, got ${inputIds.dtype}`);
    const [B, T] = inputIds.shape;
    assert(T > 0, 'cannot forward an empty sequence');
    const cache = options?.cache;
    if (cache instanceof LayerCache) {
      assert(cache.batch === B, `the KV cache was made for batch ${cache.batch}, the input has batch ${B}`);
    }
    return tf.tidy(() => {
      const pass = makePass(options);
      const out = top(this.hidden(inputIds, pass));
      if (cache) cache.length += T;
      return out;
    });
  }

  /** The LM head: (B, T, C) → (B, T, V) with `head` (V, C) — `lm_head.weight` or the tied embeddings — or its row parts. */
  protected lmHead(x: tf.Tensor3D, head: readonly tf.Tensor[]): tf.Tensor3D {
    const [B, T, C] = x.shape;
    const bytes = B * T * this.vocabSize * 4;
    const limit = deviceBindingLimit();
    assert(
      bytes <= limit,
      () =>
        `the logits [${B * T}, ${this.vocabSize}] of this batch are ${formatSize(bytes)}, above this GPU's ` +
        `maxStorageBufferBindingSize (${formatSize(limit)}): at most ${Math.floor(limit / (4 * this.vocabSize))} ` +
        'tokens per micro-batch fit (lower batch_size or max_length, or raise gradient_accumulation_steps)',
    );
    const x2 = tf.reshape(x, [B * T, C]);
    const y =
      head.length === 1
        ? tf.matMul(x2, head[0]!, false, true)
        : tf.concat(
            head.map((w) => tf.matMul(x2, w, false, true)),
            1,
          );
    return tf.reshape(y, [B, T, this.vocabSize]); // (B, T, V)
  }

  projections(): Map<string, Projection> {
    const out = new Map<string, Projection>();
    const visit = (node: unknown, name: string): void => {
      if (node === null || typeof node !== 'object' || node instanceof tf.Tensor) return;
      if (Array.isArray(node)) {
        node.forEach((child, i) => visit(child, `${name}.${i}`));
        return;
      }
      const weight = (node as Partial<Projection>).weight;
      // A single matrix that is not an embedding table (those are lists of row parts, or named so: wpe).
      if (weight instanceof tf.Tensor && weight.rank === 2 && !EMBEDDINGS.has(name.split('.').pop()!)) {
        out.set(name, node as Projection);
      }
      for (const [key, child] of Object.entries(node)) {
        if (key !== 'weight' && key !== 'bias' && key !== 'lora') visit(child, name ? `${name}.${key}` : key);
      }
    };
    visit(this.w, '');
    return out;
  }

  createCache(batch: number): KVCache {
    return new LayerCache(batch);
  }

  dispose(): void {
    // LoRA keeps copies of the modules it trains (modules_to_save), for the base model's weights.
    for (const t of this.lora?.originals.values() ?? []) t.dispose();
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.parts.clear();
  }
}
