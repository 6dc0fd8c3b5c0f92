// The native-cpu backend as a whole: `auto` takes it before the pure-JS cpu backend and the report says which
// BLAS; where the addon is missing (simulated by an injected loader or DUMBO_NATIVE_CPU=0) `auto` falls back to
// cpu with the reason, and an install without the toolchain still succeeds, recording why. Five training steps
// of a quickstart-sized GPT-2 (with and without liger's fused ops) equal the cpu backend's within 1e-4, and
// runs on native-cpu repeat bit for bit, whatever the thread count (resume stays exact). The backend tests
// skip, saying so, where the addon did not build (CI builds it: .ci/run).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBackendReport, initBackend, type InitOptions } from '../../src/engine/backend.js';
import { collate } from '../../src/engine/data.js';
import { kernelTable } from '../../src/engine/kernels/registry.js';
import { createModel } from '../../src/engine/models/index.js';
import { registerFused, ligerLossFunction } from '../../src/engine/fused/index.js';
import { explainAddonError, loadAddon } from '../../src/engine/native-cpu/addon.js';
import { nativeCpuInfo, setNativeCpuThreads } from '../../src/engine/native-cpu/index.js';
import { AdamW } from '../../src/engine/optim.js';
import { trainStep } from '../../src/engine/train-step.js';
import { repoRoot, tempDir } from '../helpers.js';
import { relError } from './fused/harness.js';

const { addon, reason } = loadAddon();
if (!addon) console.warn(`native-cpu backend tests skipped: ${reason}`);

const noNative: InitOptions['loadNative'] = (pkg) => {
  throw Object.assign(new Error(`Cannot find module '${pkg}'`), { code: 'MODULE_NOT_FOUND' });
};
const noWebGPU: InitOptions['webgpuDriver'] = {
  probe: async () => ({ reason: 'no WebGPU adapter: no Vulkan driver is installed' }),
  register: async () => undefined,
};
const missingAddon: InitOptions['loadNativeCpu'] = () => {
  throw new Error('No native build was found for platform=linux arch=x64 runtime=node abi=115');
};

afterAll(async () => {
  await initBackend('cpu');
});

describe('where the addon is missing', () => {
  it('auto falls back to the pure-JS cpu backend and the report says why, with what to install', async () => {
    const report = await initBackend('auto', {
      loadNative: noNative,
      webgpuDriver: noWebGPU,
      loadNativeCpu: missingAddon,
    });
    expect(report.name).toBe('cpu');
    const candidate = report.candidates.find((c) => c.name === 'native-cpu')!;
    expect(candidate.available).toBe(false);
    expect(candidate.reason).toMatch(
      /^the native addon is not built: install .*, then run `node scripts\/build-native\.mjs`$/,
    );
    expect(report.why).toContain(candidate.reason);
    expect(formatBackendReport(report).join('\n')).toContain(`- native-cpu dumbo native addon: ${candidate.reason}`);
  });

  it('DUMBO_NATIVE_CPU=0 turns it off, and asking for it by name is then an error saying why', async () => {
    process.env.DUMBO_NATIVE_CPU = '0';
    try {
      const report = await initBackend('auto', { loadNative: noNative, webgpuDriver: noWebGPU });
      expect(report.name).toBe('cpu');
      expect(report.candidates.find((c) => c.name === 'native-cpu')?.reason).toBe('turned off by DUMBO_NATIVE_CPU=0');
      await expect(initBackend('native-cpu')).rejects.toThrow(
        "backend 'native-cpu' cannot run: turned off by DUMBO_NATIVE_CPU=0",
      );
    } finally {
      delete process.env.DUMBO_NATIVE_CPU;
    }
  });

  it("names the install's recorded failure and a missing BLAS library", () => {
    const err = new Error('No native build was found');
    expect(explainAddonError(err, { ok: false, reason: 'no BLAS headers (cblas.h)' })).toMatch(
      /^the native addon did not build on install \(no BLAS headers \(cblas\.h\)\); install .*libopenblas-dev/,
    );
    const dlopen = new Error('libopenblas.so.0: cannot open shared object file: No such file or directory');
    expect(explainAddonError(dlopen, { ok: true })).toBe(
      'the native addon cannot load: libopenblas.so.0 is missing (install the BLAS it was built with)',
    );
  });

  it('an install without a C++ compiler succeeds and records why the addon did not build', () => {
    const dir = tempDir('dumbo-native-install-');
    for (const f of ['binding.gyp', 'native', 'scripts/build-native.mjs'])
      cpSync(path.join(repoRoot, f), path.join(dir, f), { recursive: true });
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(
      path.join(repoRoot, 'node_modules', 'node-addon-api'),
      path.join(dir, 'node_modules', 'node-addon-api'),
    );
    const r = spawnSync(process.execPath, ['scripts/build-native.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, CXX: '/nonexistent/g++', CC: '/nonexistent/gcc' },
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('the native-cpu addon did not build (no C++ compiler or make)');
    expect(r.stderr).toContain('apt-get install build-essential libopenblas-dev');
    const status = JSON.parse(readFileSync(path.join(dir, 'build', 'native-status.json'), 'utf8'));
    expect(status).toMatchObject({ ok: false, reason: 'no C++ compiler or make' });
  }, 180_000);
});

/** The quickstart's model (resources/quickstart/model, 2 of its 4 layers) and batch (8 x 64 tokens). */
const QUICKSTART = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 512,
  n_positions: 128,
  n_embd: 64,
  n_layer: 2,
  n_head: 4,
  activation_function: 'gelu_new',
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0.1,
  layer_norm_epsilon: 1e-5,
  tie_word_embeddings: true,
};

/** Five AdamW steps (the quickstart's learning rate) from the same start: each loss, and the weights after. */
async function fiveSteps(backend: string, liger: boolean) {
  await initBackend(backend as 'cpu');
  if (liger) registerFused(kernelTable, undefined, 'test');
  const lm = createModel(QUICKSTART, { seed: 42 });
  const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  // Rows counting upwards from a varying start: learnable, so the loss falls within the five steps.
  let start = 0;
  const rows = () =>
    Array.from({ length: 8 }, () => {
      start = (start * 48271 + 11) % 509;
      const ids = Array.from({ length: 64 }, (_, t) => (start + 3 * t) % 512);
      return { input_ids: ids, labels: ids };
    });
  const losses: number[] = [];
  try {
    for (let step = 0; step < 5; step++) {
      const r = await trainStep(
        lm,
        opt,
        [collate(rows(), 64, 0)],
        5e-3,
        1,
        step,
        undefined,
        liger ? ligerLossFunction : undefined,
      );
      losses.push(r.loss);
    }
    const weights = await Promise.all([...lm.params.values()].map((v) => v.data() as Promise<Float32Array>));
    return { losses, weights };
  } finally {
    opt.dispose();
    lm.dispose();
    kernelTable.reset();
  }
}

describe.skipIf(!addon)('training on native-cpu', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('auto takes native-cpu before the pure-JS cpu backend and names the BLAS', async () => {
    const report = await initBackend('auto', { loadNative: noNative, webgpuDriver: noWebGPU });
    expect(report.name).toBe('native-cpu');
    expect(report.tfBackend).toBe('native-cpu');
    expect(tf.getBackend()).toBe('native-cpu');
    const lines = formatBackendReport(report);
    expect(lines[0]).toMatch(/^backend: native-cpu \(tfjs 4\.22\.0\) — the better ones cannot run/);
    expect(lines).toContain(
      `  * native-cpu dumbo native addon (${nativeCpuInfo()!.blas.split(' ').slice(0, 2).join(' ')}, ${nativeCpuInfo()!.threads} threads)`,
    );
  });

  it.each([false, true])(
    'five steps equal the cpu backend’s within 1e-4 (liger %s)',
    async (liger) => {
      const cpu = await fiveSteps('cpu', liger);
      const native = await fiveSteps('native-cpu', liger);
      native.losses.forEach((l, i) =>
        expect(Math.abs(l - cpu.losses[i]!) / cpu.losses[i]!, `step ${i}`).toBeLessThan(1e-4),
      );
      // AdamW divides by √v: where a gradient is near 0 its rounding moves the update by up to lr, so the weights
      // after five steps agree less closely than the losses do.
      native.weights.forEach((w, i) => expect(relError(w, cpu.weights[i]!), `weight ${i}`).toBeLessThan(2e-3));
      expect(native.losses[4]).toBeLessThan(native.losses[0]!);
    },
    120_000,
  );

  it('repeats itself bit for bit, with one thread or several', async () => {
    const threads = nativeCpuInfo()!.threads;
    const first = await fiveSteps('native-cpu', true);
    setNativeCpuThreads(1);
    const single = await fiveSteps('native-cpu', true);
    setNativeCpuThreads(Math.max(2, threads));
    const many = await fiveSteps('native-cpu', false);
    const manyAgain = await fiveSteps('native-cpu', false);
    setNativeCpuThreads(threads);
    expect(single.losses).toEqual(first.losses);
    single.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(first.weights[i]!)));
    expect(manyAgain.losses).toEqual(many.losses);
  }, 120_000);
});
