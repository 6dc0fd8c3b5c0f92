import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import { architectureOf, createModel, exportWeights, loadWeights } from '../../../src/engine/models/index.js';
import type { HostTensor } from '../../../src/engine/models/types.js';
import { gpt2Tiny, gptNeoTiny, llamaTiny, logitsOf, maxAbsDiff, randomWeights, TINY } from './tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const ROWS = [[1, 2, 3, 4]];

const zeros = (shape: number[]): HostTensor => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe('tensor names and shapes are exactly those of Hugging Face transformers', () => {
  it('GPT-2: transformer.* with Conv1D weights [in, out] and no lm_head (tied)', () => {
    const lm = createModel({ ...gpt2Tiny, n_layer: 1, n_inner: 20 });
    const shapes = Object.fromEntries([...lm.params].map(([n, v]) => [n, v.shape]));
    expect(shapes).toEqual({
      'transformer.wte.weight': [11, 8],
      'transformer.wpe.weight': [16, 8],
      'transformer.h.0.ln_1.weight': [8],
      'transformer.h.0.ln_1.bias': [8],
      'transformer.h.0.attn.c_attn.weight': [8, 24],
      'transformer.h.0.attn.c_attn.bias': [24],
      'transformer.h.0.attn.c_proj.weight': [8, 8],
      'transformer.h.0.attn.c_proj.bias': [8],
      'transformer.h.0.ln_2.weight': [8],
      'transformer.h.0.ln_2.bias': [8],
      'transformer.h.0.mlp.c_fc.weight': [8, 20],
      'transformer.h.0.mlp.c_fc.bias': [20],
      'transformer.h.0.mlp.c_proj.weight': [20, 8],
      'transformer.h.0.mlp.c_proj.bias': [8],
      'transformer.ln_f.weight': [8],
      'transformer.ln_f.bias': [8],
    });
    lm.dispose();
  });

  it('GPT-Neo: transformer.h.N.attn.attention.{q,k,v}_proj without bias, nn.Linear [out, in]', () => {
    const lm = createModel({ ...gptNeoTiny, num_layers: 1, attention_types: [[['local'], 1]], intermediate_size: 20 });
    const shapes = Object.fromEntries([...lm.params].map(([n, v]) => [n, v.shape]));
    expect(shapes).toEqual({
      'transformer.wte.weight': [11, 8],
      'transformer.wpe.weight': [16, 8],
      'transformer.h.0.ln_1.weight': [8],
      'transformer.h.0.ln_1.bias': [8],
      'transformer.h.0.attn.attention.k_proj.weight': [8, 8],
      'transformer.h.0.attn.attention.v_proj.weight': [8, 8],
      'transformer.h.0.attn.attention.q_proj.weight': [8, 8],
      'transformer.h.0.attn.attention.out_proj.weight': [8, 8],
      'transformer.h.0.attn.attention.out_proj.bias': [8],
      'transformer.h.0.ln_2.weight': [8],
      'transformer.h.0.ln_2.bias': [8],
      'transformer.h.0.mlp.c_fc.weight': [20, 8],
      'transformer.h.0.mlp.c_fc.bias': [20],
      'transformer.h.0.mlp.c_proj.weight': [8, 20],
      'transformer.h.0.mlp.c_proj.bias': [8],
      'transformer.ln_f.weight': [8],
      'transformer.ln_f.bias': [8],
    });
    lm.dispose();
  });

  it('Llama: model.* with GQA-sized k/v projections, and lm_head.weight unless tied', () => {
    const lm = createModel({ ...llamaTiny, num_hidden_layers: 1 });
    const shapes = Object.fromEntries([...lm.params].map(([n, v]) => [n, v.shape]));
    expect(shapes).toEqual({
      'model.embed_tokens.weight': [11, 8],
      'model.layers.0.self_attn.q_proj.weight': [8, 8],
      'model.layers.0.self_attn.k_proj.weight': [4, 8],
      'model.layers.0.self_attn.v_proj.weight': [4, 8],
      'model.layers.0.self_attn.o_proj.weight': [8, 8],
      'model.layers.0.mlp.gate_proj.weight': [12, 8],
      'model.layers.0.mlp.up_proj.weight': [12, 8],
      'model.layers.0.mlp.down_proj.weight': [8, 12],
      'model.layers.0.input_layernorm.weight': [8],
      'model.layers.0.post_attention_layernorm.weight': [8],
      'model.norm.weight': [8],
      'lm_head.weight': [11, 8],
    });
    lm.dispose();
    const tied = createModel({ ...llamaTiny, tie_word_embeddings: true });
    expect(tied.params.has('lm_head.weight')).toBe(false);
    tied.dispose();
  });
});

describe('createModel', () => {
  it('chooses the architecture by architectures[0], else by model_type', () => {
    expect(architectureOf({ architectures: ['GPTNeoForCausalLM'] })).toBe('GPTNeoForCausalLM');
    expect(architectureOf({ model_type: 'llama' })).toBe('LlamaForCausalLM');
    expect(architectureOf({ architectures: ['GPT2Model'], model_type: 'gpt2' })).toBe('GPT2LMHeadModel');
  });

  it('names an unsupported architecture and what is supported', () => {
    expect(() => createModel({ architectures: ['MistralForCausalLM'], model_type: 'mistral' })).toThrow(
      'config.json: unsupported model (architecture "MistralForCausalLM", model_type "mistral"): Dumbo implements ' +
        'GPT2LMHeadModel, GPTNeoForCausalLM, LlamaForCausalLM (model_type gpt2, gpt_neo, llama)',
    );
    expect(() => createModel({})).toThrow('no architectures or model_type given');
  });

  it('rejects configs that cannot work, naming the key', () => {
    expect(() => createModel({ ...gpt2Tiny, n_head: 3 })).toThrow('n_embd (8) must be divisible by n_head (3)');
    expect(() => createModel({ ...llamaTiny, num_key_value_heads: 3 })).toThrow(
      'num_attention_heads (4) must be a multiple of num_key_value_heads (3)',
    );
    expect(() => createModel({ ...gpt2Tiny, n_embd: '8' })).toThrow('config.json: n_embd must be a number, got "8"');
    expect(() => createModel({ ...gpt2Tiny, activation_function: 'mish' })).toThrow(
      'activation "mish" is not supported',
    );
  });
});

describe.each(TINY)('%s weights', (_arch, config) => {
  it('can skip the initial draw (initialize: false) when a checkpoint is loaded right after', async () => {
    const a = createModel(config, { seed: 1 });
    const b = createModel(config, { initialize: false });
    expect([...(await exportWeights(b)).values()].every((t) => t.data.every((x) => x === 0))).toBe(true);
    loadWeights(b, await exportWeights(a));
    expect(maxAbsDiff(logitsOf(a, ROWS), logitsOf(b, ROWS))).toBe(0);
    a.dispose();
    b.dispose();
  });

  it('round-trips through exportWeights → loadWeights with identical logits', async () => {
    const a = createModel(config, { seed: 1 });
    loadWeights(a, randomWeights(a, 9));
    const b = createModel(config, { seed: 2 });
    expect(maxAbsDiff(logitsOf(a, ROWS), logitsOf(b, ROWS))).toBeGreaterThan(1e-3);
    loadWeights(b, await exportWeights(a));
    expect(maxAbsDiff(logitsOf(a, ROWS), logitsOf(b, ROWS))).toBe(0);
    a.dispose();
    b.dispose();
  });

  it('loads names without the base-model prefix, ignores buffers and a tied lm_head, as from_pretrained', () => {
    const a = createModel(config, { seed: 1 });
    const weights = randomWeights(a, 4);
    loadWeights(a, weights);
    const b = createModel(config, { seed: 2 });
    const prefix = [...a.params.keys()][0]!.startsWith('model.') ? 'model.' : 'transformer.';
    const stripped = new Map([...weights].map(([n, t]) => [n.startsWith(prefix) ? n.slice(prefix.length) : n, t]));
    // Buffers real checkpoints carry: GPT-2's attn.bias / masked_bias, GPT-Neo's, Llama's rotary inv_freq.
    stripped.set('h.0.attn.bias', zeros([1, 1, 16, 16]));
    stripped.set('h.0.attn.masked_bias', zeros([]));
    stripped.set('transformer.h.1.attn.attention.bias', zeros([1, 1, 16, 16]));
    stripped.set('model.layers.0.self_attn.rotary_emb.inv_freq', zeros([1]));
    if (!weights.has('lm_head.weight'))
      stripped.set('lm_head.weight', weights.get(`${prefix}${prefix === 'model.' ? 'embed_tokens' : 'wte'}.weight`)!);
    loadWeights(b, stripped);
    expect(maxAbsDiff(logitsOf(a, ROWS), logitsOf(b, ROWS))).toBe(0);
    a.dispose();
    b.dispose();
  });
});

describe('loadWeights errors', () => {
  it('lists missing tensors, unexpected tensors and shape mismatches by name, and assigns nothing', async () => {
    const lm = createModel(gpt2Tiny, { seed: 1 });
    const before = await exportWeights(lm);
    const weights = randomWeights(lm, 2);
    weights.delete('transformer.h.1.mlp.c_fc.bias');
    weights.delete('transformer.ln_f.weight');
    weights.set('transformer.h.0.attn.c_attn.weight', zeros([8, 12]));
    weights.set('transformer.h.7.attn.c_attn.weight', zeros([8, 24]));
    weights.set('score.weight', zeros([2, 8]));
    let message = '';
    try {
      loadWeights(lm, weights);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'the checkpoint does not fit this GPT2LMHeadModel config:\n' +
        'shape mismatches:\n' +
        '  transformer.h.0.attn.c_attn.weight: checkpoint has [8,12], config expects [8,24]\n' +
        'missing tensors: transformer.h.1.mlp.c_fc.bias, transformer.ln_f.weight\n' +
        'unexpected tensors: transformer.h.7.attn.c_attn.weight, score.weight',
    );
    const after = await exportWeights(lm);
    for (const [n, t] of before) expect(maxAbsDiff(t.data, after.get(n)!.data), n).toBe(0);
    lm.dispose();
  });

  it('requires lm_head.weight when the head is not tied', async () => {
    const lm = createModel(llamaTiny);
    const weights = await exportWeights(lm);
    weights.delete('lm_head.weight');
    expect(() => loadWeights(lm, weights)).toThrow('missing tensors: lm_head.weight');
    lm.dispose();
  });

  it('exportWeights leaves out a tied lm_head, as save_pretrained does', async () => {
    const lm = createModel(gpt2Tiny);
    expect((await exportWeights(lm)).has('lm_head.weight')).toBe(false);
    lm.dispose();
  });
});
