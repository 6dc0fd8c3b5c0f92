/**
 * What the engine changes in tfjs's WebGPU backend once it is created: a guard that refuses, by name and
 * shape, a kernel whose buffer the device cannot bind (and counts dispatches), and an AddN that fits the
 * device's storage-buffer limit. Part of webgpu.ts (see there).
 */

import * as tf from '@tensorflow/tfjs-core';
import { formatBytes, type GPUDeviceLike } from './webgpu-adapter.js';

/** The two methods of tfjs's WebGPUBackend the guard wraps. */
export interface ProgramRunner {
  runWebGPUProgram(
    program: { outputShape: number[]; constructor: { name: string } },
    inputs: tf.TensorInfo[],
    ...rest: unknown[]
  ): tf.TensorInfo;
  recordAndSubmit(...args: unknown[]): void;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 4 };

/**
 * Refuses, with the kernel's name and shape, a program whose input or output buffer exceeds `limit`, the
 * device's binding limit (Dawn would reject the bind group and leave the output unwritten); calls
 * `onDispatch` for each dispatch recorded.
 */
export function guardBindings(backend: ProgramRunner, limit: number, onDispatch: () => void): void {
  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (program, inputs, ...rest) => {
    const dtype = typeof rest[0] === 'string' ? rest[0] : 'float32';
    const out = program.outputShape.reduce((a, b) => a * b, 1) * (BYTES[dtype] ?? 4);
    const tooBig = [
      { what: 'output', shape: program.outputShape, bytes: out },
      ...inputs.map((t, i) => ({
        what: `input ${i}`,
        shape: t.shape,
        bytes: t.shape.reduce((a, b) => a * b, 1) * (BYTES[t.dtype] ?? 4),
      })),
    ].find((b) => b.bytes > limit);
    if (tooBig) {
      throw new Error(
        `${program.constructor.name.replace(/Program$/, '')} ${tooBig.what} [${tooBig.shape.join(', ')}] is ` +
          `${formatBytes(tooBig.bytes)}, above this GPU's maxStorageBufferBindingSize (${formatBytes(limit)}): ` +
          'lower batch_size or max_length',
      );
    }
    return run(program, inputs, ...rest);
  };
  const record = backend.recordAndSubmit.bind(backend);
  backend.recordAndSubmit = (...args) => {
    onDispatch();
    record(...args);
  };
}

/**
 * tfjs-webgpu's AddN binds all its inputs in one program; past the device's maxStorageBuffersPerShaderStage
 * (8 by default, 16 on many adapters) Dawn rejects the pipeline and the sum is never computed (the engine's
 * gradient norm adds one term per weight). This AddN adds in groups that fit, then adds the group sums.
 */
export function chunkAddN(): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original || (original.kernelFunc as { chunked?: boolean }).chunked) return;
  const kernelFunc = (args: Parameters<tf.KernelFunc>[0]) => {
    const backend = args.backend as unknown as { device: GPUDeviceLike; disposeData(id: tf.DataId): void };
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const fit = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage! - 1);
    if (inputs.length <= fit) return original.kernelFunc(args) as tf.TensorInfo;
    // Sums of groups that fit, then sums of those sums; the intermediate sums (never the caller's inputs) are
    // freed once added.
    const made = new Set<tf.TensorInfo>();
    let level: tf.TensorInfo[] = inputs;
    while (level.length > 1) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += fit) {
        const group = level.slice(i, i + fit);
        if (group.length === 1) {
          next.push(group[0]!);
          continue;
        }
        const sum = original.kernelFunc({ ...args, inputs: group as never }) as tf.TensorInfo;
        made.add(sum);
        next.push(sum);
        for (const t of group) if (made.has(t)) backend.disposeData(t.dataId);
      }
      level = next;
    }
    return level[0]!;
  };
  kernelFunc.chunked = true;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
