/**
 * The global gradient norm as an op of the kernel table (`grad_norm`, registry.ts): √(Σ Σ g²) over every
 * gradient, which the trainer reads with the loss (clipping and the divergence guard need it).
 *
 * The default (kernels/ops.ts) squares and sums each tensor apart: three or more launches per tensor, 450
 * for GPT-2's 148. `fusedGradNorm` sums the squares of many tensors per launch in `DumboSumSquares`, whose
 * output is a vector of partial sums (one per workgroup), then takes √ of their sum:
 * - `cpu`: one loop over every tensor, accumulated in double precision (one partial);
 * - `webgpu`: one WGSL program per group of tensors that fits the device's storage-buffer bindings (the
 *   output and the previous group's partials take two), each workgroup striding over every tensor of its
 *   group and adding its sum to the previous group's partial at its index: ceil(tensors / (buffers - 2))
 *   launches, plus a sum and a square root;
 * - any other backend: the default.
 */

import * as tf from '@tensorflow/tfjs-core';
import { gradNorm } from '../kernels/ops.js';
import { fusedBackend, makeF32, once, readF32, registerCpuKernel, runProgram, type Uniform } from './kernel-support.js';

export const SUM_SQUARES_KERNEL = 'DumboSumSquares';

const WORKGROUP = 256;
/** Elements one thread squares, about, before its workgroup's reduction (the partials grow with the total). */
const PER_THREAD = 256;
/** The most partials (workgroups): past it, threads loop longer. */
const MAX_PARTIALS = 4096;

/** Gradients one launch reads on a device with these limits: all its storage buffers but the output and the carry. */
export function sumSquaresGroupSize(limits: { maxStorageBuffersPerShaderStage?: number }): number {
  return Math.max(1, (limits.maxStorageBuffersPerShaderStage ?? 8) - 2);
}

/** How many partial sums (workgroups) `total` elements get. */
export function partialCount(total: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(total / (WORKGROUP * PER_THREAD))));
}

/**
 * Partial sums of squares of `count` flat tensors (`g0`..): workgroup w's threads stride over every tensor
 * (stride: all the launch's threads), reduce in shared memory, and write partial w, plus `carry[w]` (the
 * previous group's partials) when `carried`.
 */
class SumSquaresProgram {
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly dispatchLayout = { x: [0] };
  readonly outputShape: number[];
  readonly variableNames: string[];
  readonly uniforms: string;
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    private readonly count: number,
    partials: number,
    private readonly carried: boolean,
  ) {
    this.outputShape = [partials];
    this.variableNames = [...Array.from({ length: count }, (_, k) => `g${k}`), ...(carried ? ['carry'] : [])];
    this.uniforms = Array.from({ length: count }, (_, k) => `n${k} : i32,`).join(' ');
    this.dispatch = [partials, 1, 1];
    this.shaderKey = `dumbo_sum_squares_${count}_${carried}`;
  }

  getUserCode(): string {
    const loops = Array.from(
      { length: this.count },
      (_, k) => `
        for (var i = start; i < uniforms.n${k}; i = i + stride) {
          let x = g${k}[i];
          acc = acc + x * x;
        }`,
    ).join('');
    return `
      var<workgroup> lanes : array<f32, ${WORKGROUP}>;
      fn main(index : i32) {
        let tid = i32(localId.x);
        let w = i32(workgroupId.x);
        let start = w * ${WORKGROUP} + tid;
        let stride = i32(numWorkgroups.x) * ${WORKGROUP};
        var acc = 0.0;${loops}
        lanes[tid] = acc;
        workgroupBarrier();
        for (var s = ${WORKGROUP / 2}; s > 0; s = s >> 1u) {
          if (tid < s) {
            lanes[tid] = lanes[tid] + lanes[tid + s];
          }
          workgroupBarrier();
        }
        if (tid == 0) {
          setOutputAtIndex(w, lanes[0]${this.carried ? ' + carry[w]' : ''});
        }
      }
    `;
  }
}

interface SumSquaresAttrs {
  count: number;
}

const registerSumSquares = once(() => {
  const listOf = (inputs: tf.NamedTensorInfoMap, count: number) =>
    Array.from({ length: count }, (_, k) => inputs[`g${k}`]!);
  registerCpuKernel({
    kernelName: SUM_SQUARES_KERNEL,
    kernelFunc: ({ inputs, backend, attrs }) => {
      let sum = 0;
      for (const t of listOf(inputs, (attrs as unknown as SumSquaresAttrs).count)) {
        const x = readF32(backend, t);
        for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
      }
      return makeF32(backend, [1], Float32Array.of(sum));
    },
  });
  tf.registerKernel({
    kernelName: SUM_SQUARES_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const all = listOf(inputs, (attrs as unknown as SumSquaresAttrs).count)
        .map((t) => ({ dataId: t.dataId, dtype: t.dtype, shape: [tf.util.sizeFromShape(t.shape)] }))
        .filter((t) => t.shape[0]! > 0);
      const partials = partialCount(all.reduce((s, t) => s + t.shape[0]!, 0));
      const limits = (backend as unknown as { device: { limits: Record<string, number> } }).device.limits;
      const per = sumSquaresGroupSize(limits);
      let carry: tf.TensorInfo | undefined;
      for (let start = 0; start < all.length; start += per) {
        const group = all.slice(start, start + per);
        const program = new SumSquaresProgram(group.length, partials, carry !== undefined);
        const uniforms: Uniform[] = group.map((t) => ({ type: 'int32', data: [t.shape[0]!] }));
        const out = runProgram(backend, program, carry ? [...group, carry] : group, uniforms);
        if (carry) (backend as tf.KernelBackend).disposeData(carry.dataId);
        carry = out;
      }
      return carry!;
    },
  });
});

/** The default's norm in a few launches on cpu and webgpu (see above); the default elsewhere. */
export const fusedGradNorm: typeof gradNorm = (tensors) => {
  if (!fusedBackend()) return gradNorm(tensors);
  if (tensors.every((t) => t.size === 0)) return tf.scalar(0);
  for (const [i, t] of tensors.entries()) {
    if (t.dtype !== 'float32') throw new Error(`grad_norm: tensor ${i} [${t.shape}] is ${t.dtype}, not float32`);
  }
  registerSumSquares();
  const inputs: tf.NamedTensorMap = {};
  tensors.forEach((t, k) => (inputs[`g${k}`] = t));
  return tf.tidy(() => {
    const partials = tf.engine().runKernel(SUM_SQUARES_KERNEL, inputs, {
      count: tensors.length,
    } as never) as tf.Tensor1D;
    return tf.sqrt(tf.sum(partials)) as tf.Scalar;
  });
};
