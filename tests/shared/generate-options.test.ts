// The `generate` call's options as both doors check them (ARGS_VALID): top-k, top-p and seed are optional,
// and a value out of range is refused before it reaches the worker.
import { describe, expect, it } from 'vitest';
import { ARGS_VALID, type GenerateOptions } from '../../src/shared/api.js';

const valid = (options: unknown) => ARGS_VALID.generate(['run-1', 'Once', options]);
const base: GenerateOptions = { maxNewTokens: 10, temperature: 0.8 };

describe('generate options', () => {
  it('takes the options without top-k, top-p or seed, and with each of them', () => {
    expect(valid(base)).toBe(true);
    expect(valid({ ...base, topK: 0, topP: 1, seed: 0 })).toBe(true);
    expect(valid({ ...base, topK: 40, topP: 0.9, seed: 2 ** 31 - 1 })).toBe(true);
  });

  it.each([
    ['a negative top-k', { topK: -1 }],
    ['a fractional top-k', { topK: 1.5 }],
    ['a top-p of 0', { topP: 0 }],
    ['a top-p above 1', { topP: 1.01 }],
    ['a top-p that is not a number', { topP: '0.9' }],
    ['a negative seed', { seed: -1 }],
    ['a seed of 2^31', { seed: 2 ** 31 }],
    ['a fractional seed', { seed: 0.5 }],
  ])('refuses %s', (_, extra) => {
    expect(valid({ ...base, ...extra })).toBe(false);
  });
});
