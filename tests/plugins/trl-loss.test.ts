// The trl plugin's losses on a tiny GPT-2: SFT's masked positions carry no loss; DPO's loss and metrics equal
// the formula on log-probabilities computed here by hand; the reference is the initial model whether it is a
// frozen copy, precomputed before training, or (with LoRA) the same model with its adapters switched off.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  getMetricsRegistry,
  MetricsCollector,
  setConsoleLogLevel,
  standaloneContext,
  type Dataset,
  type MetricEvent,
  type PluginConfig,
  type Result,
  type Tokenizer,
} from '../../src/core/index.js';
import {
  attachLora,
  causalLMLoss,
  causalLMLossFunction,
  collate,
  createModel,
  initBackend,
  tf,
  wrapModel,
  type CausalLM,
  type EngineLossFunction,
  type HFConfig,
} from '../../src/engine/index.js';
import { Trl, type PairRow } from '../../plugins/trl/index.js';
import { randomize } from '../engine/models/tiny.js';
import { validSection } from './section.js';

const VOCAB = 64;
const config: HFConfig = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: VOCAB,
  n_positions: 48,
  n_embd: 8,
  n_layer: 2,
  n_head: 2,
  activation_function: 'gelu_new',
};

const EOS = 2;
/** One id per character, folded into the tiny vocabulary; `</s>` is EOS. */
function enc(text: string): number[] {
  const ids: number[] = [];
  for (let i = 0; i < text.length;) {
    const eos = text.startsWith('</s>', i);
    ids.push(eos ? EOS : (text.charCodeAt(i) % 60) + 3);
    i += eos ? 4 : 1;
  }
  return ids;
}
const tokenizer: Tokenizer = {
  vocabSize: VOCAB,
  encode: (text) => enc(text),
  decode: () => '',
  eosTokenId: EOS,
  specialTokens: { eos_token: '</s>' },
};
const TEMPLATE =
  "{% for m in messages %}{% if m.role == 'assistant' %}A: {{ m.content }}{{ eos_token }}\n" +
  '{% else %}{{ m.role }}: {{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}';

const PAIRS = [
  { prompt: 'Tom: can I play?', chosen: ' Yes, Tom!', rejected: ' No.' },
  { prompt: 'Sue: a turn?', chosen: ' Yes, Sue!', rejected: ' Go away, you.' },
  { prompt: 'Ben: come?', chosen: ' Yes!', rejected: ' No!' },
];

beforeAll(async () => {
  setConsoleLogLevel('off');
  await initBackend('cpu');
});

function model(seed: number): CausalLM {
  return randomize(createModel(config, { seed: 0 }), seed, 0.3);
}

/** log p(labels[t] | ids[..t]) summed over the predicted positions, in double precision, from the logits. */
function logpByHand(lm: CausalLM, ids: number[], labels: number[]): number {
  const logits = tf.tidy(() => lm.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).arraySync()[0]!);
  let sum = 0;
  for (let t = 1; t < ids.length; t++) {
    if (labels[t] === -100) continue;
    const row = logits[t - 1]!;
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    sum += row[labels[t]!]! - lse;
  }
  return sum;
}

const logSigmoid = (z: number) => -Math.log1p(Math.exp(-z));

/** The trl plugin as a run drives it, up to the trainer's compute_loss. */
class Driver {
  readonly plugin = new Trl();
  readonly hooks = this.plugin.hooks();
  readonly ctx = standaloneContext('trl');
  rows: PairRow[] = [];

  async start(options: PluginConfig, lm: CausalLM): Promise<EngineLossFunction> {
    const section = validSection(Trl, { method: 'dpo', ...options }).unwrap();
    await this.hooks.log_init!(section, this.ctx);
    const data = (await this.hooks.dataset_formatter!(
      { train: PAIRS },
      section,
      tokenizer,
      this.ctx,
    )) as Result<Dataset>;
    this.rows = data.unwrap().train as PairRow[];
    await this.hooks.trainable_parameters!(lm.params, wrapModel(lm), this.ctx);
    const fn = (await this.hooks.compute_loss!(causalLMLossFunction, this.ctx)) as Result<EngineLossFunction>;
    return fn.unwrap();
  }

  /** The loss of every pair as one batch, and the metrics the plugin logs for it. */
  async loss(fn: EngineLossFunction, lm: CausalLM, training = true) {
    const out = tf.tidy(() => {
      const r = fn(lm, collate(this.rows, 48, 0), { training });
      return { loss: r.loss.dataSync()[0]!, weight: r.weight };
    });
    const events: MetricEvent[] = [];
    const collector = new (class extends MetricsCollector {
      logMetric(e: MetricEvent) {
        events.push(e);
      }
    })();
    getMetricsRegistry().register(collector);
    try {
      if (training) await this.hooks.log_metrics!([], 7, this.ctx);
      else await this.hooks.on_evaluate!({ step: 7, metrics: {} }, {} as never, this.ctx);
    } finally {
      getMetricsRegistry().unregister(collector);
    }
    return {
      ...out,
      metrics: Object.fromEntries(events.map((e) => [e.name, e.value])),
      steps: events.map((e) => e.step),
    };
  }

  finish() {
    return this.hooks.finish!(this.ctx);
  }
}

const drivers: Driver[] = [];
function driver(): Driver {
  const d = new Driver();
  drivers.push(d);
  return d;
}
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.finish();
});

/** What the DPO loss and TRL's metrics are, by hand, for the policy and reference log-probabilities. */
function expected(rows: PairRow[], policy: CausalLM, reference: CausalLM, beta: number) {
  const per = rows.map((r) => {
    const pc = logpByHand(policy, r.input_ids, r.labels);
    const pr = logpByHand(policy, r.rejected_input_ids, r.rejected_labels);
    const rc = logpByHand(reference, r.input_ids, r.labels);
    const rr = logpByHand(reference, r.rejected_input_ids, r.rejected_labels);
    const chosen = beta * (pc - rc);
    const rejected = beta * (pr - rr);
    return { loss: -logSigmoid(beta * (pc - rc - (pr - rr))), chosen, rejected, pc, pr };
  });
  const mean = (f: (x: (typeof per)[0]) => number) => per.reduce((s, x) => s + f(x), 0) / per.length;
  return {
    loss: mean((x) => x.loss),
    metrics: {
      'rewards/chosen': mean((x) => x.chosen),
      'rewards/rejected': mean((x) => x.rejected),
      'rewards/accuracies': mean((x) => (x.chosen > x.rejected ? 1 : 0)),
      'rewards/margins': mean((x) => x.chosen - x.rejected),
      'logps/chosen': mean((x) => x.pc),
      'logps/rejected': mean((x) => x.pr),
    },
  };
}

function expectClose(actual: Record<string, number>, wanted: Record<string, number>, tol = 1e-4) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(wanted).sort());
  for (const [k, v] of Object.entries(wanted))
    expect(Math.abs(actual[k]! - v), `${k}: ${actual[k]} vs ${v}`).toBeLessThan(tol);
}

describe('trl SFT: masked positions carry no loss', () => {
  it('the loss of a formatted chat is the mean over the assistant tokens only, whatever the logits predict elsewhere', async () => {
    // User and assistant by turns.
    const messages = ['hi there', 'hello', 'bye', 'ok'].map((content, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content,
    }));
    const section = validSection(Trl, { chat_template: TEMPLATE }).unwrap();
    const data = (await new Trl().hooks().dataset_formatter!(
      { train: [{ messages }] },
      section,
      tokenizer,
      standaloneContext('trl'),
    )) as Result<Dataset>;
    const row = data.unwrap().train[0] as PairRow;
    const lm = model(1);
    const trained = row.labels.flatMap((l, t) => (t > 0 && l !== -100 ? [t] : []));
    expect(trained.length).toBe(enc(' hello</s>\n ok</s>\n').length);
    const byHand = -logpByHand(lm, row.input_ids, row.labels) / trained.length;
    const losses = tf.tidy(() => {
      const batch = collate([row], 48, 0);
      const logits = lm.forward(batch.inputIds);
      const T = row.input_ids.length;
      // Noise on the logits of every position that predicts a masked label, then on one that predicts a trained one.
      const noise = (positions: number[]) =>
        tf.add(
          logits,
          tf.mul(
            tf.randomNormal(logits.shape, 0, 5, 'float32', 3),
            tf.tensor3d(
              Array.from({ length: T }, (_, t) =>
                Array.from({ length: VOCAB }, () => (positions.includes(t) ? 1 : 0)),
              ).flat(),
              [1, T, VOCAB],
            ),
          ),
        );
      const predictsMasked = Array.from({ length: T - 1 }, (_, t) => t).filter((t) => row.labels[t + 1] === -100);
      return [logits, noise(predictsMasked), noise([trained[0]! - 1])].map(
        (l) => causalLMLoss(l as tf.Tensor3D, batch.labels).loss.dataSync()[0]!,
      );
    });
    expect(Math.abs(losses[0]! - byHand)).toBeLessThan(1e-5);
    expect(losses[1]).toBe(losses[0]);
    expect(Math.abs(losses[2]! - losses[0]!)).toBeGreaterThan(1e-3);
  });
});

describe('trl DPO loss', () => {
  it('equals -logsigmoid(beta((pi_c - ref_c) - (pi_r - ref_r))) averaged over the pairs, weighed by the pair count', async () => {
    const lm = model(1);
    const d = driver();
    const fn = await d.start({ beta: 0.5 }, lm);
    const initial = model(1);
    randomize(lm, 2, 0.3); // the policy moves on; the reference stays the initial model
    const got = await d.loss(fn, lm);
    const want = expected(d.rows, lm, initial, 0.5);
    expect(got.weight).toBe(PAIRS.length);
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-5);
    expectClose(got.metrics, want.metrics);
    expect(new Set(got.steps)).toEqual(new Set([7]));
  });

  it('is log 2 with every reward 0 before the policy moves, and logs eval metrics under eval/', async () => {
    const lm = model(3);
    const d = driver();
    const fn = await d.start({}, lm);
    const got = await d.loss(fn, lm, false);
    expect(Math.abs(got.loss - Math.log(2))).toBeLessThan(1e-6);
    expect(got.metrics['eval/rewards/margins']).toBeCloseTo(0, 6);
    expect(got.metrics['eval/rewards/accuracies']).toBe(0);
    expect(Object.keys(got.metrics)).toHaveLength(6);
  });

  it('gives the same loss and metrics with the reference precomputed before training as computed at each step', async () => {
    const lm = model(4);
    const perStep = driver();
    const stepFn = await perStep.start({ precompute_ref_log_probs: false }, lm);
    const pre = driver();
    const preFn = await pre.start({ precompute_ref_log_probs: true, precompute_ref_batch_size: 2 }, lm);
    expect(
      pre.rows.every((r) => typeof r.ref_chosen_logps === 'number' && typeof r.ref_rejected_logps === 'number'),
    ).toBe(true);
    randomize(lm, 5, 0.3);
    const a = await perStep.loss(stepFn, lm);
    const b = await pre.loss(preFn, lm);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
    expectClose(b.metrics, a.metrics, 1e-5);
    expect(a.metrics['rewards/margins']).not.toBe(0);
  });

  it('with LoRA, the reference is the same model with its adapters off, switched back on after', async () => {
    const base = model(6);
    const tuned = model(7);
    const seen: boolean[] = [];
    // A model whose LoRA switch picks which weights answer: the base model while it is off.
    const lora = { enabled: true };
    const lm: CausalLM & { lora: { enabled: boolean } } = Object.assign(Object.create(base) as CausalLM, {
      lora,
      forward: (ids: tf.Tensor2D, o?: object) => {
        seen.push(lora.enabled);
        return (lora.enabled ? tuned : base).forward(ids, o);
      },
    });
    for (const precompute of [false, true]) {
      seen.length = 0;
      const d = driver();
      const fn = await d.start({ precompute_ref_log_probs: precompute, beta: 0.2 }, lm);
      const got = await d.loss(fn, lm);
      expect(Math.abs(got.loss - expected(d.rows, tuned, base, 0.2).loss)).toBeLessThan(1e-5);
      expect(lora.enabled).toBe(true);
      // Precomputed: the reference's one pass before training, then the policy's; else policy, then reference.
      expect(seen).toEqual(precompute ? [false, true] : [true, false]);
    }
  });

  it('with the lora plugin’s adapters (B not zero), the reference is the base model and the adapters stay on', async () => {
    const lm = model(8);
    const lora = attachLora(lm, { target_modules: ['c_attn', 'c_fc'], init_lora_weights: false, seed: 3 });
    const base = Object.assign(Object.create(lm) as CausalLM, {
      forward: (ids: tf.Tensor2D, o?: object) => {
        lora.enabled = false;
        try {
          return lm.forward(ids, o);
        } finally {
          lora.enabled = true;
        }
      },
    });
    const d = driver();
    const fn = await d.start({ beta: 0.3 }, lm);
    const got = await d.loss(fn, lm);
    const want = expected(d.rows, lm, base, 0.3);
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-5);
    expect(Math.abs(want.metrics['rewards/margins'])).toBeGreaterThan(1e-3); // the adapters change the model
    expectClose(got.metrics, want.metrics);
    expect(lora.enabled).toBe(true);
  });

  it('refuses LoRA with modules_to_save: switching the adapters off would leave the trained modules in the reference', async () => {
    const lm = model(8);
    attachLora(lm, { target_modules: ['c_attn'], modules_to_save: ['ln_f'] });
    const d = driver();
    const section = validSection(Trl, { method: 'dpo' }).unwrap();
    await d.hooks.log_init!(section, d.ctx);
    await d.hooks.dataset_formatter!({ train: PAIRS }, section, tokenizer, d.ctx);
    await d.hooks.trainable_parameters!(lm.params, wrapModel(lm), d.ctx);
    const result = (await d.hooks.compute_loss!(causalLMLossFunction, d.ctx)) as Result<EngineLossFunction>;
    expect(() => result.unwrap()).toThrow(
      "trl: DPO with LoRA's modules_to_save is not supported (the reference would use the trained modules): " +
        'leave lora.modules_to_save out',
    );
  });

  it('fails before training, naming max_length, when a pair is longer than the model’s context', async () => {
    const lm = createModel({ ...config, n_positions: 8 }, { seed: 0 });
    const d = driver();
    await expect(d.start({}, lm)).rejects.toThrow(
      /^trl\.max_length: a pair has 27 tokens, more than the model's context of 8 positions \(lower it to at most 8\)$/,
    );
  });
});
