import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import { Rng } from '../../../src/engine/random.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const rng = new Rng(5);

/** Values away from 0 (|x| in [0.2, 1.2]), so kinks (relu, abs, max) are not within eps of any entry. */
function values(shape: number[], positive = false): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => (positive || rng.uniform() < 0.5 ? 1 : -1) * (0.2 + rng.uniform()));
}

/**
 * The kernel gradients the models and the loss rely on (tfjs's own, registered by initBackend) — each
 * checked like llm.c checks its kernels. Checks tf.grads of sum(f(xs) · R) (R random) against central finite differences, at every entry of every
 * input: the registered gradient of each kernel f uses.
 */
function check(f: (...xs: tf.Tensor[]) => tf.Tensor, shapes: number[][], positive = false): void {
  const data = shapes.map((s) => values(s, positive));
  const xs = shapes.map((s, i) => tf.tensor(data[i]!, s));
  const y = f(...xs);
  const R = tf.tensor(values(y.shape), y.shape);
  const objective = (...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), R));
  const grads = tf
    .grads(objective)(xs)
    .map((g) => g.dataSync());
  const at = (i: number, j: number, delta: number) =>
    tf.tidy(() => {
      const moved = data[i]!.slice();
      moved[j]! += delta;
      const args = xs.map((x, k) => (k === i ? tf.tensor(moved, x.shape) : x));
      return objective(...args).dataSync()[0]!;
    });
  const eps = 1e-2;
  for (const [i, g] of grads.entries()) {
    expect(g.length).toBe(data[i]!.length);
    for (let j = 0; j < g.length; j++) {
      const numeric = (at(i, j, eps) - at(i, j, -eps)) / (2 * eps);
      expect(Math.abs(numeric - g[j]!), `input ${i}[${j}]: analytic ${g[j]}, numeric ${numeric}`).toBeLessThan(
        2e-3 + 1e-2 * Math.abs(g[j]!),
      );
    }
  }
  tf.dispose([...xs, y, R]);
}

describe('kernel gradients the models use, against central finite differences', () => {
  it('elementwise binary ops, with broadcasting summed back to each operand', () => {
    check((a, b) => tf.add(a, b), [[2, 3], [3]]);
    check(
      (a, b) => tf.sub(a, b),
      [
        [2, 3],
        [2, 1],
      ],
    );
    check(
      (a, b) => tf.mul(a, b),
      [
        [2, 1, 3],
        [4, 1],
      ],
    );
    check(
      (a, b) => tf.div(a, b),
      [
        [2, 3],
        [2, 3],
      ],
    );
    // tfjs's Maximum/Minimum gradients do not sum broadcast dimensions back: use them on equal shapes only.
    check(
      (a, b) => tf.maximum(a, b),
      [
        [2, 3],
        [2, 3],
      ],
    );
    check(
      (a, b) => tf.minimum(a, b),
      [
        [2, 3],
        [2, 3],
      ],
    );
    check((a) => tf.pow(a, 3), [[2, 3]]);
    check((a, b) => tf.pow(a, b), [[2, 3], [3]], true);
  });

  it('elementwise unary ops', () => {
    for (const f of [tf.neg, tf.exp, tf.square, tf.abs, tf.sigmoid, tf.tanh, tf.erf, tf.relu])
      check((x) => f(x), [[3, 4]]);
    for (const f of [tf.log, tf.sqrt, tf.rsqrt]) check((x) => f(x), [[3, 4]], true);
    check((x) => tf.cast(x, 'float32'), [[2, 2]]);
    check((x) => tf.clone(x), [[2, 2]]);
  });

  it('shape ops: reshape, transpose, slice, split, concat, gather, where', () => {
    check((x) => tf.reshape(x, [3, 4]), [[2, 6]]);
    check((x) => tf.transpose(x, [2, 0, 1]), [[2, 3, 4]]);
    check((x) => tf.slice(x, [1, 0, 2], [1, -1, 2]), [[2, 3, 4]]);
    check((x) => tf.slice(x, 1, 2), [[4, 3]]);
    check(
      (x) => {
        const [a, b] = tf.split(x, [1, 3], 1);
        return tf.mul(a!, tf.sum(b!, 1, true));
      },
      [[2, 4]],
    );
    check(
      (a, b) => tf.concat([a, b], -1),
      [
        [2, 3],
        [2, 1],
      ],
    );
    check(
      (x) =>
        tf.gather(
          x,
          tf.tensor2d(
            [
              [0, 2],
              [2, 2],
            ],
            [2, 2],
            'int32',
          ),
        ),
      [[3, 4]],
    );
    check(
      (a, b) => tf.where(tf.tensor2d([[true, false, true]], [1, 3], 'bool'), a, b),
      [
        [1, 3],
        [1, 3],
      ],
    );
  });

  it('reductions, softmax and log-sum-exp', () => {
    check((x) => tf.sum(x, 1), [[3, 4]]);
    check((x) => tf.sum(x, [0, 2], true), [[2, 3, 4]]);
    check((x) => tf.mean(x, -1, true), [[3, 4]]);
    check((x) => tf.mean(x), [[3, 4]]);
    check((x) => tf.max(x, 1), [[3, 4]]);
    check((x) => tf.softmax(x), [[3, 5]]);
    check((x) => tf.logSumExp(x, 1), [[3, 5]]);
    check((x) => tf.moments(x, -1, true).variance, [[3, 5]]);
  });

  it('matMul with every transpose combination, 2-D and batched', () => {
    check(
      (a, b) => tf.matMul(a, b),
      [
        [2, 3],
        [3, 4],
      ],
    );
    check(
      (a, b) => tf.matMul(a, b, false, true),
      [
        [2, 3],
        [4, 3],
      ],
    );
    check(
      (a, b) => tf.matMul(a, b, true, false),
      [
        [3, 2],
        [3, 4],
      ],
    );
    check(
      (a, b) => tf.matMul(a, b, true, true),
      [
        [3, 2],
        [4, 3],
      ],
    );
    check(
      (a, b) => tf.matMul(a, b, false, true),
      [
        [2, 2, 3, 2],
        [2, 2, 4, 2],
      ],
    );
  });
});
