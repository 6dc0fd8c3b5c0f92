// The fused gradient norm (src/engine/fused/grad-norm.ts) against the kernel table's default `grad_norm`
// (src/engine/kernels/ops.ts): the same √(Σ Σ g²) within 1e-5 relative over odd-sized tensor lists (more
// tensors than one launch binds), on cpu and on WebGPU (the software adapter in CI; skipped, saying so, where
// there is none), by its one kernel; on WebGPU in ceil(tensors / group) launches plus a sum and a square root,
// where the default takes two or more per tensor. Empty tensors are skipped.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import {
  fusedGradNorm,
  partialCount,
  SUM_SQUARES_KERNEL,
  sumSquaresGroupSize,
} from '../../../src/engine/fused/grad-norm.js';
import { gradNorm } from '../../../src/engine/kernels/ops.js';
import { webgpuDispatches } from '../../../src/engine/webgpu.js';
import { BACKENDS, probe, warnNoWebGPU } from './harness.js';

warnNoWebGPU('fused grad norm');

/** Odd sizes; one of more elements than a partial's threads take in one pass (its threads loop). */
const SHAPES = [[7], [13, 5], [3, 9, 11], [1], [601, 503], [33]];
/** A GPT-2's list at a small width: 148 tensors, more than any launch binds. */
const GPT2 = [
  [50, 16],
  [32, 16],
  ...Array.from({ length: 12 }, () => [
    [16],
    [16],
    [16, 48],
    [48],
    [16, 16],
    [16],
    [16],
    [16],
    [16, 64],
    [64],
    [64, 16],
    [16],
  ]).flat(),
  [16],
  [16],
];

function tensors(shapes: number[][], seed: number): tf.Tensor[] {
  return shapes.map((s, i) => tf.randomNormal(s, 0, 1 + i, 'float32', seed + i));
}

async function norm(op: typeof gradNorm, ts: tf.Tensor[]) {
  const d0 = webgpuDispatches();
  let out: tf.Scalar | undefined;
  const info = await tf.profile(() => {
    out = op(ts);
  });
  const dispatches = webgpuDispatches() - d0;
  const value = (await out!.data())[0]!;
  out!.dispose();
  return { value, kernels: info.kernelNames, dispatches };
}

describe('partialCount and sumSquaresGroupSize', () => {
  it('gives one partial per 65,536 elements, 1 to 4096, and binds all storage buffers but two', () => {
    expect(partialCount(0)).toBe(1);
    expect(partialCount(65_536)).toBe(1);
    expect(partialCount(65_537)).toBe(2);
    expect(partialCount(124_000_000)).toBe(1893);
    expect(partialCount(1e12)).toBe(4096);
    expect(sumSquaresGroupSize({ maxStorageBuffersPerShaderStage: 16 })).toBe(14);
    expect(sumSquaresGroupSize({ maxStorageBuffersPerShaderStage: 8 })).toBe(6);
    expect(sumSquaresGroupSize({ maxStorageBuffersPerShaderStage: 2 })).toBe(1);
  });
});

describe.each(BACKENDS)('fused grad norm on $backend', ({ backend, skip }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });
  afterAll(async () => {
    if (!skip) await initBackend('cpu');
  });

  it.skipIf(skip).each([
    { what: 'odd sizes', shapes: SHAPES },
    { what: "a GPT-2's 148 tensors", shapes: GPT2 },
  ])('$what: the default norm within 1e-5, by its one kernel, leaking nothing', async ({ shapes }) => {
    expect(tf.getBackend()).toBe(backend);
    const ts = tensors(shapes, 5);
    const before = tf.memory().numTensors;
    const got = await norm(fusedGradNorm, ts);
    const want = await norm(gradNorm, ts);
    expect(tf.memory().numTensors).toBe(before);
    expect(want.value).toBeGreaterThan(1);
    expect(Math.abs(got.value - want.value) / want.value).toBeLessThan(1e-5);
    expect(got.kernels.filter((k) => k === SUM_SQUARES_KERNEL)).toHaveLength(1);
    expect(want.kernels).not.toContain(SUM_SQUARES_KERNEL);
    if (backend === 'webgpu') {
      const live = shapes.length;
      const launches = Math.ceil(live / sumSquaresGroupSize(probe.adapter!.limits));
      expect(got.dispatches).toBe(launches + 2); // the groups, then the partials' sum and its square root
      expect(want.dispatches).toBeGreaterThanOrEqual(2 * live);
    }
    tf.dispose(ts);
  });

  it.skipIf(skip)('skips empty tensors, gives 0 for none, and refuses an int tensor', async () => {
    expect((await norm(fusedGradNorm, [])).value).toBe(0);
    const empty = [tf.zeros([0]), tf.zeros([3, 0])];
    expect((await norm(fusedGradNorm, empty)).value).toBe(0);
    const some = [tf.tensor1d([3]), empty[0]!, tf.tensor1d([4])];
    expect((await norm(fusedGradNorm, some)).value).toBe(5);
    tf.dispose(some.filter((t) => t.size > 0));
    const ints = tf.ones([3], 'int32');
    expect(() => fusedGradNorm([tf.ones([2]), ints])).toThrow('grad_norm: tensor 1 [3] is int32, not float32');
    tf.dispose([...empty, ints]);
  });
});
