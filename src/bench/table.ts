/** The benchmark's table on stdout: one row per backend and shape, and what each column means. */

import type { Row } from './measure.js';

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function printTable(rows: Row[]): void {
  const header = [
    'backend',
    'model',
    'liger',
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
      ? [r.backend, r.model, r.liger ? 'on' : 'off', `failed: ${r.error.slice(0, 60)}`, ...Array(11).fill('')]
      : [
          r.backend,
          r.model,
          r.liger ? 'on' : 'off',
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
    '\nliger: on = every fused op of liger (src/engine/fused/) and the fused LM head + loss. ms/step = host (recording kernels: forward + backward + optimizer) + wait (for the device, at the one read per ' +
      'step). launches: GPU dispatches per step on WebGPU, tfjs kernels per step elsewhere. ' +
      'FLOPs/step = 6 * N * tokens + 12 * L * T * d * tokens (N: weights in matmuls, LM head included); ' +
      'MFU = achieved GFLOP/s / measured matmul GFLOP/s of the same backend. vs PyTorch: our tokens/s over ' +
      "PyTorch eager's on the same device kind (CPU for cpu/native/native-cpu, CUDA for gpu/webgpu).\n",
  );
}
