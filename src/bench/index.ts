/**
 * `npm run bench`: training-speed benchmark of the engine, per available backend, beside PyTorch eager on the
 * same machine where it is installed. For each backend: the measured matmul rate, then per model shape one
 * optimizer step's time, split into the host's time recording kernels (forward / backward / optimizer) and
 * the time spent waiting for the device (the step's one read: on WebGPU the GPU's share; on the cpu backend
 * the work happens while recording and the wait is about zero), tokens/s, kernel launches per step (GPU
 * dispatches on WebGPU, tfjs kernels elsewhere), peak tensor bytes, model FLOP utilization against the
 * measured matmul rate, and the ratio to PyTorch's tokens/s. Not part of `npm test`.
 *
 *   npm run bench [-- --quick] [--backend B ...] [--allow-software] [--shapes ID,...] [--steps N]
 *                    [--no-torch] [--json FILE]
 *
 * `--quick` runs reduced shapes in a few minutes. GPT-2 124M (seq 512, batch 8) runs on GPU backends only
 * unless named with --shapes. A software WebGPU adapter (llvmpipe) runs only with --allow-software: its
 * figures check correctness, not speed. The JSON (default bench-results/bench-<time>.json) keeps everything.
 *
 * FLOPs of one training step (PaLM, appendix B): 6 * N * tokens + 12 * L * T * d * tokens, where N counts
 * every weight a token passes through (embedding lookups excluded, the LM head included), L layers, T the
 * sequence length, d the model width; the second term is attention's score and value products.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { backendDevice, initBackend, readTensor, type BackendChoice } from '../engine/backend.js';
import { collate } from '../engine/data.js';
import { createModel } from '../engine/models/index.js';
import type { CausalLM, HFConfig } from '../engine/models/types.js';
import { AdamW } from '../engine/optim.js';
import { emptyStepTimes, trainStep } from '../engine/trainer.js';
import { webgpuDispatches } from '../engine/webgpu.js';
import { findTorchPython, pythonEnv } from './python.js';

interface Shape {
  id: string;
  name: string;
  config: HFConfig;
  seq: number;
  batch: number;
  /** Too slow for a CPU backend (hours): run only on GPUs unless asked for by id. */
  gpuOnly?: boolean;
}

const gpt2 = (layers: number, d: number, heads: number, vocab: number, positions: number): HFConfig => ({
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

export function shapes(quick: boolean): Shape[] {
  if (quick) {
    return [
      {
        id: 'tinystories-1m',
        name: 'TinyStories-1M (GPT-Neo) @ seq 64, batch 2',
        config: neo(8, 64, 16, 50257),
        seq: 64,
        batch: 2,
      },
      {
        id: 'gpt2-mini',
        name: 'GPT-2 mini (3 of 6 layers) @ seq 32, batch 1',
        config: gpt2(3, 384, 6, 50257, 1024),
        seq: 32,
        batch: 1,
      },
      {
        id: 'llama-small',
        name: 'small Llama @ seq 64, batch 2',
        config: llama(4, 128, 4, 2, 352, 4096),
        seq: 64,
        batch: 2,
      },
    ];
  }
  return [
    {
      id: 'tinystories-1m',
      name: 'TinyStories-1M (GPT-Neo, 8 layers, d=64, 16 heads) @ seq 256, batch 8',
      config: neo(8, 64, 16, 50257),
      seq: 256,
      batch: 8,
    },
    {
      id: 'gpt2-mini',
      name: 'GPT-2 mini (6 layers, d=384, 6 heads) @ seq 256, batch 8',
      config: gpt2(6, 384, 6, 50257, 1024),
      seq: 256,
      batch: 8,
    },
    {
      id: 'llama-small',
      name: 'small Llama (4 layers, d=256, 8/4 heads, vocab 32000) @ seq 256, batch 8',
      config: llama(4, 256, 8, 4, 688, 32000),
      seq: 256,
      batch: 8,
    },
    {
      id: 'gpt2-124m',
      name: 'GPT-2 124M (12 layers, d=768, 12 heads) @ seq 512, batch 8',
      config: gpt2(12, 768, 12, 50257, 1024),
      seq: 512,
      batch: 8,
      gpuOnly: true,
    },
  ];
}

/** Square matmul rate of the active backend, in GFLOP/s: a few products recorded, then one read. */
async function matmulGflops(n: number, repeats: number): Promise<number> {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const warm = tf.matMul(a, b);
  await readTensor(warm);
  warm.dispose();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const outs = Array.from({ length: 4 }, () => tf.matMul(a, b));
    await readTensor(outs[3]!);
    best = Math.min(best, (performance.now() - t0) / 4);
    tf.dispose(outs);
  }
  tf.dispose([a, b]);
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
  device?: string;
  shape: string;
  model: string;
  parameters: number;
  tokensPerStep: number;
  msPerStep: number;
  /** The host's time recording the step's kernels (forward + backward + optimizer). */
  hostMs: number;
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  /** Time waiting for the device: the step's read (and, once, the final flush). */
  waitMs: number;
  tokensPerS: number;
  /** GPU dispatches per step on WebGPU; tfjs kernels per step elsewhere. */
  launchesPerStep: number;
  launchKind: 'gpu dispatches' | 'tfjs kernels';
  peakTensorBytes: number;
  flopsPerStep: number;
  achievedGflops: number;
  matmulGflops: number;
  mfu: number;
  torch?: { device: string; tokensPerS: number; msPerStep: number; version: string } | { error: string };
  /** tokens/s of ours over PyTorch's on the same device kind. */
  vsTorch?: number;
  error?: string;
}

async function benchShape(
  shape: Shape,
  backend: { name: string; tfBackend: string; device?: string },
  gflops: number,
  warmup: number,
  timed: number,
): Promise<Row> {
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
  try {
    for (let i = 0; i < warmup; i++) await trainStep(lm, opt, [batch()], 1e-4, 1, i);
    const times = emptyStepTimes();
    const dispatches0 = webgpuDispatches();
    const t0 = performance.now();
    for (let i = 0; i < timed; i++) await trainStep(lm, opt, [batch()], 1e-4, 1, i, times);
    // The last step's update is still queued on a GPU: wait for it, and count the wait.
    const tFlush = performance.now();
    const probe = tf.slice(lm.params.values().next().value!, 0, 1);
    await readTensor(probe);
    probe.dispose();
    times.waitMs += performance.now() - tFlush;
    const ms = (performance.now() - t0) / timed;
    const dispatches = (webgpuDispatches() - dispatches0) / timed;
    // Peak bytes and the kernel count of one more step, from tfjs's profiler (kept apart: it slows the step).
    const profile = await tf.profile(async () => {
      await trainStep(lm, opt, [batch()], 1e-4, 1, 99);
    });
    const tokens = shape.batch * shape.seq;
    const L = lm.numLayers;
    const d = Number(shape.config.n_embd ?? shape.config.hidden_size);
    const flops = 6 * matmulParams(lm) * tokens + 12 * L * shape.seq * d * tokens;
    const achieved = flops / (ms / 1000) / 1e9;
    const onGpu = backend.tfBackend === 'webgpu';
    return {
      backend: backend.name,
      device: backend.device,
      shape: shape.id,
      model: shape.name,
      parameters: [...lm.params.values()].reduce((s, v) => s + v.size, 0),
      tokensPerStep: tokens,
      msPerStep: ms,
      hostMs: (times.forwardMs + times.backwardMs + times.optimizerMs) / timed,
      forwardMs: times.forwardMs / timed,
      backwardMs: times.backwardMs / timed,
      optimizerMs: times.optimizerMs / timed,
      waitMs: times.waitMs / timed,
      tokensPerS: tokens / (ms / 1000),
      launchesPerStep: onGpu ? dispatches : profile.kernels.length,
      launchKind: onGpu ? 'gpu dispatches' : 'tfjs kernels',
      peakTensorBytes: profile.peakBytes,
      flopsPerStep: flops,
      achievedGflops: achieved,
      matmulGflops: gflops,
      mfu: achieved / gflops,
    };
  } finally {
    opt.dispose();
    lm.dispose();
  }
}

/** PyTorch eager on the same shapes (src/bench/torch_bench.py), on `device`; undefined without PyTorch. */
function torchReference(
  shapesToRun: Shape[],
  device: 'cpu' | 'cuda',
  warmup: number,
  steps: number,
): Map<string, NonNullable<Row['torch']>> | undefined {
  const python = findTorchPython();
  if (!python) return undefined;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = [
    path.join(here, 'torch_bench.py'),
    path.join(here, '..', '..', 'src', 'bench', 'torch_bench.py'),
  ].find((f) => existsSync(f));
  if (!script) return undefined;
  const job = path.join(os.tmpdir(), `dumbo-torch-bench-${process.pid}.json`);
  writeFileSync(
    job,
    JSON.stringify({
      device,
      warmup,
      steps,
      shapes: shapesToRun.map((s) => ({ id: s.id, config: s.config, seq: s.seq, batch: s.batch })),
    }),
  );
  process.stderr.write(`PyTorch (${python}) on ${device}: ${shapesToRun.map((s) => s.id).join(', ')} ...\n`);
  const r = spawnSync(python, [script, job], { env: pythonEnv(), encoding: 'utf8', timeout: 3_600_000 });
  const out = new Map<string, NonNullable<Row['torch']>>();
  for (const line of (r.stdout ?? '').split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const x = JSON.parse(line) as {
      id: string;
      error?: string;
      device: string;
      tokensPerS: number;
      msPerStep: number;
      torch: string;
    };
    out.set(
      x.id,
      x.error
        ? { error: x.error }
        : { device: x.device, tokensPerS: x.tokensPerS, msPerStep: x.msPerStep, version: x.torch },
    );
  }
  if (r.status !== 0 && out.size === 0) {
    process.stderr.write(`PyTorch reference failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.status}\n`);
  }
  return out;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export interface BenchArgs {
  quick: boolean;
  backends: BackendChoice[];
  allowSoftware: boolean;
  only?: string[];
  steps?: number;
  torch: boolean;
  json?: string;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const values = (flag: string) => argv.flatMap((a, i) => (a === flag && argv[i + 1] ? [argv[i + 1]!] : []));
  const backends = values('--backend') as BackendChoice[];
  const steps = values('--steps')[0];
  return {
    quick: argv.includes('--quick'),
    backends: backends.length > 0 ? backends : ['gpu', 'webgpu', 'native', 'cpu'],
    allowSoftware: argv.includes('--allow-software'),
    only: values('--shapes')
      .flatMap((s) => s.split(','))
      .filter(Boolean),
    steps: steps === undefined ? undefined : Number(steps),
    torch: !argv.includes('--no-torch'),
    json: values('--json')[0],
  };
}

export async function runBench(args: BenchArgs): Promise<Row[]> {
  const rows: Row[] = [];
  const matmul: Record<string, number> = {};
  const tried = new Set<string>();
  const all = shapes(args.quick);
  const unknown = (args.only ?? []).filter((id) => !all.some((s) => s.id === id));
  if (unknown.length > 0)
    throw new Error(`--shapes: unknown ${unknown.join(', ')} (known: ${all.map((s) => s.id).join(', ')})`);
  const torchRows = new Map<string, Map<string, NonNullable<Row['torch']>> | undefined>();
  for (const choice of args.backends) {
    let report;
    try {
      report = await initBackend(choice, { webgpu: { allowSoftware: args.allowSoftware } });
    } catch (error) {
      process.stderr.write(`skipping backend ${choice}: ${(error as Error).message}\n`);
      continue;
    }
    if (tried.has(report.tfBackend)) continue;
    tried.add(report.tfBackend);
    const onGpu = report.tfBackend === 'webgpu' || report.name === 'gpu';
    const software = report.name === 'webgpu' && report.adapter?.hardware === false;
    const n = onGpu && !software ? 2048 : args.quick ? 256 : 512;
    const gflops = await matmulGflops(n, args.quick ? 3 : 5);
    matmul[report.name] = gflops;
    const device = backendDevice(report);
    process.stderr.write(
      `backend ${report.name}${device ? ` on ${device}` : ''}: matmul ${fmt(gflops, 2)} GFLOP/s (${n}x${n}, float32)` +
        `${software ? ' — a software adapter: these figures check correctness, not speed' : ''}\n`,
    );
    const chosen = all.filter((s) => (args.only?.length ? args.only.includes(s.id) : !s.gpuOnly || onGpu));
    for (const s of all.filter((s) => !chosen.includes(s) && !args.only?.length)) {
      process.stderr.write(`  ${s.name}: skipped on ${report.name} (a CPU takes hours; --shapes ${s.id} runs it)\n`);
    }
    const warmup = onGpu ? 2 : 1;
    const timed = args.steps ?? (args.quick ? 1 : onGpu ? 5 : 2);
    for (const shape of chosen) {
      process.stderr.write(`  ${shape.name} ...\n`);
      let row: Row;
      try {
        row = await benchShape(
          shape,
          { name: report.name, tfBackend: report.tfBackend, device },
          gflops,
          warmup,
          timed,
        );
      } catch (error) {
        process.stderr.write(`  failed: ${(error as Error).message}\n`);
        rows.push({
          backend: report.name,
          device,
          shape: shape.id,
          model: shape.name,
          error: (error as Error).message,
        } as Row);
        continue;
      }
      rows.push(row);
      process.stderr.write(
        `  ${fmt(row.msPerStep, 0)} ms/step (host ${fmt(row.hostMs, 0)}, wait ${fmt(row.waitMs, 0)}), ` +
          `${fmt(row.tokensPerS)} tokens/s, ${fmt(row.launchesPerStep, 0)} ${row.launchKind}/step\n`,
      );
    }
    // PyTorch on the same kind of device: its CPU for the CPU backends, CUDA for the GPU ones.
    const torchDevice = onGpu ? 'cuda' : 'cpu';
    if (args.torch && chosen.length > 0) {
      const key = `${torchDevice}|${chosen.map((s) => s.id).join(',')}`;
      if (!torchRows.has(key)) torchRows.set(key, torchReference(chosen, torchDevice, warmup, timed));
      const ref = torchRows.get(key);
      for (const row of rows.filter((r) => r.backend === report.name && !r.error)) {
        const t = ref?.get(row.shape);
        if (!t) continue;
        row.torch = t;
        if ('tokensPerS' in t) row.vsTorch = row.tokensPerS / t.tokensPerS;
        else process.stderr.write(`PyTorch on ${torchDevice}, ${row.shape}: ${t.error}\n`);
      }
      if (!ref) process.stderr.write('PyTorch is not installed here: no reference column\n');
    }
  }
  printTable(rows);
  const out = args.json ?? path.join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { quick: args.quick, date: new Date().toISOString(), host: os.cpus()[0]?.model, matmulGflops: matmul, rows },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`results: ${out}\n`);
  return rows;
}

function printTable(rows: Row[]): void {
  const header = [
    'backend',
    'model',
    'params',
    'tok/step',
    'ms/step',
    'host ms',
    'wait ms',
    'tok/s',
    'launches',
    'peak MB',
    'GFLOP/s',
    'MFU',
    'PyTorch tok/s',
    'vs PyTorch',
  ];
  const table = rows.map((r) =>
    r.error
      ? [r.backend, r.model, `failed: ${r.error.slice(0, 60)}`, '', '', '', '', '', '', '', '', '', '', '']
      : [
          r.backend,
          r.model,
          fmt(r.parameters / 1e6, 2) + 'M',
          String(r.tokensPerStep),
          fmt(r.msPerStep, 0),
          fmt(r.hostMs, 0),
          fmt(r.waitMs, 0),
          fmt(r.tokensPerS),
          fmt(r.launchesPerStep, 0),
          fmt(r.peakTensorBytes / 2 ** 20, 0),
          fmt(r.achievedGflops, 2),
          fmt(100 * r.mfu) + '%',
          r.torch && 'tokensPerS' in r.torch ? `${fmt(r.torch.tokensPerS)} (${r.torch.device})` : '-',
          r.vsTorch === undefined ? '-' : `${fmt(r.vsTorch, 3)}x`,
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write('\n' + line(header) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  for (const row of table) process.stdout.write(line(row) + '\n');
  process.stdout.write(
    '\nms/step = host (recording kernels: forward + backward + optimizer) + wait (for the device, at the one read per ' +
      'step). launches: GPU dispatches per step on WebGPU, tfjs kernels per step elsewhere. ' +
      'FLOPs/step = 6 * N * tokens + 12 * L * T * d * tokens (N: weights in matmuls, LM head included); ' +
      'MFU = achieved GFLOP/s / measured matmul GFLOP/s of the same backend. vs PyTorch: our tokens/s over ' +
      "PyTorch eager's on the same device kind (CPU for cpu/native, CUDA for gpu/webgpu).\n",
  );
}
