// The kernel table: the named ops the models call, each replaceable by a plugin (the `kernels` hook) on some or
// all tfjs backends, looked up at each call.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KernelRegistry } from '../../src/core/index.js';
import { initBackend } from '../../src/engine/backend.js';
import { adamwStep } from '../../src/engine/fused/adamw.js';
import { causalAttention } from '../../src/engine/kernels/attention.js';
import {
  geglu,
  geluNew,
  gradNorm,
  layerNorm,
  linearCrossEntropy,
  rmsNorm,
  rope,
  swiglu,
} from '../../src/engine/kernels/ops.js';
import { kernel, kernelTable, type KernelName } from '../../src/engine/index.js';
import { createModel } from '../../src/engine/models/index.js';
import { maxAbsDiff, randomize, TINY } from './models/tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

afterEach(() => kernelTable.reset());

const ROWS = [
  [1, 5, 2, 9, 4],
  [7, 0, 3, 3, 10],
];

const DEFAULTS = {
  gelu_new: geluNew,
  layer_norm: layerNorm,
  rms_norm: rmsNorm,
  swiglu,
  geglu,
  linear_cross_entropy: linearCrossEntropy,
  rope,
  attention: causalAttention,
  adamw: adamwStep,
  grad_norm: gradNorm,
};
const NAMES = Object.keys(DEFAULTS) as KernelName[];

/** The ops each architecture calls. */
const USES: Record<string, KernelName[]> = {
  'GPT-2': ['gelu_new', 'layer_norm', 'attention'],
  'GPT-Neo': ['gelu_new', 'layer_norm', 'attention'],
  Llama: ['rms_norm', 'swiglu', 'rope', 'attention'],
};

/** Logits of a forward pass (and of a cached generation step, which takes the ops' other paths). */
function outputs(config: (typeof TINY)[number][1], training = false): Float32Array {
  const lm = randomize(createModel(config, { seed: 1 }), 3);
  const withDropout = { ...config, attn_pdrop: 0.2, attention_dropout: 0.2 };
  const dropping = randomize(createModel(withDropout, { seed: 1 }), 3);
  try {
    return tf.tidy(() => {
      const x = tf.tensor2d(ROWS, [2, 5], 'int32');
      const cache = lm.createCache(2);
      const prompt = lm.forward(x, { cache });
      const step = lm.forward(tf.tensor2d([[2], [6]], [2, 1], 'int32'), { cache });
      cache.dispose();
      const train = dropping.forward(x, { training, seed: 9 });
      return tf.concat([prompt, step, train].map((t) => tf.reshape(t, [-1]))).dataSync() as Float32Array;
    });
  } finally {
    lm.dispose();
    dropping.dispose();
  }
}

describe('the kernel table', () => {
  it('names the ops a plugin may replace, each with what it computes, and implements KernelRegistry', () => {
    const registry: KernelRegistry = kernelTable;
    expect(registry.names()).toEqual(NAMES);
    const described = kernelTable.describe();
    expect(described.map((d) => d.name)).toEqual(NAMES);
    for (const d of described) {
      expect(d.description.length).toBeGreaterThan(10);
      expect(d.replacedBy).toEqual([]);
    }
  });

  it('serves the defaults when nothing is registered', () => {
    for (const name of NAMES) expect(kernel(name)).toBe(DEFAULTS[name]);
  });

  it('refuses an unknown op, listing the known ones with a did-you-mean', () => {
    expect(() => kernelTable.register('layer_nrom', () => 0)).toThrow(
      "unknown kernel 'layer_nrom' (did you mean 'layer_norm'?): the kernel table has gelu_new, layer_norm, rms_norm, swiglu, geglu, linear_cross_entropy, rope, attention, adamw, grad_norm",
    );
    expect(() => kernel('flash' as KernelName)).toThrow(/^unknown kernel 'flash': the kernel table has gelu_new, /);
    expect(() => kernelTable.register('rope', () => 0, { backends: [], plugin: 'liger' })).toThrow(
      "kernel 'rope' (plugin liger): backends must list at least one tfjs backend name",
    );
  });

  it('uses a replacement only on the backends it lists, the latest one first, and reset() restores the defaults', () => {
    const gpu = (x: tf.Tensor3D) => x;
    const cpu = (x: tf.Tensor3D) => tf.relu(x);
    const later = (x: tf.Tensor3D) => tf.neg(x);
    kernelTable.register('gelu_new', gpu, { backends: ['webgpu'], plugin: 'gpu_kernels' });
    expect(tf.getBackend()).toBe('cpu');
    expect(kernel('gelu_new')).toBe(geluNew);
    kernelTable.register('gelu_new', cpu, { backends: ['cpu', 'wasm'], plugin: 'liger' });
    expect(kernel('gelu_new')).toBe(cpu);
    kernelTable.register('gelu_new', later);
    expect(kernel('gelu_new')).toBe(later);
    expect(kernelTable.describe().find((d) => d.name === 'gelu_new')!.replacedBy).toEqual([
      { plugin: 'gpu_kernels', backends: ['webgpu'] },
      { plugin: 'liger', backends: ['cpu', 'wasm'] },
      {},
    ]);
    kernelTable.reset();
    expect(kernel('gelu_new')).toBe(geluNew);
    expect(kernelTable.describe().every((d) => d.replacedBy.length === 0)).toBe(true);
  });
});

describe.each(TINY)('%s through the kernel table', (arch, config) => {
  it('gives the same outputs, bit for bit, when every op is wrapped around its default, which it calls', () => {
    const plain = outputs(config);
    const plainTraining = outputs(config, true);
    const calls = Object.fromEntries(NAMES.map((n) => [n, 0])) as Record<KernelName, number>;
    for (const name of NAMES) {
      const impl = DEFAULTS[name] as (...args: never[]) => unknown;
      const counted = (...args: never[]) => {
        calls[name]++;
        return impl(...args);
      };
      kernelTable.register(name, counted, { plugin: 'counter' });
    }
    expect(maxAbsDiff(outputs(config), plain)).toBe(0);
    expect(maxAbsDiff(outputs(config, true), plainTraining)).toBe(0);
    for (const name of NAMES) {
      if (USES[arch]!.includes(name)) expect(calls[name], name).toBeGreaterThan(0);
      else expect(calls[name], name).toBe(0);
    }
  });

  it('follows a different implementation of each op it uses', () => {
    const plain = outputs(config);
    const changed: Record<KernelName, (...args: never[]) => unknown> = {
      gelu_new: (x: tf.Tensor3D) => tf.relu(x),
      layer_norm: (x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor, eps: number) => tf.mul(layerNorm(x, w, b, eps), 1.5),
      rms_norm: (x: tf.Tensor3D, w: tf.Tensor, eps: number) => tf.mul(rmsNorm(x, w, eps), 1.5),
      swiglu: (gate: tf.Tensor3D, up: tf.Tensor3D) => tf.mul(gate, up),
      geglu: (gate: tf.Tensor3D, up: tf.Tensor3D) => tf.mul(gate, up),
      linear_cross_entropy: (h: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D) => tf.mul(linearCrossEntropy(h, w, t), 2),
      rope: (q: tf.Tensor4D, k: tf.Tensor4D) => [q, k],
      attention: (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, o: { scale: number }) =>
        causalAttention(q, k, v, { scale: o.scale * 2 }),
      adamw: (...[p, g, m, v, h]: Parameters<typeof adamwStep>) => adamwStep(p, g, m, v, { ...h, lr: h.lr * 2 }),
      grad_norm: (ts: tf.Tensor[]) => tf.mul(gradNorm(ts), 2),
    };
    for (const name of USES[arch]!) {
      kernelTable.register(name, changed[name]);
      expect(maxAbsDiff(outputs(config), plain), name).toBeGreaterThan(1e-4);
      kernelTable.reset();
      expect(maxAbsDiff(outputs(config), plain), name).toBe(0);
    }
  });

  it('ignores a replacement registered for another backend', () => {
    const plain = outputs(config);
    for (const name of USES[arch]!) {
      kernelTable.register(
        name,
        () => {
          throw new Error(`${name} ran on ${tf.getBackend()}`);
        },
        { backends: ['webgpu'] },
      );
    }
    expect(maxAbsDiff(outputs(config), plain)).toBe(0);
  });
});
