// Every kernel native-cpu computes in C (native/src), against the pure-JS cpu backend's on random odd shapes:
// the matmuls with each transpose and batch broadcast, the fused matmul's bias and activation, and liger's
// fused ops forward and backward — within 1e-5 of the reference's scale; AdamW bit for bit. And the same bits
// whatever the thread count. Skipped, saying so, where the addon did not build (CI builds it: .ci/run).
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import {
  fusedAdamW,
  fusedAttention,
  fusedGeglu,
  fusedGeluNew,
  fusedLayerNorm,
  fusedLinearCrossEntropy,
  fusedRmsNorm,
  fusedSwiglu,
} from '../../src/engine/fused/index.js';
import { nativeCpuInfo, setNativeCpuThreads } from '../../src/engine/native-cpu/index.js';
import { loadAddon } from '../../src/engine/native-cpu/addon.js';
import { Rng } from '../../src/engine/random.js';
import { relError } from './fused/harness.js';

const { addon, reason } = loadAddon();
if (!addon) console.warn(`native-cpu kernel tests skipped: ${reason}`);

beforeAll(async () => {
  if (addon) await initBackend('native-cpu');
});

afterAll(async () => {
  await initBackend('cpu');
});

const rng = new Rng(7);
function values(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
}

/** Runs `f` on the cpu backend and on native-cpu (each input made afresh from the same values). */
async function onBoth(f: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; native: Float32Array[] }> {
  const run = async (backend: string) => {
    tf.setBackend(backend);
    const outs = tf.tidy(f);
    const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    return data;
  };
  const cpu = await run('cpu');
  const native = await run('native-cpu');
  return { cpu, native };
}

async function expectClose(f: () => tf.Tensor[], tolerance = 1e-5) {
  const { cpu, native } = await onBoth(f);
  expect(native.length).toBe(cpu.length);
  cpu.forEach((c, i) => expect(relError(native[i]!, c), `output ${i}`).toBeLessThanOrEqual(tolerance));
  return { cpu, native };
}

/** The op's output and every input's gradient under a random upstream gradient. */
function withGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, inputs: { shape: number[]; values: Float32Array }[]) {
  let upstream: Float32Array | undefined; // drawn once: each backend gets the same
  return () => {
    const xs = inputs.map((x) => tf.tensor(x.values, x.shape));
    const y = op(...xs);
    upstream ??= values(y.size);
    const dy = tf.tensor(upstream, y.shape);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(op(...a), dy)))(xs);
    return [y, ...grads];
  };
}

const input = (...shape: number[]) => ({ shape, values: values(tf.util.sizeFromShape(shape)) });

describe.skipIf(!addon)('native-cpu kernels against the pure-JS cpu kernels', () => {
  it('reports its BLAS and threads', () => {
    expect(nativeCpuInfo()?.blas).toBeTruthy();
    expect(nativeCpuInfo()?.threads).toBeGreaterThanOrEqual(1);
  });

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('matmul with transposeA %s, transposeB %s, and its gradients', async (ta, tb) => {
    const a = ta ? input(13, 7) : input(7, 13);
    const b = tb ? input(5, 13) : input(13, 5);
    await expectClose(withGrads((x, y) => tf.matMul(x!, y!, ta, tb), [a, b]));
  });

  it('batched matmul broadcasts a batch of one, on either side, and runs small and large products', async () => {
    // tfjs's BatchMatMul gradient does not reduce broadcast batches: the broadcasts are checked forward only.
    const forward = (ta: boolean, tb: boolean, a: ReturnType<typeof input>, b: ReturnType<typeof input>) => () => [
      tf.matMul(tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape), ta, tb),
    ];
    await expectClose(forward(false, false, input(3, 7, 13), input(13, 5)));
    await expectClose(forward(false, true, input(1, 9, 11), input(4, 3, 11)));
    await expectClose(forward(true, true, input(2, 1, 11, 9), input(2, 5, 3, 11)));
    await expectClose(withGrads((x, y) => tf.matMul(x!, y!, true, false), [input(2, 3, 17, 6), input(2, 3, 17, 4)]));
    // above the BLAS threshold (one product of 2^20 multiply-adds or more)
    await expectClose(withGrads((x, y) => tf.matMul(x!, y!), [input(2, 129, 101), input(2, 101, 97)]));
  });

  it('the fused matmul adds its bias and applies its activation', async () => {
    const [a, b, bias] = [input(6, 9), input(9, 11), input(11)];
    for (const activation of ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu'] as const) {
      await expectClose(withGrads((x, y, z) => tf.fused.matMul({ a: x!, b: y!, bias: z!, activation }), [a, b, bias]));
    }
    await expectClose(withGrads((x, y) => tf.fused.matMul({ a: x!, b: y!, transposeB: true }), [a, input(7, 9)]));
  });

  it('an int32 matmul goes to tfjs-cpu unchanged', async () => {
    const { cpu, native } = await onBoth(() => [
      tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.eye(2, 2, undefined, 'int32')),
    ]);
    expect(Array.from(native[0]!)).toEqual(Array.from(cpu[0]!));
  });

  it('slice, pad, transpose, exp and softmax, forward and backward', async () => {
    const x = input(3, 5, 7, 4);
    await expectClose(withGrads((a) => tf.slice(a!, [1, 0, 2, 1], [2, 5, 4, 2]), [x]));
    await expectClose(withGrads((a) => tf.slice(a!, [0, 1], [3, 3]), [x]));
    await expectClose(
      withGrads(
        (a) =>
          tf.pad(
            a!,
            [
              [1, 0],
              [0, 2],
              [3, 1],
              [0, 0],
            ],
            0.5,
          ),
        [x],
      ),
    );
    await expectClose(withGrads((a) => tf.transpose(a!, [0, 2, 1, 3]), [x]));
    await expectClose(withGrads((a) => tf.transpose(a!, [3, 1, 0, 2]), [x]));
    await expectClose(withGrads((a) => tf.exp(a!), [{ shape: [9, 11], values: values(99, 20) }]));
    await expectClose(withGrads((a) => tf.softmax(a!), [{ shape: [2, 3, 37], values: values(222, 30) }]));
  });

  it('pow, tanh, sqrt, square, tile, mean and max (the plain GELU, norms and log-sum-exp), forward and backward', async () => {
    const x = { shape: [4, 6, 9], values: values(216, 3) };
    const positive = { shape: [4, 6, 9], values: values(216, 3).map((v) => Math.abs(v) + 0.1) };
    await expectClose(withGrads((a) => tf.pow(a!, 3), [x]));
    await expectClose(withGrads((a) => tf.pow(a!, 2), [x]));
    await expectClose(withGrads((a, b) => tf.pow(a!, b!), [positive, input(9)]));
    await expectClose(withGrads((a) => tf.tanh(a!), [x]));
    await expectClose(withGrads((a) => tf.tanh(a!), [{ shape: [50], values: values(50, 0.01) }]));
    await expectClose(withGrads((a) => tf.sqrt(a!), [positive]));
    await expectClose(withGrads((a) => tf.square(a!), [x]));
    await expectClose(withGrads((a) => tf.tile(a!, [2, 1, 3]), [x]));
    await expectClose(withGrads((a) => tf.mean(a!, -1, true), [x]));
    await expectClose(withGrads((a) => tf.mean(a!, [0, 1]), [x]));
    await expectClose(withGrads((a) => tf.max(a!, -1), [x]));
    await expectClose(withGrads((a) => tf.max(a!, [0, 1], true), [x]));
    await expectClose(withGrads((a) => tf.logSumExp(a!, 1), [x]));
  });

  it('split and concat along any axis', async () => {
    const x = input(3, 5, 12);
    await expectClose(withGrads((a) => tf.concat(tf.split(a!, [5, 3, 4], 2).reverse(), 2), [x]));
    await expectClose(
      withGrads(
        (a) =>
          tf.concat(
            tf.split(a!, 3, 0).map((t) => tf.mul(t, 2)),
            1,
          ),
        [x],
      ),
    );
  });

  it('sum over consecutive axes, with and without keepDims, and over the rest through tfjs-cpu', async () => {
    const x = input(3, 5, 7, 4);
    for (const [axis, keepDims] of [
      [0, false],
      [[1, 2], true],
      [3, false],
      [[0, 1, 2, 3], false],
      [[0, 2], true],
    ] as const) {
      await expectClose(withGrads((a) => tf.sum(a!, axis as number | number[], keepDims), [x]));
    }
  });

  it.each([
    ['the same shape', [4, 9], [4, 9]],
    ['a row vector', [6, 13], [13]],
    ['a column', [5, 11], [5, 1]],
    ['a scalar, on the left', [], [3, 7]],
    ['both sides broadcast', [3, 1, 5], [1, 4, 1]],
  ])('add, sub, mul and div broadcasting %s', async (_, sa, sb) => {
    const [a, b] = [input(...sa), input(...sb)];
    for (const op of [tf.add, tf.sub, tf.mul, tf.div]) {
      // tfjs's gradients of a broadcast reduce over the broadcast axes: checked with them
      await expectClose(withGrads((x, y) => op(x!, y!), [a, b]));
    }
  });

  it('linear cross-entropy, forward and backward, over a vocabulary larger than one chunk', async () => {
    const [N, V, D] = [37, 60001, 11];
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 7919) % V);
    await expectClose(
      withGrads(
        (h, w) => fusedLinearCrossEntropy(h as tf.Tensor2D, w as tf.Tensor2D, tf.tensor1d(targets, 'int32')),
        [input(N, D), { shape: [V, D], values: values(V * D, 0.5) }],
      ),
    );
  });

  it('LayerNorm and RMSNorm, forward and backward', async () => {
    const [x, w, b] = [input(3, 5, 19), input(19), input(19)];
    await expectClose(withGrads((a, c, d) => fusedLayerNorm(a as tf.Tensor3D, c!, d!, 1e-5), [x, w, b]));
    await expectClose(withGrads((a, c) => fusedRmsNorm(a as tf.Tensor3D, c!, 1e-6), [x, w]));
  });

  it('gelu_new, SwiGLU and GeGLU, forward and backward', async () => {
    const [g, u] = [{ shape: [2, 3, 23], values: values(138, 6) }, input(2, 3, 23)];
    await expectClose(withGrads((a) => fusedGeluNew(a as tf.Tensor3D), [g]));
    await expectClose(withGrads((a, c) => fusedSwiglu(a as tf.Tensor3D, c as tf.Tensor3D), [g, u]));
    await expectClose(withGrads((a, c) => fusedGeglu(a as tf.Tensor3D, c as tf.Tensor3D), [g, u]));
  });

  it.each([
    ['causal, 4 heads', { nh: 4, nkv: 4, T: 13, S: 13 }, {}],
    ['grouped kv heads, keys cached before the queries', { nh: 6, nkv: 2, T: 5, S: 11 }, {}],
    ['a local window', { nh: 2, nkv: 2, T: 17, S: 17 }, { window: 4 }],
    ['dropout on the probabilities', { nh: 3, nkv: 1, T: 9, S: 9 }, { dropout: { rate: 0.3, seed: 11 } }],
  ])('attention, forward and backward: %s', async (_, d, extra) => {
    const [B, hs] = [2, 7];
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
      fusedAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { scale: 0.4, ...extra });
    await expectClose(
      withGrads(
        (q, k, v) => op(q!, k!, v!),
        [input(B, d.nh, d.T, hs), input(B, d.nkv, d.S, hs), input(B, d.nkv, d.S, hs)],
      ),
    );
  });

  it('AdamW gives the pure-JS kernel its bits exactly', async () => {
    const shapes = [[7, 5], [5], [3, 2, 9]];
    const init = shapes.map((s) => [0, 1, 2, 3].map((j) => values(tf.util.sizeFromShape(s), j === 3 ? 0.1 : 1)));
    const { cpu, native } = await onBoth(() => {
      const [p, g, m, v] = [0, 1, 2, 3].map((j) =>
        shapes.map((s, k) => {
          const vals = j === 3 ? init[k]![j]!.map(Math.abs) : init[k]![j]!;
          return j === 1 ? tf.tensor(vals, s) : tf.variable(tf.tensor(vals, s));
        }),
      ) as [tf.Variable[], tf.Tensor[], tf.Variable[], tf.Variable[]];
      const hyper = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, gradScale: 0.37 };
      fusedAdamW(p, g, m, v, hyper);
      return [...p, ...m, ...v].map((t) => tf.clone(t));
    });
    native.forEach((n, i) => expect(Array.from(n), `tensor ${i}`).toEqual(Array.from(cpu[i]!)));
  });

  it('gives the same bits with one thread as with several', async () => {
    const f = withGrads(
      (h, w, q) =>
        tf.add(
          tf.sum(
            fusedLinearCrossEntropy(h as tf.Tensor2D, w as tf.Tensor2D, tf.tensor1d([1, 5, 9, 2, 0, 3, 8], 'int32')),
          ),
          tf.sum(
            fusedLayerNorm(
              tf.reshape(tf.matMul(q!, tf.transpose(q!)), [1, 64, 64]) as tf.Tensor3D,
              tf.ones([64]),
              tf.zeros([64]),
              1e-5,
            ),
          ),
        ),
      [input(7, 33), input(4001, 33), input(64, 300)],
    );
    const run = async (threads: number) => {
      setNativeCpuThreads(threads);
      tf.setBackend('native-cpu');
      const outs = tf.tidy(f);
      const data = await Promise.all(outs.map((t) => t.data()));
      tf.dispose(outs);
      return data;
    };
    const threads = nativeCpuInfo()!.threads;
    const one = await run(1);
    const many = await run(Math.max(2, threads));
    setNativeCpuThreads(threads);
    many.forEach((m, i) => expect(Array.from(m), `output ${i}`).toEqual(Array.from(one[i]!)));
  });

  it('runs the addon for the matmuls and the fused ops, and the cpu kernels for the rest', async () => {
    // (after the tests above: the fused ops register their kernels at first use)
    const ours = [
      'BatchMatMul',
      '_FusedMatMul',
      'DumboLceCpuForward',
      'DumboLceCpuBackward',
      'DumboLayerNorm',
      'DumboLayerNormGrad',
      'DumboRmsNorm',
      'DumboGeluNew',
      'DumboGeluNewGrad',
      'DumboSwiglu',
      'DumboGeglu',
      'DumboFlashAttention',
      'DumboFlashAttentionGrad',
      'DumboAdamW',
    ];
    for (const name of ours) {
      expect(tf.getKernel(name, 'native-cpu')?.kernelFunc, name).toBeDefined();
      expect(tf.getKernel(name, 'native-cpu')!.kernelFunc, name).not.toBe(tf.getKernel(name, 'cpu')?.kernelFunc);
    }
    for (const name of [
      'Add',
      'Sub',
      'Multiply',
      'RealDiv',
      'Slice',
      'PadV2',
      'Transpose',
      'Exp',
      'Softmax',
      'Sum',
      'SplitV',
      'Concat',
    ]) {
      expect(tf.getKernel(name, 'native-cpu')!.kernelFunc, name).not.toBe(tf.getKernel(name, 'cpu')?.kernelFunc);
    }
    for (const name of ['Min', 'DumboDropout', 'DumboRope']) {
      expect(tf.getKernel(name, 'native-cpu')?.kernelFunc, name).toBe(tf.getKernel(name, 'cpu')?.kernelFunc);
    }
  });
});
