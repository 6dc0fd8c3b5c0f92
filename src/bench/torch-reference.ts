/** The PyTorch reference column: src/bench/torch_bench.py on the same shapes, run by the Python that has torch. */

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row } from './measure.js';
import { findTorchPython, pythonEnv } from './python.js';
import type { Shape } from './shapes.js';

/** PyTorch eager on the same shapes (src/bench/torch_bench.py), on `device`; undefined without PyTorch. */
export function torchReference(
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
      // the threads native-cpu uses (DUMBO_NUM_THREADS, else every core), for a fair comparison
      threads: Number(process.env.DUMBO_NUM_THREADS) || os.cpus().length,
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
