// The engine's own kernels on the cpu backend (tests/engine/webgpu.test.ts runs them on WebGPU against
// these): seeded dropout and the gradients that replace tfjs's host-built ones.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { DROPOUT_KERNEL, mix32, seededDropout } from '../../src/engine/kernels/dropout.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('seeded dropout', () => {
  const x = () => tf.fill([200, 500], 3);

  it('keeps about 1 - rate of the elements, scaled by 1 / (1 - rate), the same ones for the same seed', async () => {
    const input = x();
    const a = await seededDropout(input, 0.25, 12345).data();
    const b = await seededDropout(input, 0.25, 12345).data();
    const c = await seededDropout(input, 0.25, 12346).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const kept = a.filter((v) => v !== 0);
    expect(Math.abs(kept.length / a.length - 0.75)).toBeLessThan(0.01);
    expect(new Set(kept)).toEqual(new Set([Math.fround(3 * Math.fround(1 / 0.75))]));
    input.dispose();
  });

  it('draws element i by mix32(i ^ mix32(seed)), independent of the shape around it', async () => {
    const seed = 7;
    const flat = await seededDropout(tf.ones([64]), 0.5, seed).data();
    const square = await seededDropout(tf.ones([8, 8]), 0.5, seed).data();
    expect(Array.from(square)).toEqual(Array.from(flat));
    const key = mix32(seed);
    flat.forEach((v, i) => expect(v === 2, `element ${i}`).toBe(mix32(i ^ key) < 2 ** 31));
  });

  it('has the mask itself as gradient (redrawn from the seed, not stored)', async () => {
    const input = tf.randomNormal([30, 40]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(seededDropout(t, 0.3, 99), 2)))(input);
    const mask = await seededDropout(tf.onesLike(input), 0.3, 99).data();
    expect(Array.from(await g.data())).toEqual(Array.from(mask).map((m) => Math.fround(m * 2)));
    input.dispose();
  });

  it('a backend without the kernel multiplies by the same mask, built on the host', async () => {
    const input = tf.randomNormal([17, 23]);
    const withKernel = await seededDropout(input, 0.4, 5).data();
    const config = tf.getKernel(DROPOUT_KERNEL, 'cpu')!;
    tf.unregisterKernel(DROPOUT_KERNEL, 'cpu');
    // x · 0 is -0 for a negative x where the kernel writes 0: the same numbers (-0 + 0 is +0).
    const same = (v: ArrayLike<number>) => Array.from(v, (x) => x + 0);
    try {
      expect(same(await seededDropout(input, 0.4, 5).data())).toEqual(same(withKernel));
    } finally {
      tf.registerKernel(config);
    }
    input.dispose();
  });
});

describe('gradients computed on the device', () => {
  it('of sum and mean equal dy broadcast over the reduced axes (divided by the count for mean)', async () => {
    const x = tf.randomNormal([3, 4, 5]);
    const dy = tf.randomNormal([3, 1, 5]);
    const [gSum] = tf.grads((t: tf.Tensor) => tf.mul(tf.sum(t, 1, true), dy))([x]);
    const [gMean] = tf.grads((t: tf.Tensor) => tf.mul(tf.mean(t, 1, true), dy))([x]);
    const expected = await tf.broadcastTo(dy, [3, 4, 5]).data();
    expect(Array.from(await gSum!.data())).toEqual(Array.from(expected));
    expect(Array.from(await gMean!.data())).toEqual(Array.from(expected).map((v) => Math.fround(v / 4)));
  });
});
