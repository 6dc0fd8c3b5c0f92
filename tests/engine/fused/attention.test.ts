// Fused attention (src/engine/fused/attention.ts) against the default composition (kernels/attention.ts):
// the output and the gradients of q, k and v agree within 1e-4 relative on odd shapes (T = 1, 7, 33, 41, 70, not
// a multiple of any tile), grouped kv heads, GPT-Neo's window and a KV cache, on the cpu backend and on
// WebGPU (the software adapter in CI; skipped, saying so, where there is none); with attention dropout too,
// whose mask must be seeded dropout's on the default's [B, H, T, S] probabilities. The fused kernels must be
// the ones that ran, and the forward never holds a [B, H, T, T] tensor.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { setConsoleLogLevel } from '../../../src/core/index.js';
import { initBackend, readTensor } from '../../../src/engine/backend.js';
import {
  FLASH_ATTENTION_GRAD_KERNEL,
  FLASH_ATTENTION_KERNEL,
  fusedAttention,
  registerFlashAttentionKernels,
} from '../../../src/engine/fused/attention.js';
import { causalAttention, type AttentionOptions } from '../../../src/engine/kernels/attention.js';
import { formatAdapter, probeWebGPU } from '../../../src/engine/webgpu.js';
import { relError } from './harness.js';

const probe = await probeWebGPU({});
if (!probe.adapter)
  console.warn(`fused attention: no WebGPU adapter here, skipping its WebGPU tests (${probe.reason})`);
const where = probe.adapter ? `on ${formatAdapter(probe.adapter)}` : `skipped: no WebGPU adapter (${probe.reason})`;

const TOL = 1e-4;

interface Case {
  B: number;
  nh: number;
  nkv: number;
  T: number;
  hs: number;
  /** Keys already in the KV cache before these T queries. */
  past?: number;
  window?: number;
}

const CASES: Case[] = [
  { B: 1, nh: 1, nkv: 1, T: 1, hs: 4 },
  { B: 2, nh: 4, nkv: 2, T: 7, hs: 8 },
  { B: 1, nh: 4, nkv: 2, T: 33, hs: 16 },
  { B: 2, nh: 4, nkv: 2, T: 33, hs: 4, window: 5 },
  { B: 1, nh: 4, nkv: 2, T: 70, hs: 8, window: 40 },
  { B: 1, nh: 2, nkv: 1, T: 70, hs: 16 },
  { B: 2, nh: 4, nkv: 2, T: 7, hs: 8, past: 9 },
  { B: 1, nh: 4, nkv: 2, T: 1, hs: 16, past: 33, window: 8 },
  { B: 1, nh: 2, nkv: 1, T: 41, hs: 64, window: 20 }, // GPT-2's head size: tiles of 16 keys on webgpu
  { B: 1, nh: 2, nkv: 2, T: 35, hs: 6 }, // not a multiple of 4: scalar rows on webgpu
];

/** Dropout cases: odd T, grouped kv heads, a window, a KV cache (S > T), and GPT-2's head size. */
const DROPOUT_CASES: Case[] = [
  { B: 2, nh: 4, nkv: 2, T: 33, hs: 4, window: 5 },
  { B: 2, nh: 4, nkv: 2, T: 7, hs: 8, past: 9 },
  { B: 1, nh: 4, nkv: 2, T: 1, hs: 16, past: 33, window: 8 },
  { B: 1, nh: 2, nkv: 1, T: 41, hs: 64, window: 20 },
  { B: 1, nh: 2, nkv: 2, T: 35, hs: 6 },
];

/** (rate, seed) pairs: GPT-2's rate and a heavy one, several seeds (one past 2³¹, as seeds may be). */
const DROPOUT_DRAWS: [number, number][] = [
  [0.1, 1],
  [0.1, 0x9e3779b9],
  [0.5, 7],
  [0.5, 12345],
];

const label = (c: Case) =>
  `B ${c.B}, ${c.nh} query heads over ${c.nkv} kv heads, T ${c.T}, head size ${c.hs}` +
  (c.past ? `, ${c.past} cached keys` : '') +
  (c.window ? `, window ${c.window}` : '');

type Attention = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions) => tf.Tensor4D;

/** The output and dq, dk, dv under a random upstream gradient, on the host. */
async function run(
  f: Attention,
  c: Case,
  seed: number,
  dropout?: AttentionOptions['dropout'],
): Promise<Float32Array[]> {
  const S = (c.past ?? 0) + c.T;
  // q at twice the spread of k: sharper rows than N(0, 1) logits give, so the max-subtraction matters.
  const q = tf.randomNormal([c.B, c.nh, c.T, c.hs], 0, 2, 'float32', seed) as tf.Tensor4D;
  const k = tf.randomNormal([c.B, c.nkv, S, c.hs], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
  const v = tf.randomNormal([c.B, c.nkv, S, c.hs], 0, 1, 'float32', seed + 2) as tf.Tensor4D;
  const dy = tf.randomNormal([c.B, c.nh, c.T, c.hs], 0, 1, 'float32', seed + 3);
  const options: AttentionOptions = { scale: 1 / Math.sqrt(c.hs), window: c.window, dropout };
  const out = f(q, k, v, options);
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
    tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, options), dy)),
  )([q, k, v]);
  // readTensor: a GPU error (a shader WebGPU rejected) fails the read instead of reading zeros.
  const host = await Promise.all([out, ...grads].map(async (t) => Float32Array.from(await readTensor(t))));
  tf.dispose([q, k, v, dy, out, ...grads]);
  return host;
}

/** Spies on the fused kernels of `backend`: how often each ran. */
function spyKernels(backend: string) {
  registerFlashAttentionKernels();
  const forward = tf.getKernel(FLASH_ATTENTION_KERNEL, backend);
  const backward = tf.getKernel(FLASH_ATTENTION_GRAD_KERNEL, backend);
  expect(forward, `${FLASH_ATTENTION_KERNEL} on ${backend}`).toBeDefined();
  expect(backward, `${FLASH_ATTENTION_GRAD_KERNEL} on ${backend}`).toBeDefined();
  return { forward: vi.spyOn(forward!, 'kernelFunc'), backward: vi.spyOn(backward!, 'kernelFunc') };
}

function backendTests(backend: 'cpu' | 'webgpu') {
  it.each(CASES.map((c) => [label(c), c] as const))(
    'equals the default composition, output and dq, dk, dv within 1e-4 relative: %s',
    async (_label, c) => {
      const spies = spyKernels(backend);
      const before = tf.memory().numTensors;
      // The kernels' own buffers (packed outputs, D) are the backend's, invisible to numTensors.
      const buffersBefore = tf.engine().backend.numDataIds();
      const fused = await run(fusedAttention, c, 17);
      expect(spies.forward).toHaveBeenCalledTimes(2); // the plain forward, and the one tf.grads records
      expect(spies.backward).toHaveBeenCalledTimes(1);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      expect(tf.engine().backend.numDataIds(), 'backend buffers left behind').toBe(buffersBefore);
      const reference = await run(causalAttention, c, 17);
      ['output', 'dq', 'dk', 'dv'].forEach((what, i) => {
        expect(relError(fused[i]!, reference[i]!), what).toBeLessThan(TOL);
      });
    },
  );

  it.each(DROPOUT_CASES.map((c) => [label(c), c] as const))(
    'with attention dropout, draws seeded dropout’s mask: output and dq, dk, dv within 1e-4 relative: %s',
    async (_label, c) => {
      for (const [rate, seed] of DROPOUT_DRAWS) {
        const spies = spyKernels(backend);
        const fused = await run(fusedAttention, c, 23, { rate, seed });
        expect(spies.forward, `rate ${rate}, seed ${seed}`).toHaveBeenCalledTimes(2);
        expect(spies.backward, `rate ${rate}, seed ${seed}`).toHaveBeenCalledTimes(1);
        const reference = await run(causalAttention, c, 23, { rate, seed });
        ['output', 'dq', 'dk', 'dv'].forEach((what, i) => {
          expect(relError(fused[i]!, reference[i]!), `${what}, rate ${rate}, seed ${seed}`).toBeLessThan(TOL);
        });
        vi.restoreAllMocks();
      }
    },
  );

  it('with attention dropout, another seed’s mask is far outside the tolerance (the comparison can fail)', async () => {
    const c = DROPOUT_CASES[0]!;
    const fused = await run(fusedAttention, c, 23, { rate: 0.5, seed: 8 });
    const reference = await run(causalAttention, c, 23, { rate: 0.5, seed: 9 });
    ['output', 'dq', 'dk', 'dv'].forEach((what, i) => {
      expect(relError(fused[i]!, reference[i]!), what).toBeGreaterThan(100 * TOL);
    });
  });

  it('never holds the [B, H, T, T] scores in the forward (the default does)', async () => {
    const [B, nh, nkv, T, hs] = [1, 4, 2, 256, 8];
    const scoreBytes = B * nh * T * T * 4; // 1 MiB, 32 times q's size
    const q = tf.randomNormal([B, nh, T, hs], 0, 1, 'float32', 1) as tf.Tensor4D;
    const k = tf.randomNormal([B, nkv, T, hs], 0, 1, 'float32', 2) as tf.Tensor4D;
    const v = tf.randomNormal([B, nkv, T, hs], 0, 1, 'float32', 3) as tf.Tensor4D;
    const peakOf = async (f: Attention) => {
      const start = tf.memory().numBytes;
      const profile = await tf.profile(() => f(q, k, v, { scale: 0.35 }));
      tf.dispose(profile.result as tf.Tensor);
      return profile.peakBytes - start;
    };
    const spies = spyKernels(backend);
    const fusedPeak = await peakOf(fusedAttention);
    expect(spies.forward).toHaveBeenCalledTimes(1);
    expect(fusedPeak).toBeLessThan(scoreBytes / 8);
    // The measure sees a [B, H, T, T] tensor when there is one.
    expect(await peakOf(causalAttention)).toBeGreaterThanOrEqual(scoreBytes);
    tf.dispose([q, k, v]);
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('fused attention on the cpu backend', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  backendTests('cpu');
});

// Each new head size compiles its pipelines on the CPU-emulated adapter: slow when other tests share the cores.
describe.skipIf(!probe.adapter)(`fused attention on WebGPU ${where}`, { timeout: 180_000 }, () => {
  beforeAll(async () => {
    setConsoleLogLevel('off');
    await initBackend('webgpu', { webgpu: { allowSoftware: true } });
  });
  afterAll(async () => {
    setConsoleLogLevel('info');
    await initBackend('cpu');
  });

  backendTests('webgpu');

  it('runs 3 programs forward and 5 backward, none of them writing a buffer of [B, H, T, T] floats', async () => {
    const c: Case = { B: 1, nh: 4, nkv: 2, T: 64, hs: 8 };
    const backend = tf.backend() as unknown as {
      runWebGPUProgram: (p: { outputShape: number[]; shaderKey: string }) => unknown;
    };
    const programs = vi.spyOn(backend, 'runWebGPUProgram');
    const spies = spyKernels('webgpu');
    await run(fusedAttention, c, 5);
    expect(spies.backward).toHaveBeenCalledTimes(1);
    // Two forwards (plain, recorded) and one backward; the rest is tf.grads' own sum, mul and ones.
    const fusedPrograms = programs.mock.calls.filter(([p]) => /^dumbo_flash/.test(p.shaderKey));
    expect(fusedPrograms).toHaveLength(2 * 3 + 5);
    const largest = Math.max(...fusedPrograms.map(([p]) => tf.util.sizeFromShape(p.outputShape)));
    expect(largest).toBeLessThan(c.B * c.nh * c.T * c.T);
  });
});
