// The service layer (behind `dumbo serve` and the desktop app) on WebGPU: the worker's estimate uses the
// chosen backend and its measured rates, a run started there trains in its run host on the GPU, and the
// worker generates on it. On the software adapter in CI (allow_software); skipped, saying why, without one.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatAdapter, probeWebGPU } from '../../src/engine/webgpu.js';
import type { AppEvent } from '../../src/shared/api.js';
import { repoRoot } from '../helpers.js';
import { harness } from './harness.js';

const probe = await probeWebGPU({});
if (!probe.adapter) console.warn(`webgpu: no WebGPU adapter here, skipping the WebGPU tests (${probe.reason})`);
const where = probe.adapter ? `on ${formatAdapter(probe.adapter)}` : `skipped: no WebGPU adapter (${probe.reason})`;
const quickstartYaml = path.join(repoRoot, 'resources', 'examples', 'quickstart.yaml');

describe.skipIf(!probe.adapter)(`services on WebGPU ${where}`, () => {
  const h = harness();

  it('estimates with the WebGPU backend, runs the config in a run host on it, and generates on it', async () => {
    const text = readFileSync(quickstartYaml, 'utf8')
      .replace('backend: auto', 'backend: webgpu\nwebgpu:\n  allow_software: true')
      .replace('max_steps: 120', 'max_steps: 6')
      .replace('eval_every: 40', 'eval_every: 3')
      .replace('save_every: 40', 'save_every: 3')
      .replace('sample_max_new_tokens: 40', 'sample_max_new_tokens: 4')
      .replace(/\.\.\/quickstart/g, path.join(repoRoot, 'resources', 'quickstart'));
    const file = path.join(h.cwd, 'quick-webgpu.yaml');
    writeFileSync(file, text);

    const estimate = await h.services.calls.estimateRun(text, file);
    expect(estimate).toMatchObject({ backend: 'webgpu', steps: 6, tokensPerStep: 8 * 64 });
    expect(estimate.backendDevice).toContain(probe.adapter!.device);
    expect(estimate.secondsPerStep).toBeGreaterThan(0);
    expect(estimate.slowBackendWarning).toBeUndefined();

    const run = await h.services.calls.startRun(file);
    const done = await h.waitFor(
      (e: AppEvent) => e.type === 'run-status' && e.run.id === run.id && ['completed', 'failed'].includes(e.run.status),
      { timeoutMs: 300_000 },
    );
    expect(done.type === 'run-status' && done.run).toMatchObject({
      status: 'completed',
      steps: 6,
      backend: 'webgpu',
      backendDevice: expect.stringContaining(probe.adapter!.device),
    });
    const record = JSON.parse(readFileSync(path.join(run.runFolder, 'run.json'), 'utf8')) as {
      model?: { backend?: string };
    };
    expect(record.model?.backend).toMatch(/^webgpu · /); // log_model names the device too

    const out = await h.services.calls.generate(run.id, 'Once upon a time', { maxNewTokens: 4, temperature: 0 });
    expect(out.startsWith('Once upon a time')).toBe(true);
  });
});
