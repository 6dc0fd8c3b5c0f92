/**
 * The fused linear cross-entropy on the cpu backend as two plain-loop kernels, no matmul of tfjs at all: the
 * LM head is all of a small model's arithmetic there, and tfjs-cpu's matmul (about 0.9 GFLOP/s on a core) is
 * what bounds the step. The loops walk the weight row by row ([V, D] is row-major: each logit is a contiguous
 * dot product of D), four hidden rows at a time so each weight row is read once per four logits, and keep one
 * block's logits ([4, V]) at a time: the [N, V] logits never exist, forward or backward.
 * - forward (`DumboLceCpuForward`): per row the log-sum-exp and the NLL of its target ([2, N], as the chunked
 *   path's statistics);
 * - backward (`DumboLceCpuBackward`): per block the logits again, g = (softmax − onehot)·dy, then
 *   grad_hidden += g·W and grad_W += gᵀ·h in the same pass over W.
 * Dot products are summed in double precision and rounded to float32; grad_W is summed in float32 over the
 * rows (its size is the weight's: no larger copy). linear-cross-entropy.ts
 * calls it for one whole weight on cpu; the chunked path serves row parts and the other backends.
 */

import * as tf from '@tensorflow/tfjs-core';
import { makeF32, once, readF32, registerCpuKernel, type CpuBackendLike } from './kernel-support.js';

export const LCE_CPU_FORWARD_KERNEL = 'DumboLceCpuForward';
export const LCE_CPU_BACKWARD_KERNEL = 'DumboLceCpuBackward';

/** Hidden rows per pass over the weight. */
const BLOCK = 4;

/** The logits of rows r0..r0+rows-1 into `out` ([rows, V]): out[i·V + v] = h[r0 + i] · W[v]. */
function blockLogits(
  h: Float32Array,
  w: Float32Array,
  r0: number,
  rows: number,
  V: number,
  D: number,
  out: Float64Array,
) {
  const base = r0 * D;
  if (rows < BLOCK) {
    // The last, partial block: one row at a time.
    for (let i = 0; i < rows; i++) {
      for (let v = 0; v < V; v++) {
        let a = 0;
        for (let k = 0; k < D; k++) a += h[base + i * D + k]! * w[v * D + k]!;
        out[i * V + v] = Math.fround(a);
      }
    }
    return;
  }
  for (let v = 0; v < V; v++) {
    const wb = v * D;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let k = 0; k < D; k++) {
      const x = w[wb + k]!;
      a0 += h[base + k]! * x;
      a1 += h[base + D + k]! * x;
      a2 += h[base + 2 * D + k]! * x;
      a3 += h[base + 3 * D + k]! * x;
    }
    out[v] = Math.fround(a0);
    out[V + v] = Math.fround(a1);
    out[2 * V + v] = Math.fround(a2);
    out[3 * V + v] = Math.fround(a3);
  }
}

/** log Σ exp of one row of `x` (V values from `at`). */
function logSumExp(x: Float64Array, at: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (x[at + v]! > max) max = x[at + v]!;
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(x[at + v]! - max);
  return max + Math.log(sum);
}

/** [lse; nll] [2, N]. */
function forward(h: Float32Array, w: Float32Array, t: Int32Array, N: number, V: number, D: number): Float32Array {
  const out = new Float32Array(2 * N);
  const logits = new Float64Array(BLOCK * V);
  for (let r0 = 0; r0 < N; r0 += BLOCK) {
    const rows = Math.min(BLOCK, N - r0);
    blockLogits(h, w, r0, rows, V, D, logits);
    for (let i = 0; i < rows; i++) {
      const lse = logSumExp(logits, i * V, V);
      out[r0 + i] = lse;
      out[N + r0 + i] = lse - logits[i * V + t[r0 + i]!]!;
    }
  }
  return out;
}

/** [grad_hidden [N, D], grad_W [V, D]] under upstream dy [N], from the forward's lse (row 0 of stats). */
function backward(
  h: Float32Array,
  w: Float32Array,
  t: Int32Array,
  stats: Float32Array,
  dy: Float32Array,
  N: number,
  V: number,
  D: number,
): [Float32Array, Float32Array] {
  const gh = new Float64Array(N * D);
  const gw = new Float32Array(V * D); // the weight's size: summed in float32, as tfjs's matmul would

  const g = new Float64Array(BLOCK * V);
  for (let r0 = 0; r0 < N; r0 += BLOCK) {
    const rows = Math.min(BLOCK, N - r0);
    blockLogits(h, w, r0, rows, V, D, g);
    for (let i = 0; i < rows; i++) {
      const [lse, d] = [stats[r0 + i]!, dy[r0 + i]!];
      for (let v = 0; v < V; v++) g[i * V + v] = Math.exp(g[i * V + v]! - lse) * d;
      g[i * V + t[r0 + i]!]! -= d;
    }
    // One pass over W: each of its rows feeds the block's hidden gradients and takes its own (all four rows'
    // terms at once, so grad_W's row is read and written once per block).
    for (let v = 0; v < V; v++) {
      const wb = v * D;
      const g0 = g[v]!;
      const g1 = rows > 1 ? g[V + v]! : 0;
      const g2 = rows > 2 ? g[2 * V + v]! : 0;
      const g3 = rows > 3 ? g[3 * V + v]! : 0;
      if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0) continue;
      const h0 = r0 * D;
      for (let k = 0; k < D; k++) {
        const x = w[wb + k]!;
        let sum = g0 * h[h0 + k]!;
        gh[h0 + k] = gh[h0 + k]! + g0 * x;
        if (rows > 1) {
          sum += g1 * h[h0 + D + k]!;
          gh[h0 + D + k] = gh[h0 + D + k]! + g1 * x;
        }
        if (rows > 2) {
          sum += g2 * h[h0 + 2 * D + k]!;
          gh[h0 + 2 * D + k] = gh[h0 + 2 * D + k]! + g2 * x;
        }
        if (rows > 3) {
          sum += g3 * h[h0 + 3 * D + k]!;
          gh[h0 + 3 * D + k] = gh[h0 + 3 * D + k]! + g3 * x;
        }
        gw[wb + k] = gw[wb + k]! + sum;
      }
    }
  }
  return [Float32Array.from(gh), gw];
}

type Inputs = Record<'hidden' | 'weight' | 'targets' | 'stats' | 'dy', tf.TensorInfo>;

const register = once(() => {
  const ints = (b: object, x: tf.TensorInfo) => (b as CpuBackendLike).readSync(x.dataId) as Int32Array;
  registerCpuKernel({
    kernelName: LCE_CPU_FORWARD_KERNEL,
    kernelFunc: ({ inputs, backend }) => {
      const { hidden, weight, targets } = inputs as Inputs;
      const [N, D] = hidden.shape as [number, number];
      const V = weight.shape[0]!;
      const stats = forward(readF32(backend, hidden), readF32(backend, weight), ints(backend, targets), N, V, D);
      return makeF32(backend, [2, N], stats);
    },
  });
  registerCpuKernel({
    kernelName: LCE_CPU_BACKWARD_KERNEL,
    kernelFunc: ({ inputs, backend }) => {
      const { hidden, weight, targets, stats, dy } = inputs as Inputs;
      const [N, D] = hidden.shape as [number, number];
      const V = weight.shape[0]!;
      const [gh, gw] = backward(
        readF32(backend, hidden),
        readF32(backend, weight),
        ints(backend, targets),
        readF32(backend, stats),
        readF32(backend, dy),
        N,
        V,
        D,
      );
      return [makeF32(backend, [N, D], gh), makeF32(backend, [V, D], gw)];
    },
  });
});

/** Registers the two kernels (once); whether both are there (a test may take them away). */
export function cpuLceKernels(): boolean {
  register();
  return [LCE_CPU_FORWARD_KERNEL, LCE_CPU_BACKWARD_KERNEL].every((k) => tf.getKernel(k, 'cpu') !== undefined);
}

/** Per-row NLL [N] of `targets` under hidden [N, D] · weight [V, D]ᵀ, by the two kernels (checked shapes). */
export function cpuLinearCrossEntropy(hidden: tf.Tensor2D, weight: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const N = hidden.shape[0];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [h, w, t, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const stats = tf.engine().runKernel(LCE_CPU_FORWARD_KERNEL, { hidden: h, weight: w, targets: t }) as tf.Tensor2D;
    save([h, w, t, stats]);
    return {
      value: tf.reshape(tf.slice(stats, [1, 0], [1, N]), [N]),
      gradFunc: (dy, saved) => {
        const [hs, ws, ts, st] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
        const inputs = { hidden: hs, weight: ws, targets: ts, stats: st, dy: dy as tf.Tensor1D };
        const [gh, gw] = tf.engine().runKernel(LCE_CPU_BACKWARD_KERNEL, inputs) as tf.Tensor[];
        return [gh!, gw!, tf.zerosLike(ts)];
      },
    };
  });
  return f(hidden, weight, targets) as tf.Tensor1D;
}
