import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { generate, sampleToken } from '../../src/engine/generate.js';
import { createModel } from '../../src/engine/models/index.js';
import type { CausalLM } from '../../src/engine/models/types.js';
import { Rng } from '../../src/engine/random.js';
import { logitsOf, randomize, TINY, VOCAB } from './models/tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Greedy decoding the slow way: a full forward over the whole sequence for every new token. */
function greedyWithoutCache(lm: CausalLM, prompt: number[], n: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const logits = logitsOf(lm, [seq]).subarray((seq.length - 1) * VOCAB);
    seq.push(logits.indexOf(Math.max(...logits)));
  }
  return seq.slice(prompt.length);
}

describe.each(TINY)('generate with %s', (_arch, config) => {
  it('greedy decoding with the KV cache equals greedy decoding by full forwards', async () => {
    const lm = randomize(createModel(config, { seed: 1 }), 2, 1);
    const out = await generate(lm, [1, 2, 3], { maxNewTokens: 6, temperature: 0 });
    expect(out).toEqual(greedyWithoutCache(lm, [1, 2, 3], 6));
    lm.dispose();
  });

  it('is deterministic for a seed, leaks no tensors, and differs across seeds', async () => {
    const lm = randomize(createModel(config, { seed: 1 }), 3, 0.3);
    await generate(lm, [4], { maxNewTokens: 10, temperature: 1, seed: 5 }); // device caches (masks, RoPE) built
    const before = tf.memory().numTensors;
    const a = await generate(lm, [4], { maxNewTokens: 10, temperature: 1, seed: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(await generate(lm, [4], { maxNewTokens: 10, temperature: 1, seed: 5 })).toEqual(a);
    const others = await Promise.all(
      [6, 7, 8].map((seed) => generate(lm, [4], { maxNewTokens: 10, temperature: 1, seed })),
    );
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
    lm.dispose();
  });
});

describe('generate', () => {
  const [, config] = TINY[0]!; // GPT-2, n_positions 16

  it('stops after the EOS token (included, as Hugging Face returns it)', async () => {
    const lm = randomize(createModel(config, { seed: 1 }), 2, 1);
    const greedy = await generate(lm, [1, 2], { maxNewTokens: 5, temperature: 0 });
    const eos = greedy[2]!;
    const cut = await generate(lm, [1, 2], { maxNewTokens: 5, temperature: 0, eosTokenId: [99, eos] });
    expect(cut).toEqual(greedy.slice(0, greedy.indexOf(eos) + 1));
    lm.dispose();
  });

  it('truncates at maxPositions (prompt + new tokens never exceed it) and rejects longer or empty prompts', async () => {
    const lm = createModel(config, { seed: 1 });
    expect(lm.maxPositions).toBe(16);
    const prompt = Array.from({ length: 13 }, (_, i) => i % VOCAB);
    expect(await generate(lm, prompt, { maxNewTokens: 10, temperature: 0 })).toHaveLength(3);
    expect(await generate(lm, Array(16).fill(1), { maxNewTokens: 10 })).toEqual([]);
    await expect(generate(lm, Array(17).fill(1), { maxNewTokens: 1 })).rejects.toThrow(
      'generate: the prompt has 17 tokens, but the model takes at most 16',
    );
    await expect(generate(lm, [], { maxNewTokens: 1 })).rejects.toThrow('the prompt is empty');
    lm.dispose();
  });
});

describe('sampleToken', () => {
  const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);

  function frequencies(options: Parameters<typeof sampleToken>[1], n = 20000): number[] {
    const rng = new Rng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampleToken(logits, options, rng)]!++;
    return counts.map((c) => c / n);
  }

  const close = (got: number[], want: number[]) =>
    got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(0.015));

  it('samples softmax(logits / temperature)', () => {
    close(frequencies({ maxNewTokens: 1 }), [0.5, 0.3, 0.15, 0.05]);
    const t2 = [0.5, 0.3, 0.15, 0.05].map((p) => Math.sqrt(p));
    const z = t2.reduce((a, b) => a + b, 0);
    close(
      frequencies({ maxNewTokens: 1, temperature: 2 }),
      t2.map((p) => p / z),
    );
  });

  it('keeps the k most likely tokens with top-k, and the smallest set reaching p with top-p', () => {
    close(frequencies({ maxNewTokens: 1, topK: 2 }), [0.5 / 0.8, 0.3 / 0.8, 0, 0]);
    close(frequencies({ maxNewTokens: 1, topP: 0.7 }), [0.5 / 0.8, 0.3 / 0.8, 0, 0]);
    close(frequencies({ maxNewTokens: 1, topP: 0.9 }), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]);
    close(frequencies({ maxNewTokens: 1, topK: 3, topP: 0.1 }), [1, 0, 0, 0]);
  });

  it('is greedy at temperature 0', () => {
    expect(frequencies({ maxNewTokens: 1, temperature: 0 }, 100)).toEqual([1, 0, 0, 0]);
  });
});
