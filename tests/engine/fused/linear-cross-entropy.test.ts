// Fused linear cross-entropy (src/engine/fused/linear-cross-entropy.ts) against the kernel table's default
// `linear_cross_entropy` (src/engine/kernels/ops.ts): per-row NLL and the gradients of hidden and weight within
// 1e-4 relative under a random upstream gradient, with N not a multiple of the chunk and V a prime, on cpu and
// on WebGPU (the software adapter in CI; skipped, saying so, where there is none); its own kernels seen running
// (on cpu the two plain-loop kernels, no tfjs matmul; on webgpu the chunk kernels) and no [N, V] tensor made; a weight in row parts equal to the whole; its peak memory at most a quarter
// of the default's. And what the models give it: forwardHidden · lmHeadWeightᵀ is forward's logits, tied and
// untied, whole and in row parts, and the fused loss through them (the head as held: lmHeadWeights, its row
// parts never joined) gives every weight the gradient the plain loss through forward gives.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import {
  fusedLinearCrossEntropy,
  LCE_LOGITS_GRAD_KERNEL,
  LCE_ROW_STATS_KERNEL,
  lceChunkRows,
  registerLceKernels,
} from '../../../src/engine/fused/linear-cross-entropy.js';
import { LCE_CPU_BACKWARD_KERNEL, LCE_CPU_FORWARD_KERNEL } from '../../../src/engine/fused/linear-cross-entropy-cpu.js';
import { linearCrossEntropy } from '../../../src/engine/kernels/ops.js';
import { crossEntropy } from '../../../src/engine/loss.js';
import { createModel } from '../../../src/engine/models/index.js';
import type { HFConfig } from '../../../src/engine/models/types.js';
import { probeWebGPU } from '../../../src/engine/webgpu.js';
import { ids, maxAbsDiff, randomize, TINY } from '../models/tiny.js';
import { BACKENDS, relError } from './harness.js';

const probe = await probeWebGPU({});
if (!probe.adapter)
  console.warn(`fused linear cross-entropy: no WebGPU adapter here, skipping webgpu (${probe.reason})`);

type Op = (hidden: tf.Tensor2D, weight: tf.Tensor2D, targets: tf.Tensor1D) => tf.Tensor1D;

/** max |a - b| / max |b|: the error relative to the reference's scale (absolute where the reference is all 0). */

interface Inputs {
  hidden: tf.Tensor2D;
  weight: tf.Tensor2D;
  targets: tf.Tensor1D;
  dy: tf.Tensor1D;
}

function inputs(N: number, D: number, V: number, seed: number): Inputs {
  return {
    // Logits of a few units: a softmax neither flat nor saturated.
    hidden: tf.randomNormal([N, D], 0, 1, 'float32', seed),
    weight: tf.randomNormal([V, D], 0, 2 / Math.sqrt(D), 'float32', seed + 1),
    targets: tf.randomUniformInt([N], 0, V, seed + 2) as tf.Tensor1D,
    dy: tf.randomNormal([N], 0, 1, 'float32', seed + 3),
  };
}

/** Per-row NLL and the gradients of hidden and weight under upstream `dy`, and the kernels that ran. */
async function pass(op: Op, { hidden, weight, targets, dy }: Inputs) {
  let out: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    const f = (h: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(op(h as tf.Tensor2D, w as tf.Tensor2D, targets), dy));
    const { value, grads } = tf.valueAndGrads(f)([hidden, weight]);
    out = [tf.tidy(() => op(hidden, weight, targets)), ...grads];
    value.dispose();
  });
  const values = await Promise.all(out.map((t) => t.data()));
  tf.dispose(out);
  const largest = Math.max(...info.kernels.flatMap((k) => k.outputShapes.map((s) => s.reduce((a, b) => a * b, 1))));
  return { values, kernels: info.kernelNames, largest, peakBytes: info.peakBytes };
}

describe('lceChunkRows', () => {
  it("takes at least Liger's chunk (about V/D chunks), grown to 16 chunks or 8 MiB of logits; rows a power of two", () => {
    expect(lceChunkRows(2048, 8192, 64)).toBe(256); // 8 chunks: grown from Liger's 16 rows (8 MiB of logits each)
    expect(lceChunkRows(2048, 50257, 384)).toBe(128); // 16 chunks of 25.7 MB (41 rows would fit 8 MiB)
    expect(lceChunkRows(4088, 50257, 768)).toBe(256); // GPT-2 124M at seq 512, batch 8: 16 chunks, not Liger's 64
    expect(lceChunkRows(8192, 128, 64)).toBe(8192); // 4 MiB of logits in all: one chunk
    expect(lceChunkRows(600, 4001, 16)).toBe(512); // 524 rows fit 8 MiB, rounded down: two chunks
    expect(lceChunkRows(37, 101, 24)).toBe(64); // small logits: one chunk, never more rows than N needs
    expect(lceChunkRows(5, 10, 64)).toBe(8); // V < D: one chunk
    expect(lceChunkRows(1, 101, 24)).toBe(1);
  });
});

describe.each(BACKENDS)('fused linear cross-entropy on $backend', ({ backend, skip }) => {
  beforeAll(async () => {
    if (!skip) await initBackend(backend, { webgpu: { allowSoftware: true } });
  });
  afterAll(async () => {
    if (!skip) await initBackend('cpu');
  });

  it.skipIf(skip).each([
    { N: 600, D: 16, V: 4001 },
    { N: 1100, D: 8, V: 2003 },
  ])(
    'N=$N D=$D V=$V: NLL and gradients equal the default, by its own kernels, no [N, V] tensor',
    async ({ N, D, V }) => {
      expect(tf.getBackend()).toBe(backend);
      expect(N % lceChunkRows(N, V, D)).not.toBe(0);
      const x = inputs(N, D, V, N);
      const before = tf.memory().numTensors;
      const got = await pass(fusedLinearCrossEntropy, x);
      const want = await pass(linearCrossEntropy, x);
      expect(tf.memory().numTensors).toBe(before);
      ['nll', 'grad hidden', 'grad weight'].forEach((what, i) =>
        expect(relError(got.values[i]!, want.values[i]!), what).toBeLessThan(1e-4),
      );
      // cpu: the two plain-loop kernels, no matmul; webgpu: the chunk kernels between tfjs's matmuls.
      const own =
        backend === 'cpu'
          ? [LCE_CPU_FORWARD_KERNEL, LCE_CPU_BACKWARD_KERNEL]
          : [LCE_ROW_STATS_KERNEL, LCE_LOGITS_GRAD_KERNEL];
      for (const k of own) expect(got.kernels).toContain(k);
      if (backend === 'cpu') expect(got.kernels).not.toContain('BatchMatMul');
      expect(want.largest).toBeGreaterThanOrEqual(N * V); // the measure sees the default's logits...
      expect(got.largest).toBeLessThan(N * V); // ...and no tensor of the fused op is that large
      tf.dispose(Object.values(x));
    },
  );

  it.skipIf(skip)(
    "the weight in row parts (a head past the binding limit): NLL and each part's gradient equal the whole weight's",
    async () => {
      const [N, D, V] = [37, 24, 101];
      const x = inputs(N, D, V, 3);
      const rows = [40, 33, 28]; // uneven parts, none a multiple of anything
      const whole = await pass(linearCrossEntropy, x);
      for (const op of [fusedLinearCrossEntropy, linearCrossEntropy]) {
        const parts = tf.split(x.weight, rows, 0) as tf.Tensor2D[];
        const before = tf.memory().numTensors;
        let out: tf.Tensor[] = [];
        const info = await tf.profile(() => {
          const f = (h: tf.Tensor, ...ws: tf.Tensor[]) =>
            tf.sum(tf.mul(op(h as tf.Tensor2D, ws as tf.Tensor2D[], x.targets), x.dy));
          const { value, grads } = tf.valueAndGrads(f)([x.hidden, ...parts]);
          out = [tf.tidy(() => op(x.hidden, parts, x.targets)), grads[0]!, tf.concat(grads.slice(1), 0)];
          tf.dispose([value, ...grads.slice(1)]);
        });
        const values = await Promise.all(out.map((t) => t.data()));
        tf.dispose([...out, ...parts]);
        expect(tf.memory().numTensors).toBe(before - rows.length);
        ['nll', 'grad hidden', 'grad weight'].forEach((what, i) =>
          expect(relError(values[i]!, whole.values[i]!), `${op.name}: ${what}`).toBeLessThan(1e-4),
        );
        if (op === fusedLinearCrossEntropy) {
          expect(info.kernelNames).toContain(LCE_LOGITS_GRAD_KERNEL);
          // No [V, D] tensor: the parts are never joined (the test's own concatenation of the gradients aside).
          const joined = info.kernels.filter((k) => k.name === 'Concat' && k.outputShapes.some((s) => s[0] === V));
          expect(joined.length).toBe(1);
        }
      }
      tf.dispose(Object.values(x));
    },
  );
});

describe('fused linear cross-entropy on a backend without its kernels', () => {
  it('falls back to the tfjs composition, still chunked and equal to the default', async () => {
    await initBackend('cpu');
    const x = inputs(600, 16, 4001, 7); // two chunks
    void (await pass(fusedLinearCrossEntropy, x)); // registers the cpu kernels...
    registerLceKernels(); // ...and the chunk kernels (the cpu path does not need them), which are then taken away
    const names = [LCE_ROW_STATS_KERNEL, LCE_LOGITS_GRAD_KERNEL, LCE_CPU_FORWARD_KERNEL, LCE_CPU_BACKWARD_KERNEL];
    const saved = names.map((name) => tf.getKernel(name, 'cpu')!);
    names.forEach((name) => tf.unregisterKernel(name, 'cpu'));
    try {
      const got = await pass(fusedLinearCrossEntropy, x);
      const want = await pass(linearCrossEntropy, x);
      got.values.forEach((v, i) => expect(relError(v, want.values[i]!), `output ${i}`).toBeLessThan(1e-4));
      names.forEach((name) => expect(got.kernels).not.toContain(name));
      expect(got.largest).toBeLessThan(600 * 4001);
    } finally {
      saved.forEach((config) => tf.registerKernel(config));
    }
    tf.dispose(Object.values(x));
  });
});

describe('fused linear cross-entropy memory', () => {
  it('peaks at most a quarter of the default at N=2048, D=64, V=8192 (forward and backward)', async () => {
    await initBackend('cpu');
    const x = inputs(2048, 64, 8192, 1);
    const peak = async (op: Op) => {
      const info = await tf.profile(() => {
        const { value, grads } = tf.valueAndGrads((h: tf.Tensor, w: tf.Tensor) =>
          tf.sum(tf.mul(op(h as tf.Tensor2D, w as tf.Tensor2D, x.targets), x.dy)),
        )([x.hidden, x.weight]);
        tf.dispose([value, ...grads]);
      });
      return info.peakBytes;
    };
    const [fused, reference] = [await peak(fusedLinearCrossEntropy), await peak(linearCrossEntropy)];
    expect(reference).toBeGreaterThan(2 * 2048 * 8192 * 4); // the logits and their gradient, at least
    expect(fused).toBeLessThanOrEqual(reference / 4);
    tf.dispose(Object.values(x));
  }, 240_000); // 4 GFLOP of cpu matmuls for the two

  it('refuses mismatched shapes and float targets', () => {
    tf.tidy(() => {
      const [h, w] = [tf.zeros([3, 4]) as tf.Tensor2D, tf.zeros([5, 4]) as tf.Tensor2D];
      expect(() => fusedLinearCrossEntropy(h, tf.zeros([5, 3]) as tf.Tensor2D, tf.zeros([3], 'int32'))).toThrow(
        'expected hidden [N, D], weight [V, D] and targets [N], got [3, 4], [5, 3] and [3]',
      );
      expect(() => fusedLinearCrossEntropy(h, w, tf.zeros([3]))).toThrow('targets must be int32, got float32');
    });
  });
});

describe.each(TINY)('%s: forwardHidden and lmHeadWeight give forward', (_arch, base) => {
  const ROWS = [
    [1, 2, 3, 4, 5],
    [5, 4, 3, 2, 1],
  ];
  const TARGETS = [2, 3, 4, 5, 6, 40, 3, 2, 1, 63];
  // Every architecture's dropout sites on, so that `training` and `seed` reach forwardHidden as they reach forward.
  const DROPOUT = { resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1 };
  const DROPOUT_NEO_LLAMA = { resid_dropout: 0.1, embed_dropout: 0.1, attention_dropout: 0.1 };
  const HEADS = [
    { tied: true, parts: false },
    { tied: false, parts: false },
    { tied: true, parts: true },
    { tied: false, parts: true },
  ];

  async function tinyModel(tied: boolean, parts: boolean) {
    await initBackend('cpu');
    const config: HFConfig = { ...base, ...DROPOUT, ...DROPOUT_NEO_LLAMA, vocab_size: 64, tie_word_embeddings: tied };
    // 1100 bytes: the largest other weight (an [8, 32] MLP projection, 1024 bytes) stays whole, the [64, 8]
    // head (2048 bytes) is held as row parts.
    const lm = randomize(createModel(config, { maxTensorBytes: parts ? 1100 : undefined }), 3);
    const names = [...lm.params.keys()];
    expect(names.some((k) => k.startsWith('lm_head.weight'))).toBe(!tied);
    expect((lm.parts?.size ?? 0) > 0).toBe(parts);
    return lm;
  }

  it.each(HEADS)(
    'tied $tied, in row parts $parts: hidden · Wᵀ equals the logits, with the same options',
    async ({ tied, parts }) => {
      const lm = await tinyModel(tied, parts);
      for (const options of [{}, { training: true, seed: 4 }]) {
        const [logits, viaHidden] = tf.tidy(() => {
          const x = ids(ROWS);
          const h = lm.forwardHidden(x, options);
          const w = lm.lmHeadWeight();
          expect(h.shape).toEqual([2, 5, 8]);
          expect(w.shape).toEqual([lm.vocabSize, 8]);
          const y = tf.reshape(tf.matMul(tf.reshape(h, [10, 8]), w, false, true), [2, 5, lm.vocabSize]);
          return [lm.forward(x, options), y];
        });
        expect(maxAbsDiff(logits.dataSync(), viaHidden.dataSync()), JSON.stringify(options)).toBeLessThan(1e-5);
        tf.dispose([logits, viaHidden]);
      }
      const cache = lm.createCache(2);
      tf.tidy(() => void lm.forwardHidden(ids(ROWS), { cache }));
      expect(cache.length).toBe(5);
      cache.dispose();
      const before = tf.memory().numTensors;
      tf.tidy(() => void lm.lmHeadWeight());
      expect(tf.memory().numTensors).toBe(before); // the weight itself, or a concatenation the tidy freed
      lm.dispose();
    },
  );

  it.each(HEADS)(
    'tied $tied, in row parts $parts: every weight gets the gradient it gets through forward',
    async ({ tied, parts }) => {
      const lm = await tinyModel(tied, parts);
      const [x, t] = [ids(ROWS), tf.tensor1d(TARGETS, 'int32')];
      const vars = [...lm.params.values()];
      const options = { training: true, seed: 5 };
      // The head as held: its row parts, never joined, where it is split.
      expect(lm.lmHeadWeights().length > 1).toBe(parts);
      const fused = tf.variableGrads(() => {
        const h = tf.reshape(lm.forwardHidden(x, options), [10, 8]) as tf.Tensor2D;
        return tf.mean(fusedLinearCrossEntropy(h, lm.lmHeadWeights(), t));
      }, vars);
      const plain = tf.variableGrads(() => {
        const logits = tf.reshape(lm.forward(x, options), [10, lm.vocabSize]) as tf.Tensor2D;
        return tf.mean(crossEntropy(logits, t));
      }, vars);
      expect(Math.abs(fused.value.dataSync()[0]! - plain.value.dataSync()[0]!)).toBeLessThan(1e-5);
      for (const [name, v] of lm.params) {
        const [a, b] = [fused.grads[v.name]!.dataSync(), plain.grads[v.name]!.dataSync()];
        expect(relError(a, b), name).toBeLessThan(1e-4);
      }
      tf.dispose([x, t, fused.value, plain.value, ...Object.values(fused.grads), ...Object.values(plain.grads)]);
      lm.dispose();
    },
  );
});
