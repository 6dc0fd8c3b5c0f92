// The fused norms (src/engine/fused/norms.ts) against the default compositions of src/engine/kernels/ops.ts: forward and every input's gradient within 1e-4 relative, on the cpu backend and on
// WebGPU (the software adapter in CI; skipped, saying so, where there is none), with the fused kernels seen
// running, not a silent fallback.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import { fusedLayerNorm, fusedRmsNorm, LAYER_NORM_KERNEL, RMS_NORM_KERNEL } from '../../../src/engine/fused/norms.js';
import { layerNorm, rmsNorm } from '../../../src/engine/kernels/ops.js';
import { BACKENDS, pass, relError, warnNoWebGPU } from './harness.js';

warnNoWebGPU('fused norms');

const EPS = 1e-5;
type Op3 = (x: tf.Tensor3D, ...params: tf.Tensor[]) => tf.Tensor3D;
const ln =
  (norm: typeof layerNorm): Op3 =>
  (x, w, b) =>
    norm(x, w!, b!, EPS);
const rms =
  (norm: typeof rmsNorm): Op3 =>
  (x, w) =>
    norm(x, w!, EPS);

const CASES = [
  { name: 'layer_norm', fused: ln(fusedLayerNorm), reference: ln(layerNorm), params: 2, kernel: LAYER_NORM_KERNEL },
  { name: 'rms_norm', fused: rms(fusedRmsNorm), reference: rms(rmsNorm), params: 1, kernel: RMS_NORM_KERNEL },
];

// Odd widths below and above the 64-thread row workgroup, rows not a multiple of the 16 column-sum lanes, and
// more rows than WebGPU's 65,535 workgroups per dispatch dimension (tfjs-webgpu splits the dispatch; the
// workgroups past the last row must write nothing).
const SHAPES: [number, number, number][] = [
  [3, 7, 37],
  [2, 9, 131],
  [1, 65601, 3],
];

describe.each(BACKENDS)('fused norms on $backend', ({ backend, skip }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });

  describe.each(SHAPES)('x of shape [%i, %i, %i]', (...shape) => {
    it.skipIf(skip).each(CASES)(
      '$name: forward and the gradients of x, weight (and bias) equal the default composition, by its own kernels',
      async ({ fused, reference, params: n, kernel }) => {
        expect(tf.getBackend()).toBe(backend);
        const cols = shape[2];
        // An offset and a spread per row, so that the mean and the variance both matter.
        const x = tf.tidy(() =>
          tf.add(
            tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 1), 2),
            tf.randomNormal([...shape.slice(0, 2), 1], 0, 1, 'float32', 2),
          ),
        );
        const params = Array.from({ length: n }, (_, i) => tf.randomNormal([cols], 1, 0.5, 'float32', 3 + i));
        const dy = tf.randomNormal(shape, 0, 1, 'float32', 9);
        const inputs = [x, ...params];
        const op =
          (f: Op3) =>
          (...xs: tf.Tensor[]) =>
            f(xs[0] as tf.Tensor3D, ...xs.slice(1));
        const before = tf.memory().numTensors;
        const got = await pass(op(fused), inputs, dy);
        const want = await pass(op(reference), inputs, dy);
        expect(tf.memory().numTensors).toBe(before);
        got.values.forEach((v, i) => expect(relError(v, want.values[i]!), `output ${i}`).toBeLessThan(1e-4));
        // Forward and backward are the fused kernels alone, besides what the harness runs around an identity op.
        const harness = await pass((t) => t, [x], dy);
        expect(new Set(got.kernels)).toEqual(new Set([kernel, `${kernel}Grad`, ...harness.kernels]));
        tf.dispose([...inputs, dy]);
      },
    );
  });
});

describe('fused norms elsewhere', () => {
  it('fall back to the default composition for a weight that only broadcasts', async () => {
    await initBackend('cpu');
    const x = tf.randomNormal<tf.Rank.R3>([2, 3, 5]);
    const weight = tf.randomNormal([1, 5]);
    let out: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      out = fusedRmsNorm(x, weight, EPS);
    });
    expect(info.kernelNames).not.toContain(RMS_NORM_KERNEL);
    expect(relError(await out!.data(), await rmsNorm(x, weight, EPS).data())).toBe(0);
  });

  it('keep no statistics when no gradient is recorded', async () => {
    await initBackend('cpu');
    const x = tf.randomNormal<tf.Rank.R3>([2, 3, 5]);
    const [w, b] = [tf.ones([5]), tf.zeros([5])];
    const before = tf.memory().numTensors;
    const y = fusedLayerNorm(x, w, b, EPS);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, w, b, y]);
  });
});
