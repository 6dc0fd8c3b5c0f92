import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { causalLMLoss, crossEntropy } from '../../src/engine/loss.js';
import { Rng } from '../../src/engine/random.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const [B, T, V] = [2, 5, 7];

function randomLogits(seed: number, scale = 3): Float32Array {
  return new Rng(seed).normalArray(B * T * V, 0, scale);
}

/** The loss written out naively in float64: softmax over each row, -log p(next label), mean over kept labels. */
function naive(logits: Float32Array, labels: number[][]): { loss: number; count: number } {
  let sum = 0;
  let count = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      const y = labels[b]![t + 1]!;
      if (y === -100) continue;
      const row = Array.from(logits.subarray((b * T + t) * V, (b * T + t + 1) * V));
      const m = Math.max(...row);
      const z = row.reduce((s, x) => s + Math.exp(x - m), 0);
      sum += -Math.log(Math.exp(row[y]! - m) / z);
      count++;
    }
  }
  return { loss: sum / count, count };
}

function lossOf(logits: Float32Array, labels: number[][]): { loss: number; count: number } {
  return tf.tidy(() => {
    const r = causalLMLoss(tf.tensor3d(logits, [B, T, V]), tf.tensor2d(labels, [B, T], 'int32'));
    return { loss: r.loss.dataSync()[0]!, count: r.count.dataSync()[0]! };
  });
}

const LABELS = [
  [3, 1, -100, 6, 0],
  [-100, 2, 2, 5, -100],
];

describe('causalLMLoss', () => {
  it('equals a naive softmax cross-entropy of logits[:, :-1] against labels[:, 1:], skipping -100', () => {
    const logits = randomLogits(1);
    const got = lossOf(logits, LABELS);
    const want = naive(logits, LABELS);
    expect(got.count).toBe(6);
    expect(want.count).toBe(6);
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-5);
  });

  it('ignores -100 labels: the logits that would predict them do not matter', () => {
    const logits = randomLogits(2);
    const changed = logits.slice();
    // Position (0, 1) predicts label (0, 2) = -100; position (b, T-1) predicts nothing.
    for (const [b, t] of [
      [0, 1],
      [0, 4],
      [1, 4],
      [1, 3],
    ]) {
      for (let v = 0; v < V; v++) changed[(b! * T + t!) * V + v] = 50 * Math.random();
    }
    expect(lossOf(changed, LABELS).loss).toBe(lossOf(logits, LABELS).loss);
  });

  it('is numerically stable for large logits (log-sum-exp, not exp then log)', () => {
    const logits = randomLogits(3, 1).map((x) => x + 1e4);
    logits[(0 * T + 0) * V + 1] = 2e4; // a confident, correct prediction: loss ≈ 0 for that token
    const got = lossOf(logits, LABELS);
    expect(Number.isFinite(got.loss)).toBe(true);
    const shifted = logits.map((x) => x - 1e4);
    expect(Math.abs(got.loss - naive(shifted, LABELS).loss)).toBeLessThan(1e-3);
  });

  it('has gradient (softmax - onehot) / count at kept positions and zero elsewhere', () => {
    const logits = randomLogits(4);
    const x = tf.tensor3d(logits, [B, T, V]);
    const labels = tf.tensor2d(LABELS, [B, T], 'int32');
    const g = tf
      .grad((l: tf.Tensor) => causalLMLoss(l as tf.Tensor3D, labels).loss)(x)
      .dataSync();
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const y = t < T - 1 ? LABELS[b]![t + 1]! : -100;
        const row = Array.from(logits.subarray((b * T + t) * V, (b * T + t + 1) * V));
        const z = row.reduce((s, v) => s + Math.exp(v), 0);
        for (let v = 0; v < V; v++) {
          const want = y === -100 ? 0 : (Math.exp(row[v]!) / z - (v === y ? 1 : 0)) / 6;
          expect(Math.abs(g[(b * T + t) * V + v]! - want)).toBeLessThan(1e-6);
        }
      }
    }
    tf.dispose([x, labels]);
  });

  it('gives loss 0 and count 0 when nothing is predicted (all -100, or a single token)', () => {
    const none = [
      [1, -100, -100, -100, -100],
      [2, -100, -100, -100, -100],
    ];
    expect(lossOf(randomLogits(5), none)).toEqual({ loss: 0, count: 0 });
    const one = tf.tidy(
      () => causalLMLoss(tf.zeros([1, 1, V]) as tf.Tensor3D, tf.tensor2d([[3]], [1, 1], 'int32')).loss.dataSync()[0],
    );
    expect(one).toBe(0);
  });

  it('never builds a one-hot over the vocabulary, and leaks no tensors', async () => {
    const logits = tf.variable(tf.tensor3d(randomLogits(6), [B, T, V]));
    const labels = tf.tensor2d(LABELS, [B, T], 'int32');
    const before = tf.memory().numTensors;
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => causalLMLoss(logits as tf.Tensor3D, labels).loss, [logits]);
      tf.dispose([value, ...Object.values(grads)]);
    });
    expect(info.kernelNames).not.toContain('OneHot');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, labels]);
  });

  it('says what shape the labels must have', () => {
    const x = tf.zeros([B, T, V]) as tf.Tensor3D;
    const y = tf.zeros([B, T - 1], 'int32') as tf.Tensor2D;
    expect(() => causalLMLoss(x, y)).toThrow("labels must be [2, 5] like the logits' [B, T], got [2, 4]");
    tf.dispose([x, y]);
  });
});

describe('crossEntropy', () => {
  it('is logsumexp minus the target logit, row by row', () => {
    const data = [
      [1, 2, 3],
      [0, 0, 100],
    ];
    const nll = tf.tidy(() => crossEntropy(tf.tensor2d(data), tf.tensor1d([2, 0], 'int32')).dataSync());
    const lse = (r: number[]) => Math.log(r.reduce((s, x) => s + Math.exp(x), 0));
    expect(nll[0]).toBeCloseTo(lse(data[0]!) - 3, 5);
    expect(nll[1]).toBeCloseTo(100, 4);
  });
});
