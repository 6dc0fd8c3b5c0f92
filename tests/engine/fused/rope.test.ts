// The fused RoPE (src/engine/fused/rope.ts) against the default composition of src/engine/kernels/ops.ts: q', k'
// and the gradients of q and k within 1e-4 relative, on the cpu backend and on WebGPU (the software adapter in
// CI; skipped, saying so, where there is none), with the fused kernels seen running, not a silent fallback.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import { fusedRope, ROPE_GRAD_KERNEL, ROPE_KERNEL } from '../../../src/engine/fused/rope.js';
import { rope } from '../../../src/engine/kernels/ops.js';
import { BACKENDS, relError, warnNoWebGPU } from './harness.js';

warnNoWebGPU('fused rope');

type Rope = typeof rope;

/** q', k' and the gradients of q and k under random upstream gradients, and the kernels that ran. */
async function pass(op: Rope, q: tf.Tensor4D, k: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, dys: tf.Tensor[]) {
  let out: tf.Tensor[] = [];
  const loss = (a: tf.Tensor, b: tf.Tensor) => {
    const [qr, kr] = op(a as tf.Tensor4D, b as tf.Tensor4D, cos, sin);
    return tf.add(tf.sum(tf.mul(qr, dys[0]!)), tf.sum(tf.mul(kr, dys[1]!)));
  };
  const info = await tf.profile(() => {
    const { value, grads } = tf.valueAndGrads(loss)([q, k]);
    out = [...tf.tidy(() => op(q, k, cos, sin)), ...grads];
    value.dispose();
  });
  const values = await Promise.all(out.map((t) => t.data()));
  tf.dispose(out);
  return { values, kernels: info.kernelNames };
}

/** The models' tables: each frequency in both halves (llama.ts's ropeTables), for positions 0..T-1. */
function tables(T: number, hs: number): [tf.Tensor2D, tf.Tensor2D] {
  const half = hs / 2;
  const angle = (t: number, j: number) => t / 10000 ** ((j % half) / half);
  const at = (f: (a: number) => number) =>
    tf.tensor2d(
      Array.from({ length: T * hs }, (_, i) => f(angle(Math.floor(i / hs), i % hs))),
      [T, hs],
    );
  return [at(Math.cos), at(Math.sin)];
}

// [B, heads, kv heads, T, hs]: T odd, hs/2 odd, grouped key/value heads.
const SHAPES: [number, number, number, number, number][] = [
  [2, 3, 1, 5, 8],
  [1, 4, 2, 7, 6],
];

describe.each(BACKENDS)('fused rope on $backend', ({ backend, skip }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });

  it.skipIf(skip).each(SHAPES)(
    "B %i, %i heads, %i kv heads, T %i, hs %i: q', k' and the gradients of q and k equal the default, by its own kernels",
    async (B, nh, nkv, T, hs) => {
      expect(tf.getBackend()).toBe(backend);
      const q = tf.randomNormal<tf.Rank.R4>([B, nh, T, hs], 0, 1, 'float32', 1);
      const k = tf.randomNormal<tf.Rank.R4>([B, nkv, T, hs], 0, 1, 'float32', 2);
      const dys = [tf.randomNormal(q.shape, 0, 1, 'float32', 3), tf.randomNormal(k.shape, 0, 1, 'float32', 4)];
      // The models' tables, and arbitrary ones (the backward is the transpose for any tables, not only rotations).
      const random = [5, 6].map((seed) => tf.randomNormal<tf.Rank.R2>([T, hs], 0, 1, 'float32', seed));
      for (const [cos, sin] of [tables(T, hs), random as [tf.Tensor2D, tf.Tensor2D]]) {
        const before = tf.memory().numTensors;
        const got = await pass(fusedRope, q, k, cos, sin, dys);
        const want = await pass(rope, q, k, cos, sin, dys);
        expect(tf.memory().numTensors).toBe(before);
        got.values.forEach((v, i) => expect(relError(v, want.values[i]!), `output ${i}`).toBeLessThan(1e-4));
        expect(got.kernels.filter((n) => n.startsWith('Dumbo'))).toEqual([ROPE_KERNEL, ROPE_GRAD_KERNEL]);
        // Nothing of the default composition ran (the harness's loss is Multiply, Sum and Add).
        for (const op of ['Concat', 'Slice', 'SplitV', 'Neg']) expect(got.kernels).not.toContain(op);
        tf.dispose([cos, sin]);
      }
      tf.dispose([q, k, ...dys]);
    },
  );
});

describe('fused rope elsewhere', () => {
  it('gives cos and sin no gradient: they are constant tables', async () => {
    await initBackend('cpu');
    const q = tf.randomNormal<tf.Rank.R4>([1, 2, 3, 4]);
    const [cos, sin] = tables(3, 4);
    const f = (c: tf.Tensor) => tf.sum(fusedRope(q, q, c as tf.Tensor2D, sin)[0]);
    expect(() => tf.grad(f)(cos)).toThrow(/Cannot backprop through input cos/);
  });

  it('falls back to the default composition for tables that only broadcast', async () => {
    await initBackend('cpu');
    const q = tf.randomNormal<tf.Rank.R4>([1, 2, 3, 4]);
    const cos = tf.randomNormal<tf.Rank.R2>([1, 4]);
    let out: tf.Tensor[] = [];
    const info = await tf.profile(() => {
      out = fusedRope(q, q, cos, cos);
    });
    expect(info.kernelNames).not.toContain(ROPE_KERNEL);
    expect(relError(await out[0]!.data(), await rope(q, q, cos, cos)[0].data())).toBe(0);
  });
});
