/**
 * native-cpu's BatchMatMul and _FusedMatMul (tf.matMul, tf.fused.matMul, and every matmul their gradients
 * take): the product through the addon's BLAS, with tfjs-cpu's semantics — transposes, the batch dimensions
 * broadcast as tfjs-cpu broadcasts them (entry b reads a[b % batchA] and b[b % batchB]) — and, for the fused
 * kernel, the bias and activation by tfjs-cpu's own kernels. What the BLAS path does not take (a dtype other
 * than float32, batch shapes tfjs-cpu itself gets wrong) goes to tfjs-cpu's kernel unchanged.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike } from '../kernels/backend-types.js';
import { float32Values, type NativeAddon } from './addon.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** tfjs-cpu's kernel `name`, for what ours hands back. */
function cpuKernel(name: string): tf.KernelFunc {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`native-cpu: tfjs-cpu has no kernel ${name}`);
  return k.kernelFunc;
}

/** The product of a and b as a new tensor, or undefined where tfjs-cpu's kernel should take it. */
function product(
  addon: NativeAddon,
  backend: CpuBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA, transposeB }: MatMulAttrs,
): tf.TensorInfo | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const [M, K] = transposeA ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [K2, N] = transposeB ? [b.shape[rb - 1]!, b.shape[rb - 2]!] : [b.shape[rb - 2]!, b.shape[rb - 1]!];
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const [batchA, batchB] = [a, b].map((t) => tf.util.sizeFromShape(t.shape.slice(0, -2)));
  const batch = tf.util.sizeFromShape(outer);
  // tfjs-cpu's kernel checks the inner sizes and says so; and it sizes the output by max(batchA, batchB).
  if (K !== K2 || batch !== Math.max(batchA!, batchB!)) return undefined;
  const out = new Float32Array(batch * M * N);
  const [va, vb] = [a, b].map((t) => float32Values(backend, t));
  addon.matmul(va!, vb!, out, batch, batchA!, batchB!, M, N, K, transposeA, transposeB);
  return backend.makeTensorInfo([...outer, M, N], 'float32', out);
}

/** Activations of _FusedMatMul: tfjs-cpu's kernel for each, and how it is called. */
function activate(
  backend: CpuBackendLike,
  x: tf.TensorInfo,
  activation: string,
  prelu: tf.TensorInfo | undefined,
  leakyreluAlpha: number | undefined,
): tf.TensorInfo {
  const run = (name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}) =>
    cpuKernel(name)({ inputs, backend, attrs }) as tf.TensorInfo;
  switch (activation) {
    case 'linear':
      return run('Identity', { x });
    case 'relu':
      return run('Relu', { x });
    case 'relu6':
      return run('Relu6', { x });
    case 'elu':
      return run('Elu', { x });
    case 'sigmoid':
      return run('Sigmoid', { x });
    case 'leakyrelu':
      return run('LeakyRelu', { x }, { alpha: leakyreluAlpha ?? 0.2 });
    case 'prelu':
      return run('Prelu', { x, alpha: prelu! });
    default:
      throw new Error(`Activation ${activation} has not been implemented for the CPU backend.`);
  }
}

/** The kernels for tfjs's BatchMatMul and _FusedMatMul on native-cpu. */
export function matmulKernels(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  const batchMatMul: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs;
    const backend = args.backend as CpuBackendLike;
    return product(addon(), backend, a!, b!, args.attrs as unknown as MatMulAttrs) ?? cpuKernel(tf.BatchMatMul)(args);
  };
  const fusedMatMul: tf.KernelFunc = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const backend = args.backend as CpuBackendLike;
    const attrs = args.attrs as unknown as MatMulAttrs & { activation?: string; leakyreluAlpha?: number };
    let current = product(addon(), backend, a!, b!, attrs);
    if (!current) return cpuKernel(tf._FusedMatMul)(args);
    if (bias) {
      const sum = cpuKernel(tf.Add)({ inputs: { a: current, b: bias }, backend, attrs: {} }) as tf.TensorInfo;
      backend.disposeData(current.dataId);
      current = sum;
    }
    if (attrs.activation) {
      const y = activate(backend, current, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha);
      backend.disposeData(current.dataId);
      current = y;
    }
    return current;
  };
  return [
    [tf.BatchMatMul, batchMatMul],
    [tf._FusedMatMul, fusedMatMul],
  ];
}
