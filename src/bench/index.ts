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
 *                    [--torch | --no-torch] [--liger on|off|both] [--head-memory] [--json FILE]
 *
 * The backends by default: every one that runs here, native-cpu (the BLAS addon) beside the pure-JS cpu.
 * PyTorch runs on the same shapes where `python3 -c 'import torch'` works (`--torch`, the default; `--no-torch`
 * leaves it out), and its tokens/s and our ratio to it are columns of the same table.
 *
 * Each shape runs without and with liger's fused ops (`--liger both`, the default): the rows side by side
 * show what the fusions change in tokens/s, host time, kernel launches and peak bytes. The full run (or
 * `--head-memory`) also measures the peak bytes of GPT-2's LM head + loss (vocab 50257, d 384, 2048 tokens)
 * with and without the fused op: about 15 minutes on a 2-core CPU.
 *
 * `--quick` runs reduced shapes in a few minutes. GPT-2 124M (seq 512, batch 8) runs on GPU backends only
 * unless named with --shapes. A software WebGPU adapter (llvmpipe) runs only with --allow-software: its
 * figures check correctness, not speed. The JSON (default bench-results/bench-<time>.json) keeps everything.
 *
 * FLOPs of one training step (PaLM, appendix B): 6 * N * tokens + 12 * L * T * d * tokens, where N counts
 * every weight a token passes through (embedding lookups excluded, the LM head included), L layers, T the
 * sequence length, d the model width; the second term is attention's score and value products.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backendDevice, initBackend, type BackendChoice } from '../engine/index.js';
import { benchShape, headMemory, matmulGflops, type HeadMemory, type Row } from './measure.js';
import { metricsLoad } from './metrics-load.js';
import { shapes } from './shapes.js';
import { fmt, printTable } from './table.js';
import { torchReference } from './torch-reference.js';

export interface BenchArgs {
  quick: boolean;
  backends: BackendChoice[];
  allowSoftware: boolean;
  only?: string[];
  steps?: number;
  torch: boolean;
  /** Rows without liger's fused ops, with them, or both. */
  liger: 'on' | 'off' | 'both';
  /** Measure the LM head + loss's peak bytes (default: in the full run, not with --quick). */
  headMemory: boolean;
  json?: string;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const values = (flag: string) => argv.flatMap((a, i) => (a === flag && argv[i + 1] ? [argv[i + 1]!] : []));
  const backends = values('--backend') as BackendChoice[];
  const steps = values('--steps')[0];
  return {
    quick: argv.includes('--quick'),
    backends: backends.length > 0 ? backends : ['gpu', 'webgpu', 'native', 'native-cpu', 'cpu'],
    allowSoftware: argv.includes('--allow-software'),
    only: values('--shapes')
      .flatMap((s) => s.split(','))
      .filter(Boolean),
    steps: steps === undefined ? undefined : Number(steps),
    torch: argv.includes('--torch') || !argv.includes('--no-torch'),
    liger: ligerArg(values('--liger')[0]),
    headMemory: argv.includes('--head-memory') || !argv.includes('--quick'),
    json: values('--json')[0],
  };
}

function ligerArg(v: string | undefined): BenchArgs['liger'] {
  if (v === undefined) return 'both';
  if (v === 'on' || v === 'off' || v === 'both') return v;
  throw new Error(`--liger: expected on, off or both, got '${v}'`);
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
    // The BLAS backend measured at a size where the BLAS runs at its rate; pure JS at one it finishes.
    const blas = report.name === 'native-cpu' || report.name === 'native';
    const n = onGpu && !software ? 2048 : blas ? (args.quick ? 512 : 1024) : args.quick ? 256 : 512;
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
    const ligerModes = args.liger === 'both' ? [false, true] : [args.liger === 'on'];
    for (const shape of chosen)
      for (const liger of ligerModes) {
        process.stderr.write(`  ${shape.name}${liger ? ' with liger' : ''} ...\n`);
        let row: Row;
        try {
          row = await benchShape(
            shape,
            { name: report.name, tfBackend: report.tfBackend, device },
            gflops,
            warmup,
            timed,
            liger,
          );
        } catch (error) {
          process.stderr.write(`  failed: ${(error as Error).message}\n`);
          rows.push({
            backend: report.name,
            device,
            shape: shape.id,
            model: shape.name,
            liger,
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
  // The memory target of the fused LM head + loss: GPT-2's vocabulary, d 384, seq 256 x batch 8.
  let head: HeadMemory | undefined;
  if (args.headMemory && args.liger !== 'off') {
    await initBackend(args.backends.includes('cpu') ? 'cpu' : args.backends[0]!, {
      webgpu: { allowSoftware: args.allowSoftware },
    });
    head = await headMemory(50257, 2048, 384);
    process.stdout.write(
      `\nLM head + loss, forward and backward (vocab ${head.vocab}, ${head.tokens} tokens, d ${head.hidden}): peak ` +
        `${fmt(head.unfusedPeakBytes / 2 ** 20, 0)} MB plain, ${fmt(head.fusedPeakBytes / 2 ** 20, 0)} MB fused ` +
        `(${fmt(head.fusedPeakBytes / head.unfusedPeakBytes, 3)}x)\n`,
    );
  }
  // The metrics registry under load: 100,000 events a second to a collector that takes 50 ms a call.
  const load = await metricsLoad(100_000, args.quick ? 2 : 10, 50);
  process.stdout.write(
    `\nmetrics under load: ${fmt(load.emitted, 0)} events in ${load.seconds} s to a collector taking ${load.delayMs} ms ` +
      `a call: ${fmt(load.delivered, 0)} delivered${load.inOrder ? ', in order' : ', OUT OF ORDER'}, in ` +
      `${load.batches} batches; the emitter spent ${fmt(load.totalEmitMs, 0)} ms in all inside logMetrics ` +
      `(longest call ${fmt(load.maxEmitMs, 2)} ms)\n`,
  );
  const out = args.json ?? path.join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        quick: args.quick,
        date: new Date().toISOString(),
        host: os.cpus()[0]?.model,
        matmulGflops: matmul,
        rows,
        headMemory: head,
        metricsLoad: load,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`results: ${out}\n`);
  return rows;
}
