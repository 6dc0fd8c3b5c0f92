// The multi-tensor AdamW (src/engine/fused/adamw.ts) against the default per-tensor composition: three steps on
// random parameter sets (odd sizes, weight decay on and off) leave the same parameters and moments — bit for bit
// on cpu, within 1e-6 relative on WebGPU (the software adapter in CI; skipped, saying so, where there is none) —
// computed by the one kernel DumboAdamW, which on WebGPU takes ceil(tensors / group size) launches.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import {
  ADAMW_KERNEL,
  adamwGroupSize,
  adamwStep,
  fusedAdamW,
  type AdamWHyper,
} from '../../../src/engine/fused/adamw.js';
import { webgpuDispatches } from '../../../src/engine/webgpu.js';
import { probe, warnNoWebGPU } from './harness.js';

warnNoWebGPU('fused adamw');

type Update = typeof adamwStep;

/**
 * Odd sizes, nothing a multiple of a workgroup, one past the threads of a launch (262,144: its threads loop);
 * rank 2 and up decays, rank 1 does not.
 */
const SHAPES = [[7], [13, 5], [3, 9, 11], [1], [601, 503], [33], [5, 1]];

/** A GPT-2's parameter list, 12 layers, at a small width (the launches depend on the count, not the sizes). */
function gpt2Shapes(d = 16, vocab = 50, positions = 32): number[][] {
  const layer = [[d], [d], [d, 3 * d], [3 * d], [d, d], [d], [d], [d], [d, 4 * d], [4 * d], [4 * d, d], [d]];
  return [[vocab, d], [positions, d], ...Array.from({ length: 12 }, () => layer).flat(), [d], [d]];
}

/** Deterministic values in (-scale, scale): every run of a comparison starts from the same numbers. */
function values(size: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const HYPER = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const LRS = [1e-2, 3e-2, 5e-3];

/** Three steps of `update` from fresh variables; the final p, m, v of each tensor and the kernels of each step. */
async function threeSteps(update: Update, shapes: number[][], weightDecay: number, gradScale?: number, prescale = 1) {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const params = shapes.map((s, i) => tf.variable(tf.tensor(values(size(s), 11 + i), s), true));
  const m = shapes.map((s) => tf.variable(tf.zeros(s), false));
  const v = shapes.map((s) => tf.variable(tf.zeros(s), false));
  const kernels: string[][] = [];
  const dispatches: number[] = [];
  const before = tf.memory().numTensors;
  for (const [i, lr] of LRS.entries()) {
    const grads = shapes.map((s, k) => tf.tidy(() => tf.mul(tf.tensor(values(size(s), 100 * i + k, 2), s), prescale)));
    const hyper: AdamWHyper = { ...HYPER, lr, weightDecay, step: i + 1, ...(gradScale !== undefined && { gradScale }) };
    const d0 = webgpuDispatches();
    kernels.push((await tf.profile(() => update(params, grads, m, v, hyper))).kernelNames);
    dispatches.push(webgpuDispatches() - d0);
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
  }
  const out = await Promise.all([...params, ...m, ...v].map(async (t) => Float32Array.from(await t.data())));
  tf.dispose([...params, ...m, ...v]);
  return { out, kernels, dispatches };
}

/** max |a - b| / max |b|: the error relative to the reference's scale. */
function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

describe.each([
  { backend: 'cpu', skip: false, tolerance: 0 },
  { backend: 'webgpu', skip: !probe.adapter, tolerance: 1e-6 },
] as const)('fused AdamW on $backend', ({ backend, skip, tolerance }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  it.skipIf(skip).each([0.1, 0])(
    'three steps (weight decay %s) equal the default per-tensor update, in one DumboAdamW kernel per step',
    async (weightDecay) => {
      expect(tf.getBackend()).toBe(backend);
      const want = await threeSteps(adamwStep, SHAPES, weightDecay);
      const got = await threeSteps(fusedAdamW, SHAPES, weightDecay);
      got.out.forEach((t, i) => {
        const what = `${['param', 'm', 'v'][Math.floor(i / SHAPES.length)]} ${i % SHAPES.length}`;
        expect(t.length, what).toBe(want.out[i]!.length);
        if (tolerance === 0) expect([...t], what).toEqual([...want.out[i]!]);
        else expect(relError(t, want.out[i]!), what).toBeLessThan(tolerance);
      });
      // The parameters moved (a comparison of two no-ops would pass too).
      expect(relError(got.out[1]!, values(65, 12))).toBeGreaterThan(1e-3);
      for (const names of got.kernels) expect(names).toEqual([ADAMW_KERNEL]);
      expect(want.kernels[0]).not.toContain(ADAMW_KERNEL);
      if (backend === 'webgpu') {
        const launches = Math.ceil(SHAPES.length / adamwGroupSize(probe.adapter!.limits));
        expect(got.dispatches).toEqual([launches, launches, launches]);
      }
    },
  );
});

describe.each([
  { backend: 'cpu', skip: false, tolerance: 0 },
  { backend: 'webgpu', skip: !probe.adapter, tolerance: 1e-6 },
] as const)('AdamW with a gradient scale on $backend', ({ backend, skip, tolerance }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  it.skipIf(skip)('equals the update of gradients multiplied first, fused and default alike', async () => {
    const scale = 0.37;
    const premultiplied = await threeSteps(adamwStep, SHAPES, 0.1, undefined, scale);
    const unscaled = await threeSteps(adamwStep, SHAPES, 0.1);
    for (const update of [adamwStep, fusedAdamW]) {
      const got = await threeSteps(update, SHAPES, 0.1, scale);
      got.out.forEach((t, i) => {
        // the default multiplies exactly as the premultiplied gradients were: bit for bit on every backend
        if (tolerance === 0 || update === adamwStep) expect([...t], `${i}`).toEqual([...premultiplied.out[i]!]);
        else expect(relError(t, premultiplied.out[i]!), `${i}`).toBeLessThan(tolerance);
      });
      // The scale reached the update (m and v would equal the unscaled ones' otherwise).
      const m = SHAPES.length;
      expect(relError(got.out[m]!, unscaled.out[m]!)).toBeGreaterThan(0.5);
    }
    const fused = await threeSteps(fusedAdamW, SHAPES, 0.1, scale);
    if (backend === 'webgpu') {
      expect(fused.dispatches[0]).toBe(Math.ceil(SHAPES.length / adamwGroupSize(probe.adapter!.limits)));
    }
    for (const names of fused.kernels) expect(names).toEqual([ADAMW_KERNEL]);
  });
});

describe.skipIf(!probe.adapter)('fused AdamW launches on webgpu', () => {
  beforeAll(async () => {
    await initBackend('webgpu', { webgpu: { allowSoftware: true } });
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  it("updates a GPT-2's 148 tensors in ceil(148 / group size) launches, 14 or 15 per tensor by default", async () => {
    const shapes = gpt2Shapes();
    expect(shapes).toHaveLength(148);
    // Tensors this small would otherwise run on the CPU while they live there; a model's live on the GPU.
    const cpuForward = tf.env().getBool('WEBGPU_CPU_FORWARD');
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    try {
      const unfused = await threeSteps(adamwStep, shapes, 0.1);
      const fused = await threeSteps(fusedAdamW, shapes, 0.1);
      const group = adamwGroupSize(probe.adapter!.limits);
      console.info(
        `adamw launches per step for GPT-2's 148 tensors: ${unfused.dispatches[0]} per-tensor, ` +
          `${fused.dispatches[0]} fused (${group} tensors per launch)`,
      );
      expect(fused.dispatches).toEqual(Array(3).fill(Math.ceil(148 / group)));
      // 14 ops per tensor (m: 3, v: 4, the update: 7), one more for each of the 50 matrices that decay.
      expect(unfused.dispatches).toEqual(Array(3).fill(148 * 14 + 50));
      fused.out.forEach((t, i) => expect(relError(t, unfused.out[i]!), `tensor ${i}`).toBeLessThan(1e-6));
    } finally {
      tf.env().set('WEBGPU_CPU_FORWARD', cpuForward);
    }
  });
});

describe('fused AdamW arguments', () => {
  it('refuses lists of different lengths and a gradient of another size, and takes no params as a no-op', async () => {
    await initBackend('cpu');
    const p = tf.variable(tf.ones([2, 3]));
    const m = tf.variable(tf.zeros([2, 3]));
    const v = tf.variable(tf.zeros([2, 3]));
    const hyper: AdamWHyper = { ...HYPER, lr: 0.1, weightDecay: 0, step: 1 };
    expect(() => fusedAdamW([p], [], [m], [v], hyper)).toThrow(
      'adamw: 1 params, 0 grads, 1 first and 1 second moments',
    );
    const g = tf.ones([5]);
    expect(() => fusedAdamW([p], [g], [m], [v], hyper)).toThrow(
      'adamw: parameter 0 [2,3] float32 is given a float32 tensor [5]',
    );
    expect(() => fusedAdamW([], [], [], [], hyper)).not.toThrow();
    expect([...(await p.data())]).toEqual([1, 1, 1, 1, 1, 1]);
    tf.dispose([p, m, v, g]);
  });
});
