/**
 * What a custom kernel uses of the two backends that get ours (dropout's, liger's fused ops): the cpu
 * backend's synchronous reads and tensor making, and the webgpu backend's program interface. Declared by
 * shape, so the engine imports neither backend package for types.
 */

import type * as tf from '@tensorflow/tfjs-core';

/** What a cpu kernel uses of tfjs-backend-cpu. */
export interface CpuBackendLike extends tf.KernelBackend {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/** One uniform of a WebGPU program, in the order of its `uniforms` declaration. */
export interface Uniform {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

/** What a webgpu kernel uses of tfjs-backend-webgpu: its program interface. */
export interface WebGPUBackendLike extends tf.KernelBackend {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo;
}
