// `npm run bench:gpu-pack`: the benchmark as a folder that runs where there is no node_modules (a bare GPU
// machine). Built into a temporary folder outside the repository and run from there: on the cpu backend,
// and on the WebGPU adapter where there is one (the software one in CI). Speed is not checked, only that
// every column of a row is measured.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeWebGPU } from '../../src/engine/webgpu.js';
import { repoRoot, tempDir } from '../helpers.js';

const probe = await probeWebGPU({});

interface Row {
  backend: string;
  shape: string;
  tokensPerS: number;
  msPerStep: number;
  hostMs: number;
  waitMs: number;
  launchesPerStep: number;
  launchKind: string;
  peakTensorBytes: number;
  error?: string;
}

describe('the GPU pack', () => {
  const dir = tempDir('dumbo-gpu-pack-');
  const pack = path.join(dir, 'pack');

  it('is a self-contained folder: bundle, gzipped dawn.node, the PyTorch script and run.sh, no node_modules', () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'gpu-pack.mjs'), '--out', pack], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['bench.mjs', 'dawn.node.gz', 'torch_bench.py', 'run.sh']) {
      expect(existsSync(path.join(pack, f)), f).toBe(true);
    }
    expect(existsSync(path.join(pack, 'node_modules'))).toBe(false);
    expect(r.stdout).toMatch(/MiB \(bench\.mjs, dawn\.node\.gz for linux-x64/);
  });

  const run = (backend: string, extra: string[] = []) => {
    const json = path.join(dir, `${backend}.json`);
    const r = spawnSync(
      process.execPath,
      [
        path.join(pack, 'bench.mjs'),
        '--backend',
        backend,
        '--quick',
        '--shapes',
        'llama-small',
        '--steps',
        '1',
        '--no-torch',
        '--json',
        json,
        ...extra,
      ],
      { cwd: dir, encoding: 'utf8', timeout: 240_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    return (JSON.parse(readFileSync(json, 'utf8')) as { rows: Row[] }).rows;
  };

  it('runs the benchmark from outside the repository on the cpu backend', () => {
    const [row] = run('cpu');
    expect(row).toMatchObject({ backend: 'cpu', shape: 'llama-small', launchKind: 'tfjs kernels' });
    expect(row!.error).toBeUndefined();
    for (const k of ['tokensPerS', 'msPerStep', 'hostMs', 'launchesPerStep', 'peakTensorBytes'] as const) {
      expect(row![k], k).toBeGreaterThan(0);
    }
  });

  it.skipIf(!probe.adapter)('runs it on WebGPU with Dawn from the pack, counting GPU dispatches', () => {
    if (!existsSync(path.join(pack, 'dawn.node'))) {
      spawnSync('bash', ['-c', `gunzip -c "${pack}/dawn.node.gz" > "${pack}/dawn.node"`]);
    }
    const [row] = run('webgpu', ['--allow-software']);
    expect(row).toMatchObject({ backend: 'webgpu', launchKind: 'gpu dispatches' });
    expect(row!.launchesPerStep).toBeGreaterThan(100);
    expect(row!.waitMs).toBeGreaterThan(0);
  });
});
