/**
 * native-cpu's versions of tfjs-cpu's memory-bound kernels that a plain LM head makes slow: its [tokens,
 * vocabulary] logits go through Slice (a strided loop per element in tfjs-cpu), broadcast Sub and Multiply (an
 * index computation per element), Exp, Softmax and PadV2; and those of the plain GELU, norms and their
 * gradients (Pow, Tanh, Sqrt, Square, Tile, Mean, Max). In C (native/src/elementwise.cc) for float32; other
 * dtypes, and what the C path does not cover, go to tfjs-cpu's kernel unchanged. Transpose and RealDiv and Add
 * (attention's head split, the residuals) come along: the same strided copy and broadcast loop; and Sum over
 * consecutive axes (the bias gradients: tfjs-cpu transposes the rows to the end first), SplitV and Concat.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike } from '../kernels/backend-types.js';
import { float32Values, type NativeAddon } from './addon.js';

function cpuKernel(name: string): tf.KernelFunc {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`native-cpu: tfjs-cpu has no kernel ${name}`);
  return k.kernelFunc;
}

const f32 = float32Values;
const stridesOf = (shape: number[]) => [...tf.util.computeStrides(shape), 1].slice(-shape.length || 0);

/** A kernel that takes float32 inputs through `run` (undefined: tfjs-cpu's kernel instead). */
function float32Kernel(
  name: string,
  run: (args: {
    inputs: tf.NamedTensorInfoMap;
    backend: CpuBackendLike;
    attrs: tf.NamedAttrMap;
  }) => tf.TensorInfo | tf.TensorInfo[] | undefined,
): [string, tf.KernelFunc] {
  const fallback = (args: Parameters<tf.KernelFunc>[0]) => cpuKernel(name)(args);
  return [
    name,
    (args) => {
      const inputs = Object.values(args.inputs) as tf.TensorInfo[];
      if (inputs.some((t) => t.dtype !== 'float32')) return fallback(args);
      const backend = args.backend as CpuBackendLike;
      return run({ inputs: args.inputs, backend, attrs: args.attrs ?? {} }) ?? fallback(args);
    },
  ];
}

/** A float32 output of `shape` (its values written by `write`). */
function output(backend: CpuBackendLike, shape: number[], write: (out: Float32Array) => void): tf.TensorInfo {
  const out = new Float32Array(tf.util.sizeFromShape(shape));
  if (out.length > 0) write(out);
  return backend.makeTensorInfo(shape, 'float32', out);
}

/** The kernels and the addon's op numbers (native/src/kernels.h: BinaryOp, UnaryOp). */
const BINARY: [string, number][] = [
  [tf.Add, 0],
  [tf.Sub, 1],
  [tf.Multiply, 2],
  [tf.RealDiv, 3],
  [tf.Pow, 4],
];
const UNARY: [string, number][] = [
  [tf.Exp, 0],
  [tf.Tanh, 1],
  [tf.Sqrt, 2],
  [tf.Square, 3],
];

/** An operand's strides against the broadcast output shape (0 along the axes it is broadcast on). */
function broadcastStrides(shape: number[], out: number[]): number[] {
  const own = stridesOf(shape);
  return out.map((_, i) => {
    const j = i - (out.length - shape.length);
    return j < 0 || shape[j] === 1 ? 0 : own[j]!;
  });
}

export function elementwiseKernels(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  const binary = BINARY.map(([name, op]) =>
    float32Kernel(name, ({ inputs: { a, b }, backend }) => {
      const shape = tf.backend_util.assertAndGetBroadcastShape(a!.shape, b!.shape);
      const [as, bs] = [broadcastStrides(a!.shape, shape), broadcastStrides(b!.shape, shape)];
      return output(backend, shape, (out) =>
        addon().binary(op, f32(backend, a!), as, f32(backend, b!), bs, out, shape),
      );
    }),
  );
  const slice = float32Kernel(tf.Slice, ({ inputs: { x }, backend, attrs }) => {
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as never,
      attrs.begin as number[],
      attrs.size as number[],
    ) as [number[], number[]];
    const strides = stridesOf(x!.shape);
    const offset = begin.reduce((s, b, i) => s + b * strides[i]!, 0);
    return output(backend, size, (out) =>
      addon().stridedCopy(f32(backend, x!), offset, strides, out, 0, stridesOf(size), size),
    );
  });
  const pad = float32Kernel(tf.PadV2, ({ inputs: { x }, backend, attrs }) => {
    const paddings = attrs.paddings as [number, number][];
    const shape = x!.shape.map((n, i) => paddings[i]![0] + n + paddings[i]![1]);
    const strides = stridesOf(shape);
    const offset = paddings.reduce((s, [before], i) => s + before * strides[i]!, 0);
    return output(backend, shape, (out) => {
      addon().fill(out, attrs.constantValue as number, out.length);
      addon().stridedCopy(f32(backend, x!), 0, stridesOf(x!.shape), out, offset, strides, x!.shape);
    });
  });
  const transpose = float32Kernel(tf.Transpose, ({ inputs: { x }, backend, attrs }) => {
    const perm = attrs.perm as number[];
    const own = stridesOf(x!.shape);
    const shape = perm.map((p) => x!.shape[p]!);
    return output(backend, shape, (out) =>
      addon().stridedCopy(
        f32(backend, x!),
        0,
        perm.map((p) => own[p]!),
        out,
        0,
        stridesOf(shape),
        shape,
      ),
    );
  });
  const unary = UNARY.map(([name, op]) =>
    float32Kernel(name, ({ inputs: { x }, backend }) =>
      output(backend, x!.shape, (out) => addon().unary(op, f32(backend, x!), out, out.length)),
    ),
  );
  // Tile: a copy of x seen as [reps[0], shape[0], reps[1], shape[1], ...], x's strides 0 along the repeats.
  const tile = float32Kernel(tf.Tile, ({ inputs: { x }, backend, attrs }) => {
    const reps = attrs.reps as number[];
    const own = stridesOf(x!.shape);
    const shape = x!.shape.flatMap((n, i) => [reps[i]!, n]);
    const strides = x!.shape.flatMap((_, i) => [0, own[i]!]);
    return output(
      backend,
      x!.shape.map((n, i) => n * reps[i]!),
      (out) => addon().stridedCopy(f32(backend, x!), 0, strides, out, 0, stridesOf(shape), shape),
    );
  });
  const softmax = float32Kernel(tf.Softmax, ({ inputs: { logits }, backend, attrs }) => {
    const rank = logits!.shape.length;
    const dim = attrs.dim as number;
    if (rank === 0 || (dim !== -1 && dim !== rank - 1)) return undefined;
    const cols = logits!.shape[rank - 1]!;
    return output(backend, logits!.shape, (out) =>
      addon().softmax(f32(backend, logits!), out, out.length / cols, cols),
    );
  });
  /** Sum, Mean (the sum, then divided in float32 as tfjs-cpu does) or Max over consecutive axes. */
  const reduce = (name: string, kind: 'sum' | 'mean' | 'max') =>
    float32Kernel(name, ({ inputs: { x }, backend, attrs }) => {
      const rank = x!.shape.length;
      const axis = (kind === 'max' ? attrs.reductionIndices : attrs.axis) as number | number[];
      const axes = tf.util.parseAxisParam(axis, x!.shape).sort((p, q) => p - q);
      // Consecutive axes only (a bias gradient's rows, a row's columns); others go to tfjs-cpu.
      if (axes.length === 0 || axes.some((a, i) => i > 0 && a !== axes[i - 1]! + 1)) return undefined;
      if (axes.some((a) => x!.shape[a] === 0)) return undefined;
      const size = (from: number, to: number) => tf.util.sizeFromShape(x!.shape.slice(from, to));
      const [first, last] = [axes[0]!, axes.at(-1)! + 1];
      const shape = x!.shape.flatMap((n, i) => (!axes.includes(i) ? [n] : attrs.keepDims ? [1] : []));
      const reduced = size(first, last);
      return output(backend, shape, (out) => {
        addon().reduce(kind === 'max', f32(backend, x!), out, size(0, first), reduced, size(last, rank));
        if (kind === 'mean') for (let i = 0; i < out.length; i++) out[i] = out[i]! / reduced;
      });
    });
  // SplitV (GPT-2's q, k, v out of c_attn) and Concat (its gradient): tfjs-cpu slices and copies per element.
  const split = float32Kernel(tf.SplitV, ({ inputs: { x }, backend, attrs }) => {
    const axis = tf.util.parseAxisParam(attrs.axis as number, x!.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits as number[], axis);
    const strides = stridesOf(x!.shape);
    let begin = 0;
    return sizes.map((n) => {
      const shape = x!.shape.map((d, i) => (i === axis ? n : d));
      const offset = begin * strides[axis]!;
      begin += n;
      return output(backend, shape, (out) =>
        addon().stridedCopy(f32(backend, x!), offset, strides, out, 0, stridesOf(shape), shape),
      );
    });
  });
  const concat = float32Kernel(tf.Concat, ({ inputs, backend, attrs }) => {
    const parts = (Object.values(inputs) as tf.TensorInfo[]).filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (parts.length === 0) return undefined;
    const axis = tf.util.parseAxisParam(attrs.axis as number, parts[0]!.shape)[0]!;
    const shape = tf.backend_util.computeOutShape(
      parts.map((t) => t.shape),
      axis,
    );
    const strides = stridesOf(shape);
    return output(backend, shape, (out) => {
      let begin = 0;
      for (const t of parts) {
        addon().stridedCopy(f32(backend, t), 0, stridesOf(t.shape), out, begin * strides[axis]!, strides, t.shape);
        begin += t.shape[axis]!;
      }
    });
  });
  return [
    ...binary,
    ...unary,
    slice,
    pad,
    transpose,
    tile,
    softmax,
    reduce(tf.Sum, 'sum'),
    reduce(tf.Mean, 'mean'),
    reduce(tf.Max, 'max'),
    split,
    concat,
  ];
}
