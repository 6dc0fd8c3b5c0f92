import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/engine/backend.js';
import { causalLMLoss } from '../../../src/engine/loss.js';
import { countParameters, createModel, exportWeights, loadWeights } from '../../../src/engine/models/index.js';
import { releaseMaskCache } from '../../../src/engine/models/layers.js';
import { llamaConfig, ropeInvFreq } from '../../../src/engine/models/llama.js';
import type { CausalLM } from '../../../src/engine/models/types.js';
import { Rng } from '../../../src/engine/random.js';
import { gpt2Tiny, gptNeoTiny, ids, llamaTiny, logitsOf, lossOf, maxAbsDiff, randomize, TINY, VOCAB } from './tiny.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const ROWS = [
  [1, 5, 2, 9, 4],
  [7, 0, 3, 3, 10],
];
const LABELS = [
  [1, 5, 2, 9, 4],
  [7, 0, -100, 3, 10],
];

/** Parameters whose gradients the finite-difference check samples: embeddings, attention, norms, MLP, head. */
const CHECKED: Record<string, string[]> = {
  'GPT-2': [
    'transformer.wte.weight',
    'transformer.wpe.weight',
    'transformer.h.0.ln_1.weight',
    'transformer.h.0.ln_1.bias',
    'transformer.h.0.attn.c_attn.weight',
    'transformer.h.0.attn.c_attn.bias',
    'transformer.h.1.attn.c_proj.weight',
    'transformer.h.1.ln_2.bias',
    'transformer.h.0.mlp.c_fc.weight',
    'transformer.h.1.mlp.c_proj.weight',
    'transformer.ln_f.weight',
  ],
  'GPT-Neo': [
    'transformer.wte.weight',
    'transformer.wpe.weight',
    'transformer.h.0.ln_1.weight',
    'transformer.h.0.attn.attention.q_proj.weight',
    'transformer.h.1.attn.attention.k_proj.weight',
    'transformer.h.1.attn.attention.v_proj.weight',
    'transformer.h.0.attn.attention.out_proj.bias',
    'transformer.h.1.mlp.c_fc.weight',
    'transformer.h.0.mlp.c_proj.bias',
    'transformer.ln_f.bias',
  ],
  Llama: [
    'model.embed_tokens.weight',
    'model.layers.0.input_layernorm.weight',
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.1.self_attn.k_proj.weight',
    'model.layers.0.self_attn.v_proj.weight',
    'model.layers.1.self_attn.o_proj.weight',
    'model.layers.0.mlp.gate_proj.weight',
    'model.layers.1.mlp.up_proj.weight',
    'model.layers.0.mlp.down_proj.weight',
    'model.layers.1.post_attention_layernorm.weight',
    'model.norm.weight',
    'lm_head.weight',
  ],
};

function setEntry(v: tf.Variable, data: Float32Array, index: number, value: number): void {
  const copy = data.slice();
  copy[index] = value;
  tf.tidy(() => v.assign(tf.tensor(copy, v.shape)));
}

describe.each(TINY)('%s', (arch, config) => {
  it('returns logits [B, T, V] and is deterministic for a seed', () => {
    const a = createModel(config, { seed: 3 });
    const b = createModel(config, { seed: 3 });
    const c = createModel(config, { seed: 4 });
    const la = logitsOf(a, ROWS);
    expect(la.length).toBe(2 * 5 * VOCAB);
    expect(tf.tidy(() => a.forward(ids(ROWS))).shape).toEqual([2, 5, VOCAB]);
    expect(maxAbsDiff(la, logitsOf(b, ROWS))).toBe(0);
    expect(maxAbsDiff(la, logitsOf(c, ROWS))).toBeGreaterThan(0);
    for (const m of [a, b, c]) m.dispose();
  });

  it('has gradients that match central finite differences on embeddings, attention, norms and MLP', () => {
    const lm = randomize(createModel(config, { seed: 1 }), 7, 0.3);
    const names = CHECKED[arch]!;
    const vars = names.map((n) => lm.params.get(n)!);
    expect(vars.every(Boolean)).toBe(true);
    const { grads } = tf.variableGrads(
      () => tf.tidy(() => causalLMLoss(lm.forward(ids(ROWS)), ids(LABELS)).loss),
      vars,
    );
    const rng = new Rng(11);
    let checked = 0;
    for (const [k, name] of names.entries()) {
      const v = vars[k]!;
      const g = grads[v.name]!.dataSync() as Float32Array;
      const data = v.dataSync().slice() as Float32Array;
      // The entry with the largest gradient, and two more at random.
      let top = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[top]!)) top = i;
      for (const index of [top, Math.floor(rng.uniform() * g.length), Math.floor(rng.uniform() * g.length)]) {
        // float32: eps trades truncation error (∝ eps²) against rounding of the loss (∝ 1/eps).
        const eps = 5e-3;
        setEntry(v, data, index, data[index]! + eps);
        const up = lossOf(lm, ROWS, LABELS);
        setEntry(v, data, index, data[index]! - eps);
        const down = lossOf(lm, ROWS, LABELS);
        setEntry(v, data, index, data[index]!);
        const numeric = (up - down) / (2 * eps);
        expect(
          Math.abs(numeric - g[index]!),
          `${name}[${index}]: analytic ${g[index]}, numeric ${numeric}`,
        ).toBeLessThan(4e-4 + 1e-2 * Math.abs(g[index]!));
        checked++;
      }
      expect(Math.abs(g[top]!), `${name} has a non-trivial gradient`).toBeGreaterThan(1e-3);
    }
    expect(checked).toBe(names.length * 3);
    tf.dispose(grads);
    lm.dispose();
  });

  it('gives the same logits with the KV cache (prefill, then one token at a time) as a full forward', () => {
    const lm = randomize(createModel(config, { seed: 2 }), 5);
    const seq = [3, 1, 4, 1, 5, 9, 2, 6];
    const full = logitsOf(lm, [seq]);
    const cache = lm.createCache(1);
    const parts: number[] = [];
    for (const chunk of [seq.slice(0, 3), [seq[3]!], [seq[4]!], seq.slice(5, 7), [seq[7]!]]) {
      parts.push(...tf.tidy(() => lm.forward(ids([chunk]), { cache })).dataSync());
    }
    expect(cache.length).toBe(seq.length);
    expect(cache.layers).toHaveLength(lm.numLayers);
    expect(cache.layers[0]!.k.shape[2]).toBe(seq.length);
    expect(maxAbsDiff(parts, full)).toBeLessThan(1e-5);
    cache.dispose();
    lm.dispose();
  });

  it('applies dropout only when training, with masks reproduced by the seed', () => {
    const withDropout =
      arch === 'GPT-2'
        ? { ...config, resid_pdrop: 0.3, embd_pdrop: 0.3, attn_pdrop: 0.3 }
        : arch === 'GPT-Neo'
          ? { ...config, resid_dropout: 0.3, embed_dropout: 0.3, attention_dropout: 0.3 }
          : { ...config, attention_dropout: 0.3 };
    const lm = randomize(createModel(withDropout, { seed: 2 }), 5);
    const run = (options: { training?: boolean; seed?: number }) => {
      const x = ids(ROWS);
      const y = lm.forward(x, options);
      const d = y.dataSync() as Float32Array;
      tf.dispose([x, y]);
      return d;
    };
    const evalA = run({});
    expect(maxAbsDiff(evalA, run({ training: false, seed: 1 }))).toBe(0);
    const trainA = run({ training: true, seed: 42 });
    expect(maxAbsDiff(trainA, run({ training: true, seed: 42 }))).toBe(0);
    expect(maxAbsDiff(trainA, run({ training: true, seed: 43 }))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(trainA, evalA)).toBeGreaterThan(1e-3);
    lm.dispose();
  });

  it('keeps tf.memory().numTensors flat across repeated forward/backward steps and cached forwards', () => {
    releaseMaskCache();
    const start = tf.memory().numTensors;
    const lm = createModel(config, { seed: 0 });
    const vars = [...lm.params.values()];
    const step = (i: number) => {
      const { value, grads } = tf.variableGrads(() => {
        const { loss } = causalLMLoss(lm.forward(ids(ROWS), { training: true, seed: i }), ids(LABELS));
        return loss;
      }, vars);
      tf.tidy(() => {
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.01)));
      });
      value.dispose();
      tf.dispose(grads);
      const cache = lm.createCache(1);
      for (const t of [2, 3, 4]) tf.tidy(() => void lm.forward(ids([[t]]), { cache }));
      cache.dispose();
    };
    step(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i < 4; i++) step(i);
    expect(tf.memory().numTensors).toBe(before);
    lm.dispose();
    releaseMaskCache();
    expect(tf.memory().numTensors).toBe(start); // the model freed its weights and its device caches (RoPE)
  });

  it('refuses input that is not int32 [batch, time], with a message that says what to pass', () => {
    const lm = createModel(config);
    const f = tf.tensor2d([[1, 2]], [1, 2], 'float32');
    expect(() => lm.forward(f)).toThrow('input ids must be int32, got float32');
    f.dispose();
    lm.dispose();
  });
});

describe('initialization', () => {
  const std = (d: ArrayLike<number>) => Math.sqrt(Array.from(d).reduce((s, x) => s + x * x, 0) / d.length);

  it('follows GPT-2 _init_weights: N(0, 0.02), zero biases, unit LayerNorm, c_proj scaled by 1/sqrt(2·n_layer)', async () => {
    const lm = createModel({ ...gpt2Tiny, n_embd: 32, n_head: 4, n_layer: 8, vocab_size: 500 }, { seed: 0 });
    const w = await exportWeights(lm);
    expect(std(w.get('transformer.wte.weight')!.data)).toBeCloseTo(0.02, 3);
    expect(std(w.get('transformer.h.0.mlp.c_fc.weight')!.data)).toBeCloseTo(0.02, 3);
    expect(std(w.get('transformer.h.0.mlp.c_proj.weight')!.data)).toBeCloseTo(0.02 / 4, 3);
    expect(std(w.get('transformer.h.3.attn.c_proj.weight')!.data)).toBeCloseTo(0.02 / 4, 3);
    expect([...w.get('transformer.h.0.attn.c_attn.bias')!.data].every((x) => x === 0)).toBe(true);
    expect([...w.get('transformer.ln_f.weight')!.data].every((x) => x === 1)).toBe(true);
    lm.dispose();
  });

  it('gives Llama a zero embedding row for pad_token_id, as nn.Embedding(padding_idx)', async () => {
    const lm = createModel({ ...llamaTiny, pad_token_id: 3 }, { seed: 0 });
    const e = (await exportWeights(lm)).get('model.embed_tokens.weight')!;
    expect([...e.data.slice(3 * 8, 4 * 8)].every((x) => x === 0)).toBe(true);
    expect([...e.data.slice(2 * 8, 3 * 8)].some((x) => x !== 0)).toBe(true);
    lm.dispose();
  });

  it('counts parameters, a tied LM head once', () => {
    const lm = createModel(gpt2Tiny);
    const D = 8;
    const perLayer = 2 * D + (D * 3 * D + 3 * D) + (D * D + D) + 2 * D + (D * 4 * D + 4 * D) + (4 * D * D + D);
    const expected = VOCAB * D + 16 * D + 2 * perLayer + 2 * D;
    expect(countParameters(lm)).toEqual({ total: expected, trainable: expected });
    lm.dispose();
  });
});

describe('GPT-Neo local attention', () => {
  /** Does changing the token at `changed` change the logits at each position? */
  function influence(lm: CausalLM, changed: number): boolean[] {
    const seq = [1, 2, 3, 4, 5, 6, 7];
    const other = seq.map((t, i) => (i === changed ? (t + 3) % VOCAB : t));
    const [a, b] = [logitsOf(lm, [seq]), logitsOf(lm, [other])];
    return seq.map(
      (_, t) => maxAbsDiff(a.subarray(t * VOCAB, (t + 1) * VOCAB), b.subarray(t * VOCAB, (t + 1) * VOCAB)) > 1e-6,
    );
  }

  it('lets a local layer see only the previous window_size tokens (i - window < j <= i)', () => {
    const lm = randomize(
      createModel({ ...gptNeoTiny, num_layers: 1, attention_types: [[['local'], 1]], window_size: 3 }),
      1,
    );
    // Position t sees t-2, t-1, t: a change at 1 reaches positions 1, 2, 3 and no further.
    expect(influence(lm, 1)).toEqual([false, true, true, true, false, false, false]);
    lm.dispose();
  });

  it('widens the receptive field by window_size - 1 per stacked local layer, and a global layer sees everything', () => {
    const local = randomize(createModel({ ...gptNeoTiny, attention_types: [[['local'], 2]], window_size: 2 }), 1);
    expect(influence(local, 1)).toEqual([false, true, true, true, false, false, false]);
    local.dispose();
    const mixed = randomize(
      createModel({ ...gptNeoTiny, attention_types: [[['local', 'global'], 1]], window_size: 2 }),
      1,
    );
    expect(influence(mixed, 1)).toEqual([false, true, true, true, true, true, true]);
    mixed.dispose();
  });

  it('expands attention_types to one type per layer and checks it against num_layers', () => {
    expect(() => createModel({ ...gptNeoTiny, attention_types: [[['global', 'local'], 2]] })).toThrow(
      'attention_types expand to 4 layers, but num_layers is 2',
    );
  });
});

describe('Llama grouped-query attention', () => {
  it('with num_key_value_heads < num_attention_heads equals full attention with each k/v head repeated', async () => {
    const gqa = randomize(createModel(llamaTiny, { seed: 0 }), 3); // 4 query heads share 2 k/v heads
    const mha = createModel({ ...llamaTiny, num_key_value_heads: 4 }, { seed: 0 });
    const hs = 2;
    const weights = await exportWeights(gqa);
    for (const i of [0, 1]) {
      for (const proj of ['k_proj', 'v_proj']) {
        // [nkv·hs, D] → [nh·hs, D]: query head h uses k/v head floor(h / 2), as repeat_kv.
        const name = `model.layers.${i}.self_attn.${proj}.weight`;
        const w = weights.get(name)!;
        const rows = Array.from({ length: 4 }, (_, h) =>
          w.data.subarray(Math.floor(h / 2) * hs * 8, (Math.floor(h / 2) + 1) * hs * 8),
        );
        const data = new Float32Array(4 * hs * 8);
        rows.forEach((r, h) => data.set(r, h * hs * 8));
        weights.set(name, { shape: [4 * hs, 8], data });
      }
    }
    loadWeights(mha, weights);
    expect(maxAbsDiff(logitsOf(gqa, ROWS), logitsOf(mha, ROWS))).toBeLessThan(1e-5);
    gqa.dispose();
    mha.dispose();
  });

  it('supports head_dim different from hidden_size / num_attention_heads', () => {
    const lm = createModel({ ...llamaTiny, head_dim: 6 });
    expect(lm.params.get('model.layers.0.self_attn.q_proj.weight')!.shape).toEqual([24, 8]);
    expect(lm.params.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([12, 8]);
    expect(lm.params.get('model.layers.0.self_attn.o_proj.weight')!.shape).toEqual([8, 24]);
    expect(logitsOf(lm, ROWS).every(Number.isFinite)).toBe(true);
    lm.dispose();
  });
});

describe('Llama rotary embedding', () => {
  it('uses inv_freq = 1/θ^(2k/d), divided by the factor for linear scaling', () => {
    const plain = ropeInvFreq(llamaConfig({ ...llamaTiny, head_dim: 8, rope_theta: 10000 }));
    expect([...plain].map((x) => Number(x.toPrecision(6)))).toEqual([1, 0.1, 0.01, 0.001]);
    const linear = ropeInvFreq(llamaConfig({ ...llamaTiny, head_dim: 8, rope_scaling: { type: 'linear', factor: 4 } }));
    expect([...linear].map((x) => Number(x.toPrecision(6)))).toEqual([0.25, 0.025, 0.0025, 0.00025]);
  });

  it('applies llama3 scaling: short wavelengths kept, long ones divided by factor, the middle interpolated', () => {
    const scaling = {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
    };
    const inv = ropeInvFreq(llamaConfig({ ...llamaTiny, head_dim: 8, rope_theta: 10000, rope_scaling: scaling }));
    // Wavelengths 2π/f: 6.3 (< 64/4 = 16: kept), 62.8 (between 16 and 64: smoothed), 628 and 6283 (> 64: / 8).
    const smooth = (64 / ((2 * Math.PI) / 0.1) - 1) / (4 - 1);
    const want = [1, (1 - smooth) * (0.1 / 8) + smooth * 0.1, 0.01 / 8, 0.001 / 8];
    inv.forEach((x, k) => expect(x).toBeCloseTo(want[k]!, 6));
    expect(() => ropeInvFreq(llamaConfig({ ...llamaTiny, rope_scaling: { rope_type: 'yarn', factor: 2 } }))).toThrow(
      'rope_scaling type "yarn" is not supported (use none, linear or llama3)',
    );
  });
});
