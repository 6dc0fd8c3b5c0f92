// The fused activations (src/engine/fused/activations.ts) against the default compositions of
// src/engine/kernels/ops.ts: forward and every input's gradient within 1e-4 relative, on the cpu backend and on
// WebGPU (the software adapter in CI; skipped, saying so, where there is none), with the fused kernels seen
// running, not a silent fallback.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import {
  fusedGeglu,
  fusedGeluNew,
  fusedSwiglu,
  GEGLU_KERNEL,
  GELU_NEW_KERNEL,
  SWIGLU_KERNEL,
} from '../../../src/engine/fused/activations.js';
import { geglu, geluNew, swiglu } from '../../../src/engine/kernels/ops.js';
import { BACKENDS, type Op, pass, relError, warnNoWebGPU } from './harness.js';

warnNoWebGPU('fused activations');

const SHAPE = [3, 7, 37]; // odd sizes, nothing a multiple of the workgroup

const CASES: { name: string; fused: Op; reference: Op; inputs: number; kernel: string }[] = [
  { name: 'gelu_new', fused: fusedGeluNew as Op, reference: geluNew as Op, inputs: 1, kernel: GELU_NEW_KERNEL },
  { name: 'swiglu', fused: fusedSwiglu as Op, reference: swiglu as Op, inputs: 2, kernel: SWIGLU_KERNEL },
  { name: 'geglu', fused: fusedGeglu as Op, reference: geglu as Op, inputs: 2, kernel: GEGLU_KERNEL },
];

describe.each(BACKENDS)('fused activations on $backend', ({ backend, skip }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });

  it.skipIf(skip).each(CASES)(
    '$name: forward and gradients equal the default composition, computed by its own kernels',
    async ({ fused, reference, inputs: n, kernel }) => {
      expect(tf.getBackend()).toBe(backend);
      // Scaled so that the tails (|x| up to ~12, where tanh and sigmoid saturate) are exercised.
      const inputs = Array.from({ length: n }, (_, i) => tf.mul(tf.randomNormal(SHAPE, 0, 1, 'float32', i + 1), 3));
      const dy = tf.randomNormal(SHAPE, 0, 1, 'float32', 9);
      const before = tf.memory().numTensors;
      const got = await pass(fused, inputs, dy);
      const want = await pass(reference, inputs, dy);
      expect(tf.memory().numTensors).toBe(before);
      got.values.forEach((v, i) => expect(relError(v, want.values[i]!), `output ${i}`).toBeLessThan(1e-4));
      expect(got.kernels).toContain(kernel);
      expect(got.kernels).toContain(`${kernel}Grad`);
      // Forward and backward are the fused kernels alone, besides what the harness runs around an identity op.
      const harness = await pass((x) => x, inputs.slice(0, 1), dy);
      expect(new Set(got.kernels)).toEqual(new Set([kernel, `${kernel}Grad`, ...harness.kernels]));
      tf.dispose([...inputs, dy]);
    },
  );
});

describe('fused activations elsewhere', () => {
  it('fall back to the default composition for gate and up of different shapes', async () => {
    await initBackend('cpu');
    const gate = tf.randomNormal<tf.Rank.R3>([2, 3, 5]);
    const up = tf.randomNormal<tf.Rank.R3>([1, 3, 5]);
    let out: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      out = fusedSwiglu(gate, up);
    });
    expect(info.kernelNames).not.toContain(SWIGLU_KERNEL);
    expect(relError(await out!.data(), await swiglu(gate, up).data())).toBe(0);
  });
});
