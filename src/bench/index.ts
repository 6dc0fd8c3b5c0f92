/**
 * `npm run bench`: training-speed benchmark of the engine, per available backend. For each backend: the
 * measured matmul rate (GFLOP/s), then for each model shape one training step's forward / backward /
 * optimizer time, tokens/s, peak tensor bytes, and the model FLOP utilization (MFU) against that measured
 * matmul rate. Not part of `npm test`. `--quick` runs reduced shapes in a few minutes; `--json FILE` (default
 * bench-results/bench-<time>.json) keeps the numbers.
 *
 * FLOPs of one training step (PaLM, appendix B): 6 * N * tokens + 12 * L * T * d * tokens, where N counts
 * every weight a token passes through (embedding lookups excluded, the LM head included), L layers, T the
 * sequence length, d the model width; the second term is attention's score and value products.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice } from '../engine/backend.js';
import { collate } from '../engine/data.js';
import { createModel } from '../engine/models/index.js';
import type { CausalLM, HFConfig } from '../engine/models/types.js';
import { AdamW } from '../engine/optim.js';
import { emptyStepTimes, trainStep, type StepTimes } from '../engine/trainer.js';

interface Shape {
  name: string;
  config: HFConfig;
  seq: number;
  batch: number;
}

const gpt2 = (name: string, layers: number, d: number, heads: number, vocab: number, positions: number): HFConfig => ({
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  n_layer: layers,
  n_embd: d,
  n_head: heads,
  vocab_size: vocab,
  n_positions: positions,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0,
  _name_or_path: name,
});

const neo = (layers: number, d: number, heads: number, vocab: number): HFConfig => ({
  architectures: ['GPTNeoForCausalLM'],
  model_type: 'gpt_neo',
  num_layers: layers,
  hidden_size: d,
  num_heads: heads,
  vocab_size: vocab,
  max_position_embeddings: 2048,
  attention_types: [[['global', 'local'], layers / 2]],
  window_size: 256,
  intermediate_size: null,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  embed_dropout: 0,
  attention_dropout: 0,
  resid_dropout: 0,
});

const llama = (layers: number, d: number, heads: number, kvHeads: number, inter: number, vocab: number): HFConfig => ({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  num_hidden_layers: layers,
  hidden_size: d,
  num_attention_heads: heads,
  num_key_value_heads: kvHeads,
  intermediate_size: inter,
  vocab_size: vocab,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
});

function shapes(quick: boolean): Shape[] {
  if (quick) {
    return [
      { name: 'TinyStories-1M (GPT-Neo) @ seq 64, batch 2', config: neo(8, 64, 16, 50257), seq: 64, batch: 2 },
      {
        name: 'GPT-2 mini (3 of 6 layers) @ seq 32, batch 1',
        config: gpt2('gpt2-mini', 3, 384, 6, 50257, 1024),
        seq: 32,
        batch: 1,
      },
      { name: 'small Llama @ seq 64, batch 2', config: llama(4, 128, 4, 2, 352, 4096), seq: 64, batch: 2 },
    ];
  }
  return [
    { name: 'TinyStories-1M (GPT-Neo, 8 layers, d=64, 16 heads)', config: neo(8, 64, 16, 50257), seq: 256, batch: 8 },
    {
      name: 'GPT-2 mini (6 layers, d=384, 6 heads)',
      config: gpt2('gpt2-mini', 6, 384, 6, 50257, 1024),
      seq: 256,
      batch: 8,
    },
    {
      name: 'small Llama (4 layers, d=256, 8/4 heads, vocab 32000)',
      config: llama(4, 256, 8, 4, 688, 32000),
      seq: 256,
      batch: 8,
    },
  ];
}

/** Square matmul rate of the active backend, in GFLOP/s (best of the timed repeats). */
function matmulGflops(n: number, repeats: number): number {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  tf.matMul(a, b).dispose();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/** Weights a token passes through in matmuls: every parameter but the embedding tables, plus the LM head. */
function matmulParams(lm: CausalLM): number {
  let n = 0;
  for (const [name, v] of lm.params) {
    if (/wte|wpe|embed_tokens/.test(name)) continue;
    n += v.size;
  }
  return n + lm.vocabSize * Number(lm.config.n_embd ?? lm.config.hidden_size);
}

interface Row {
  backend: string;
  model: string;
  parameters: number;
  tokensPerStep: number;
  msPerStep: number;
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  tokensPerS: number;
  peakTensorBytes: number;
  flopsPerStep: number;
  achievedGflops: number;
  matmulGflops: number;
  mfu: number;
}

async function benchShape(shape: Shape, backend: string, gflops: number, warmup: number, timed: number): Promise<Row> {
  const lm = createModel(shape.config, { seed: 0 });
  const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  const V = lm.vocabSize;
  let seed = 1;
  const batch = () => {
    const rows = Array.from({ length: shape.batch }, () => {
      const ids = Array.from({ length: shape.seq }, () => (seed = (seed * 48271) % 2147483647) % V);
      return { input_ids: ids, labels: ids };
    });
    return collate(rows, shape.seq, 0);
  };
  for (let i = 0; i < warmup; i++) await trainStep(lm, opt, [batch()], 1e-4, 1, i);
  const times: StepTimes = emptyStepTimes();
  const t0 = performance.now();
  for (let i = 0; i < timed; i++) await trainStep(lm, opt, [batch()], 1e-4, 1, i, times);
  const ms = (performance.now() - t0) / timed;
  // Peak bytes of one more step, measured by tfjs's profiler (kept apart: profiling slows the step).
  const peak = (
    await tf.profile(async () => {
      await trainStep(lm, opt, [batch()], 1e-4, 1, 99);
    })
  ).peakBytes;
  const tokens = shape.batch * shape.seq;
  const L = lm.numLayers;
  const d = Number(shape.config.n_embd ?? shape.config.hidden_size);
  const flops = 6 * matmulParams(lm) * tokens + 12 * L * shape.seq * d * tokens;
  const achieved = flops / (ms / 1000) / 1e9;
  const params = [...lm.params.values()].reduce((s, v) => s + v.size, 0);
  opt.dispose();
  lm.dispose();
  return {
    backend,
    model: shape.name,
    parameters: params,
    tokensPerStep: tokens,
    msPerStep: ms,
    forwardMs: times.forwardMs / timed,
    backwardMs: times.backwardMs / timed,
    optimizerMs: times.optimizerMs / timed,
    tokensPerS: tokens / (ms / 1000),
    peakTensorBytes: peak,
    flopsPerStep: flops,
    achievedGflops: achieved,
    matmulGflops: gflops,
    mfu: achieved / gflops,
  };
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const jsonAt = argv.indexOf('--json');
  const backends = (
    argv.includes('--backend') ? [argv[argv.indexOf('--backend') + 1]] : ['gpu', 'native', 'cpu']
  ) as BackendChoice[];
  const rows: Row[] = [];
  const matmul: Record<string, number> = {};
  const tried = new Set<string>();
  for (const choice of backends) {
    let report;
    try {
      report = await initBackend(choice);
    } catch (error) {
      process.stderr.write(`skipping backend ${choice}: ${(error as Error).message}\n`);
      continue;
    }
    if (tried.has(report.tfBackend)) continue;
    tried.add(report.tfBackend);
    const gflops = matmulGflops(quick ? 256 : 512, quick ? 3 : 5);
    matmul[report.name] = gflops;
    process.stderr.write(
      `backend ${report.name}: matmul ${fmt(gflops, 2)} GFLOP/s (${quick ? 256 : 512}x${quick ? 256 : 512}, float32)\n`,
    );
    for (const shape of shapes(quick)) {
      process.stderr.write(`  ${shape.name} ...\n`);
      const row = await benchShape(shape, report.name, gflops, 1, quick ? 1 : 2);
      rows.push(row);
      process.stderr.write(
        `  ${fmt(row.msPerStep, 0)} ms/step, ${fmt(row.tokensPerS)} tokens/s, MFU ${fmt(100 * row.mfu)}%\n`,
      );
    }
  }
  const header = [
    'backend',
    'model',
    'params',
    'tok/step',
    'ms/step',
    'fwd ms',
    'bwd ms',
    'opt ms',
    'tok/s',
    'peak MB',
    'GFLOP/step',
    'GFLOP/s',
    'MFU',
  ];
  const table = rows.map((r) => [
    r.backend,
    r.model,
    fmt(r.parameters / 1e6, 2) + 'M',
    String(r.tokensPerStep),
    fmt(r.msPerStep, 0),
    fmt(r.forwardMs, 0),
    fmt(r.backwardMs, 0),
    fmt(r.optimizerMs, 0),
    fmt(r.tokensPerS),
    fmt(r.peakTensorBytes / 2 ** 20, 0),
    fmt(r.flopsPerStep / 1e9, 2),
    fmt(r.achievedGflops, 2),
    fmt(100 * r.mfu) + '%',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write('\n' + line(header) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  for (const row of table) process.stdout.write(line(row) + '\n');
  process.stdout.write(
    '\nFLOPs/step = 6 * N * tokens + 12 * L * T * d * tokens (N: weights in matmuls, LM head included); ' +
      'MFU = achieved GFLOP/s / measured matmul GFLOP/s of the same backend.\n',
  );
  const out =
    jsonAt >= 0
      ? argv[jsonAt + 1]!
      : path.join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ quick, date: new Date().toISOString(), matmulGflops: matmul, rows }, null, 2) + '\n',
  );
  process.stdout.write(`results: ${out}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
