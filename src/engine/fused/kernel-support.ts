/**
 * What every fused op's kernels share: which backends get them, the cpu backend's reads and tensor making, the
 * webgpu backend's program runs, and registering a kernel for both backends once per process.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike, Uniform, WebGPUBackendLike } from '../kernels/backend-types.js';
import { isCpuAlias, registerCpuKernel } from '../native-cpu/cpu-alias.js';

export type { CpuBackendLike, Uniform, WebGPUBackendLike } from '../kernels/backend-types.js';

/** The backends with fused kernels (native-cpu runs the cpu ones, some in C); any other runs the default composition. */
export function fusedBackend(): 'cpu' | 'webgpu' | undefined {
  const name = tf.getBackend();
  if (isCpuAlias(name)) return 'cpu';
  return name === 'cpu' || name === 'webgpu' ? name : undefined;
}

export { registerCpuKernel };

/** A float32 input's values on the cpu backend (no copy). */
export function readF32(backend: object, t: tf.TensorInfo): Float32Array {
  return (backend as CpuBackendLike).readSync(t.dataId) as Float32Array;
}

export function makeF32(backend: object, shape: number[], values: Float32Array): tf.TensorInfo {
  return (backend as CpuBackendLike).makeTensorInfo(shape, 'float32', values);
}

export function runProgram(
  backend: object,
  program: object,
  inputs: tf.TensorInfo[],
  uniforms?: Uniform[],
): tf.TensorInfo {
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, inputs, 'float32', uniforms);
}

/** `register` run at the first call only: tfjs takes each kernel and gradient once per process. */
export function once(register: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    register();
  };
}

/** Registers kernel `name` for the cpu and the webgpu backend. */
export function registerKernel(name: string, cpu: tf.KernelFunc, webgpu: tf.KernelFunc): void {
  registerCpuKernel({ kernelName: name, kernelFunc: cpu });
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: webgpu });
}
