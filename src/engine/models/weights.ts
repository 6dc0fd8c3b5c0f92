/**
 * Weights declared once. Each architecture writes its weights as one tree whose keys are the parts of the
 * Hugging Face names (`{transformer: {h: [{attn: {c_attn: {weight, bias}}}]}}` is `transformer.h.0.attn.c_attn.weight`
 * and `.bias`), each leaf a `Param` with its shape and initial values. From that tree come the list of names
 * and shapes (`paramShapesOf`: what an estimate counts, without a tensor) and the model's variables
 * (`instantiate`: the same tree with a tfjs Variable at each leaf, which `forward` reads as
 * `w.transformer.h[i].attn.c_attn.weight`, plus the `params` map by full name that checkpoints use).
 */

import * as tf from '@tensorflow/tfjs-core';
import { maxTensorBytes } from '../backend.js';
import { formatBytes as formatSize } from '../webgpu.js';
import { Rng } from '../random.js';
import { assert, type CommonConfig } from './config.js';
import type { HFConfig } from './types.js';

/** How a parameter starts: HF's _init_weights draws normal(0, std) for matrices and fills norms and biases. */
export type Init = { normal: number } | 'zeros' | 'ones';

/** One weight as an architecture declares it: its shape (as in the HF checkpoint) and how it starts. */
export class Param {
  /** Whether it may be held as row parts: see `RowParam`. */
  readonly rows: boolean = false;

  constructor(
    readonly shape: number[],
    readonly init: Init,
    /** Adjusts the drawn values (nn.Embedding's padding row starts at zero). */
    readonly edit?: (data: Float32Array) => void,
  ) {}
}

/**
 * An embedding table or LM head: when one tensor of its size would exceed what the backend binds in one
 * kernel, it is held as row parts `NAME[0:r]`, `NAME[r:2r]`, ..., so the model reads it as a list.
 */
export class RowParam extends Param {
  override readonly rows = true as const;
}

/** An architecture's declaration: `Param`s under the parts of their names; `undefined` where a weight is absent. */
export type WeightTree = Param | undefined | readonly WeightTree[] | { readonly [key: string]: WeightTree };

/** A declared tree with its variables in place of the `Param`s (a `RowParam`: its parts, in row order). */
export type Weights<T> = T extends RowParam
  ? tf.Variable[]
  : T extends Param
    ? tf.Variable
    : T extends undefined
      ? undefined
      : T extends readonly (infer U)[]
        ? Weights<U>[]
        : { readonly [K in keyof T]: Weights<T[K]> };

/** A weight as a checkpoint holds it: its Hugging Face name and shape. */
export interface ParamShape {
  name: string;
  shape: number[];
}

// ------------------------------------------------------------------------------------ declaring

export const normal = (std: number): Init => ({ normal: std });

/** nn.LayerNorm(d): weight ones, bias zeros. */
export function layerNormParams(d: number) {
  return { weight: new Param([d], 'ones'), bias: new Param([d], 'zeros') };
}

/** nn.Linear(inp, out): weight [out, inp] ~ N(0, std²), bias zeros when it has one. */
export function linearParams(inp: number, out: number, std: number, bias: boolean) {
  return { weight: new Param([out, inp], normal(std)), bias: bias ? new Param([out], 'zeros') : undefined };
}

/** GPT-2's Conv1D: weight [inp, out] ~ N(0, std²), bias zeros. */
export function conv1dParams(inp: number, out: number, std: number) {
  return { weight: new Param([inp, out], normal(std)), bias: new Param([out], 'zeros') };
}

/** A token embedding table [vocab, width] ~ N(0, std²), in row parts if need be. */
export function embeddingParams(vocab: number, width: number, std: number, edit?: (data: Float32Array) => void) {
  return { weight: new RowParam([vocab, width], normal(std), edit) };
}

/** The LM head `lm_head.weight` [vocab, hidden], or none when it is tied to the token embeddings. */
export function lmHeadParams(c: CommonConfig, std: number) {
  return c.tied ? undefined : embeddingParams(c.vocabSize, c.hiddenSize, std);
}

/** The list of blocks (`h`, `layers`): one declaration per layer. */
export function layerList<T>(n: number, layer: () => T): T[] {
  return Array.from({ length: n }, layer);
}

/** Visits the leaves in declaration order (the order of the draws and of `params`), mapping each by full name. */
function mapTree(tree: WeightTree, name: string, leaf: (name: string, p: Param) => unknown): unknown {
  if (tree === undefined || tree instanceof Param) return tree && leaf(name, tree);
  const at = (key: string | number) => (name === '' ? String(key) : `${name}.${key}`);
  if (Array.isArray(tree)) return (tree as readonly WeightTree[]).map((t, i) => mapTree(t, at(i), leaf));
  return Object.fromEntries(Object.entries(tree).map(([key, t]) => [key, mapTree(t, at(key), leaf)]));
}

/** Every weight of a declaration, by Hugging Face name and shape, in order. */
export function paramShapesOf(tree: WeightTree): ParamShape[] {
  const out: ParamShape[] = [];
  mapTree(tree, '', (name, p) => out.push({ name, shape: [...p.shape] }));
  return out;
}

/** An architecture's `paramShapes(config)`: its config parser, then its declaration, listed (no tensor is made). */
export function paramShapesFor<C>(parse: (config: HFConfig) => C, declare: (c: C) => WeightTree) {
  return (config: HFConfig): ParamShape[] => paramShapesOf(declare(parse(config)));
}

// ------------------------------------------------------------------------------------ creating

/** A weight stored as row parts because one tensor of its size would exceed the GPU's binding limit. */
export interface WeightParts {
  /** The full shape, as in the Hugging Face checkpoint. */
  shape: number[];
  /** Names (in `params`) of the parts, in row order: `NAME[start:end]`. */
  names: string[];
}

/** The variables of a declaration: in its shape (`weights`) and by full name (`params`, `parts`). */
export interface Instantiated<Wt> {
  weights: Wt;
  params: Map<string, tf.Variable>;
  parts: Map<string, WeightParts>;
}

export interface InstantiateOptions {
  /** Seed of the initial draw: leaves are drawn in declaration order from it. */
  seed: number;
  /** False: every weight starts at zero, drawing nothing (a checkpoint is loaded right after). */
  initialize: boolean;
  /** The largest tensor the backend binds in one kernel (default: the running backend's). */
  maxBytes?: number;
}

/** One variable, sharing the data of its initial tensor (which is let go). */
function variable(values: Float32Array, shape: number[]): tf.Variable {
  // Unnamed: tfjs variable names are process-global, and several models may live side by side.
  const init = tf.tensor(values, shape, 'float32');
  const v = tf.variable(init, true);
  init.dispose();
  return v;
}

/**
 * The declared weights as variables, drawn in declaration order from the seed, and the same variables by
 * full name (`params`). A `RowParam` whose whole would exceed the backend's binding limit becomes parts
 * `NAME[0:r]`, `NAME[r:2r]`, ... holding the same values, listed in `parts`; any other weight over the limit
 * is an error naming it.
 */
export function instantiate<T extends WeightTree>(tree: T, options: InstantiateOptions): Instantiated<Weights<T>> {
  const { initialize } = options;
  const maxBytes = options.maxBytes ?? maxTensorBytes();
  const rng = new Rng(options.seed);
  const params = new Map<string, tf.Variable>();
  const parts = new Map<string, WeightParts>();
  const create = (name: string, p: Param): tf.Variable | tf.Variable[] => {
    assert(!params.has(name) && !parts.has(name), `parameter ${name} defined twice`);
    const { shape, init } = p;
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      init === 'zeros' || !initialize
        ? new Float32Array(n)
        : init === 'ones'
          ? new Float32Array(n).fill(1)
          : rng.normalArray(n, 0, init.normal);
    if (initialize) p.edit?.(data);
    const bytes = n * 4;
    if (bytes <= maxBytes) {
      const v = variable(data, shape);
      params.set(name, v);
      return p.rows ? [v] : v;
    }
    const rowSize = n / shape[0]!;
    const limit = `the largest tensor this backend binds in one kernel is ${formatSize(maxBytes)}`;
    assert(
      p.rows && rowSize * 4 <= maxBytes,
      () => `${name} [${shape.join(', ')}] is ${formatSize(bytes)}, but ${limit}: this model cannot train here`,
    );
    const rowsPerPart = Math.floor(maxBytes / (rowSize * 4));
    const names: string[] = [];
    const vars: tf.Variable[] = [];
    for (let start = 0; start < shape[0]!; start += rowsPerPart) {
      const end = Math.min(shape[0]!, start + rowsPerPart);
      const part = `${name}[${start}:${end}]`;
      vars.push(variable(data.slice(start * rowSize, end * rowSize), [end - start, ...shape.slice(1)]));
      params.set(part, vars.at(-1)!);
      names.push(part);
    }
    parts.set(name, { shape, names });
    return vars;
  };
  return { weights: mapTree(tree, '', create) as Weights<T>, params, parts };
}
