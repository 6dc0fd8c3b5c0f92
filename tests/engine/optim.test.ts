import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { fusedAdamW } from '../../src/engine/fused/adamw.js';
import { kernelTable } from '../../src/engine/kernels/registry.js';
import { AdamW, clipGradients, globalNorm, learningRate, type AdamWHyper } from '../../src/engine/optim.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** torch.optim.AdamW, written out for one scalar. */
function referenceAdamW(p0: number, grads: number[], lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number {
  let [p, m, v] = [p0, 0, 0];
  grads.forEach((g, i) => {
    const t = i + 1;
    p = p * (1 - lr * wd);
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    p = p - (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  });
  return p;
}

afterEach(() => kernelTable.reset());

/** Three steps of an AdamW over a matrix, a vector and a parameter without gradients; its state and weights. */
async function threeSteps() {
  const params = new Map<string, tf.Variable>([
    [
      'w',
      tf.variable(
        tf.tensor2d([
          [1.5, -2, 0.25],
          [0.5, 3, -1],
        ]),
        true,
      ),
    ],
    ['b', tf.variable(tf.tensor1d([0.5, -0.125, 2]), true)],
    ['frozen', tf.variable(tf.tensor1d([7]), true)],
  ]);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
  for (const [i, lr] of [0.01, 0.02, 0.005].entries()) {
    const grads = new Map<string, tf.Tensor>([
      [
        'w',
        tf.tensor2d([
          [0.3 - i, -1, 0.2],
          [0.1 * i, 0.7, -0.4],
        ]),
      ],
      ['b', tf.tensor1d([i - 0.5, 0.25, 0.9])],
    ]);
    opt.step(grads, lr);
    tf.dispose([...grads.values()]);
  }
  const state = await opt.exportState();
  const weights = await Promise.all([...params.values()].map(async (p) => [...(await p.data())]));
  opt.dispose();
  tf.dispose([...params.values()]);
  return { state, weights };
}

describe('AdamW', () => {
  it('matches torch.optim.AdamW step by step, with decoupled weight decay on matrices only', () => {
    const w = tf.variable(tf.tensor2d([[1.5, -2]]), true);
    const b = tf.variable(tf.tensor1d([0.5]), true);
    const opt = new AdamW(
      new Map<string, tf.Variable>([
        ['w', w],
        ['b', b],
      ]),
      { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 },
    );
    const gw = [
      [0.3, -1],
      [0.1, 0.2],
      [-0.5, 0.4],
    ];
    for (const [i, g] of gw.entries()) {
      const grads = new Map<string, tf.Tensor>([
        ['w', tf.tensor2d([g])],
        ['b', tf.tensor1d([g[0]!])],
      ]);
      opt.step(grads, 0.01 * (i + 1));
      for (const t of grads.values()) t.dispose();
    }
    const expectW0 = referenceAdamW(
      1.5,
      gw.map((g) => g[0]!),
      0,
      0.1,
    );
    // Different lr per step: recompute the reference with the same schedule.
    let [p, m, v] = [1.5, 0, 0];
    gw.forEach((g, i) => {
      const lr = 0.01 * (i + 1);
      p *= 1 - lr * 0.1;
      m = 0.9 * m + 0.1 * g[0]!;
      v = 0.999 * v + 0.001 * g[0]! ** 2;
      p -= (lr * (m / (1 - 0.9 ** (i + 1)))) / (Math.sqrt(v / (1 - 0.999 ** (i + 1))) + 1e-8);
    });
    expect(w.dataSync()[0]).toBeCloseTo(p, 6);
    expect(expectW0).toBeCloseTo(1.5, 10); // lr 0 leaves it unchanged: the reference itself is sane
    // The bias is not decayed.
    let [pb, mb, vb] = [0.5, 0, 0];
    gw.forEach((g, i) => {
      const lr = 0.01 * (i + 1);
      mb = 0.9 * mb + 0.1 * g[0]!;
      vb = 0.999 * vb + 0.001 * g[0]! ** 2;
      pb -= (lr * (mb / (1 - 0.9 ** (i + 1)))) / (Math.sqrt(vb / (1 - 0.999 ** (i + 1))) + 1e-8);
    });
    expect(b.dataSync()[0]).toBeCloseTo(pb, 6);
    expect(opt.stepCount).toBe(3);
  });

  it('exports and restores its state, so a restored optimizer takes the same next step', async () => {
    const make = () => tf.variable(tf.tensor1d([1, 2, 3]), true);
    const a = make();
    const optA = new AdamW(new Map([['p', a]]), { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
    const g = () => new Map<string, tf.Tensor>([['p', tf.tensor1d([0.1, -0.2, 0.3])]]);
    optA.step(g(), 0.1);
    const state = await optA.exportState();
    expect([...state.keys()].sort()).toEqual(['p.exp_avg', 'p.exp_avg_sq']);
    const b = tf.variable(a.clone(), true);
    const optB = new AdamW(new Map([['p', b]]), optA.options);
    optB.loadState(state, optA.stepCount);
    optA.step(g(), 0.1);
    optB.step(g(), 0.1);
    expect([...b.dataSync()]).toEqual([...a.dataSync()]);
  });

  it('does not leak tensors across steps', () => {
    const p = tf.variable(tf.ones([4, 4]), true);
    const opt = new AdamW(new Map([['p', p]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const step = () => {
      const g = new Map<string, tf.Tensor>([['p', tf.onesLike(p)]]);
      opt.step(g, 0.01);
      g.get('p')!.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("AdamW's update as the kernel table's adamw", () => {
  it('passes every parameter that has a gradient, with its moments, the lr and the step counted from 1', async () => {
    const calls: { names: string[]; hyper: AdamWHyper }[] = [];
    kernelTable.register(
      'adamw',
      (params, grads, m, v, hyper) => {
        expect(grads.map((g) => g.shape)).toEqual(params.map((p) => p.shape));
        expect(m.map((t) => t.shape)).toEqual(params.map((p) => p.shape));
        expect(v.map((t) => t.shape)).toEqual(params.map((p) => p.shape));
        calls.push({ names: params.map((p) => p.shape.join('x')), hyper: { ...hyper } });
      },
      { backends: ['cpu'], plugin: 'spy' },
    );
    const { weights } = await threeSteps();
    expect(calls.map((c) => c.names)).toEqual(Array(3).fill(['2x3', '3']));
    expect(calls.map((c) => [c.hyper.step, c.hyper.lr])).toEqual([
      [1, 0.01],
      [2, 0.02],
      [3, 0.005],
    ]);
    expect(calls[0]!.hyper).toMatchObject({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
    expect(weights[0]).toEqual([1.5, -2, 0.25, 0.5, 3, -1]); // the spy updated nothing, and nothing else did
  });

  it('with the fused kernel registered, takes the same steps bit for bit and exports the same state', async () => {
    const plain = await threeSteps();
    kernelTable.register('adamw', fusedAdamW, { plugin: 'liger' });
    const fused = await threeSteps();
    expect(fused.weights).toEqual(plain.weights);
    expect(fused.weights[0]).not.toEqual([1.5, -2, 0.25, 0.5, 3, -1]);
    expect([...fused.state.keys()]).toEqual([...plain.state.keys()]);
    for (const [key, t] of plain.state) expect([...fused.state.get(key)!.data], key).toEqual([...t.data]);
  });
});

describe('learning-rate schedules', () => {
  it('warm up linearly, then decay linearly or by cosine to zero, or stay constant', () => {
    expect([0, 1, 2].map((s) => learningRate('linear', 1, s, 4, 12))).toEqual([0, 0.25, 0.5]);
    expect(learningRate('linear', 1, 4, 4, 12)).toBe(1);
    expect(learningRate('linear', 1, 8, 4, 12)).toBe(0.5);
    expect(learningRate('linear', 1, 12, 4, 12)).toBe(0);
    expect(learningRate('cosine', 1, 8, 4, 12)).toBeCloseTo(0.5, 12);
    expect(learningRate('cosine', 1, 12, 4, 12)).toBeCloseTo(0, 12);
    expect(learningRate('constant', 2, 100, 4, 12)).toBe(2);
  });
});

describe('gradient clipping', () => {
  it('computes the global norm and scales gradients down to the maximum', async () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor1d([4])],
    ]);
    const norm = await globalNorm(grads.values());
    expect(norm).toBeCloseTo(5, 6);
    const clipped = clipGradients(grads, norm, 1);
    expect(await globalNorm(clipped.values())).toBeCloseTo(1, 5);
    expect(clipGradients(clipped, 1, 10)).toBe(clipped); // under the limit: untouched
  });
});
