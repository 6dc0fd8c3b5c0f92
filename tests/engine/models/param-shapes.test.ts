// paramShapes(config): every weight a model holds, by Hugging Face name and shape, from the config alone — the
// list the constructors create their variables from and the run estimate counts.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import {
  countParameters,
  createModel,
  gpt2ParamShapes,
  gptNeoParamShapes,
  llamaParamShapes,
  logicalWeights,
  paramShapes,
} from '../../../src/engine/models/index.js';
import type { HFConfig } from '../../../src/engine/models/types.js';
import { gpt2Tiny, gptNeoTiny, llamaTiny } from './tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const CONFIGS: [string, HFConfig][] = [
  ['GPT-2 tied', gpt2Tiny],
  ['GPT-2 untied, n_inner', { ...gpt2Tiny, tie_word_embeddings: false, n_inner: 20 }],
  ['GPT-Neo tied', gptNeoTiny],
  ['GPT-Neo untied', { ...gptNeoTiny, tie_word_embeddings: false }],
  ['Llama untied, GQA', llamaTiny],
  ['Llama tied, biases', { ...llamaTiny, tie_word_embeddings: true, attention_bias: true, mlp_bias: true }],
];

describe.each(CONFIGS)('paramShapes: %s', (_name, config) => {
  it('lists exactly the weights the built model holds, in order, and as many parameters', () => {
    const lm = createModel(config, { initialize: false });
    try {
      const shapes = paramShapes(config);
      expect(shapes).toEqual(logicalWeights(lm).map(({ name, shape }) => ({ name, shape })));
      expect(shapes.reduce((n, p) => n + size(p.shape), 0)).toBe(countParameters(lm).total);
    } finally {
      lm.dispose();
    }
  });

  it('lists a tied LM head once, under the embeddings, and an untied one as lm_head.weight', () => {
    const names = paramShapes(config).map((p) => p.name);
    const tied = config.tie_word_embeddings ?? config.model_type !== 'llama';
    expect(names.includes('lm_head.weight')).toBe(!tied);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('paramShapes without a model', () => {
  it('makes no tensor, so a 7B model is counted in no memory', () => {
    const before = tf.memory().numTensors;
    // Llama-2-7b's config.json and GPT-2 small's: Hugging Face's num_parameters() gives these counts.
    const llama7b = {
      model_type: 'llama',
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 32,
    };
    const count = (c: HFConfig) => paramShapes(c).reduce((n, p) => n + size(p.shape), 0);
    expect(count(llama7b)).toBe(6_738_415_616);
    expect(count({ model_type: 'gpt2' })).toBe(124_439_808);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is one function per architecture, chosen by the config', () => {
    expect(paramShapes(gpt2Tiny)).toEqual(gpt2ParamShapes(gpt2Tiny));
    expect(paramShapes(gptNeoTiny)).toEqual(gptNeoParamShapes(gptNeoTiny));
    expect(paramShapes(llamaTiny)).toEqual(llamaParamShapes(llamaTiny));
    expect(gpt2ParamShapes(gpt2Tiny).slice(0, 3)).toEqual([
      { name: 'transformer.wte.weight', shape: [11, 8] },
      { name: 'transformer.wpe.weight', shape: [16, 8] },
      { name: 'transformer.h.0.ln_1.weight', shape: [8] },
    ]);
  });

  it('checks the config as the model does', () => {
    expect(() => paramShapes({ ...gpt2Tiny, n_head: 3 })).toThrow('n_embd (8) must be divisible by n_head (3)');
  });
});
