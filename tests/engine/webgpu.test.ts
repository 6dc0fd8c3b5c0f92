// The WebGPU backend on a real adapter: in CI the software one (Mesa 25's llvmpipe through Vulkan, which
// .ci/run installs), on a developer's machine their GPU. Each architecture's forward, loss and gradients
// and three optimizer steps equal the cpu backend's; checkpoints cross between the two backends; a weight
// past the binding limit is split and still trains; memory stays flat; reads and GPU errors behave. The
// whole file is skipped, saying why, where no WebGPU adapter can be had.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLogger, setConsoleLogLevel, type TokenizedRow } from '../../src/core/index.js';
import {
  initBackend,
  readCount,
  readTensor,
  type BackendReport,
  type WebGPUOptions,
} from '../../src/engine/backend.js';
import { collate } from '../../src/engine/data.js';
import { createModel, exportWeights, loadWeights, mergeParts } from '../../src/engine/models/index.js';
import type { HFConfig, HostTensor } from '../../src/engine/models/types.js';
import { causalLMLoss } from '../../src/engine/loss.js';
import { AdamW } from '../../src/engine/optim.js';
import { emptyStepTimes, train, trainStep } from '../../src/engine/trainer.js';
import { formatAdapter, formatBytes, probeWebGPU, webgpuDispatches } from '../../src/engine/webgpu.js';
import { lastLine, repoRoot, runDumbo, tempDir } from '../helpers.js';
import { maxAbsDiff, randomWeights, TINY } from './models/tiny.js';
import { countingRows, options } from './training.js';

const probe = await probeWebGPU({});
if (!probe.adapter) console.warn(`webgpu: no WebGPU adapter here, skipping the WebGPU tests (${probe.reason})`);
const where = probe.adapter
  ? `on ${formatAdapter(probe.adapter)}`
  : `skipped: no WebGPU adapter here (${probe.reason ?? 'unknown'})`;
const SOFTWARE_OK: WebGPUOptions = { allowSoftware: true };

const TOL = 1e-4;
const ROWS = [
  [1, 2, 3, 4, 5, 6, 7],
  [7, 6, 5, 4, 3, 2, 1],
];
const LABELS = [
  [1, 2, 3, 4, 5, 6, 7],
  [-100, -100, 5, 4, 3, 2, 1],
];

const withDropout = (config: HFConfig): HFConfig => ({
  ...config,
  // Every architecture's dropout sites on: the masks are drawn on the device and must match the cpu's.
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  resid_dropout: 0.1,
  embed_dropout: 0.1,
  attention_dropout: 0.1,
});

async function use(backend: 'cpu' | 'webgpu', webgpu: WebGPUOptions = SOFTWARE_OK): Promise<BackendReport> {
  return initBackend(backend, { webgpu });
}

async function host(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await readTensor(t));
}

/** Logits, loss and every weight's gradient (row parts joined) of one training-mode pass, on the host. */
async function passOf(config: HFConfig, weights: Map<string, HostTensor>, maxTensorBytes?: number) {
  const lm = createModel(config, { seed: 0, maxTensorBytes });
  loadWeights(lm, weights);
  const input = tf.tensor2d(ROWS, [2, 7], 'int32');
  const labels = tf.tensor2d(LABELS, [2, 7], 'int32');
  const logits = tf.tidy(() => lm.forward(input, { training: true, seed: 7 }));
  const vars = [...lm.params.values()];
  const { value, grads } = tf.variableGrads(
    () => causalLMLoss(lm.forward(input, { training: true, seed: 7 }), labels).loss,
    vars,
  );
  const g = new Map<string, HostTensor>();
  for (const [name, v] of lm.params) g.set(name, { shape: [...v.shape], data: await host(grads[v.name]!) });
  const out = {
    logits: await host(logits),
    loss: (await host(value))[0]!,
    grads: mergeParts(lm, g),
    parts: new Map(lm.parts),
  };
  tf.dispose([input, labels, logits, value, ...Object.values(grads)]);
  lm.dispose();
  return out;
}

/**
 * Three AdamW steps with gradient accumulation over two micro-batches, as the trainer takes them, from the
 * model's own seeded initialization (N(0, 0.02), as Hugging Face's). Not from large random weights: those
 * saturate the softmax, and gradients that are zero but for rounding (GPT-2's key bias shifts a whole row of
 * scores, which softmax ignores) become full-size Adam steps whose sign is the rounding's.
 */
async function threeSteps(config: HFConfig, maxTensorBytes?: number) {
  const lm = createModel(config, { seed: 0, maxTensorBytes });
  const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  const rows: TokenizedRow[] = ROWS.concat(ROWS.map((r) => r.map((t) => (t + 3) % 11))).map((r) => ({
    input_ids: r,
    labels: [...r],
  }));
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const micro = [collate(rows.slice(0, 2), 7, 0), collate(rows.slice(2), 7, 0)];
    const r = await trainStep(lm, opt, micro, 1e-2, 1, step, emptyStepTimes());
    losses.push(r.loss, r.gradNorm);
  }
  const w = await exportWeights(lm);
  opt.dispose();
  lm.dispose();
  return { losses, weights: w };
}

/** Random weights (norms included) for `config`, on the host. */
function weightsFor(config: HFConfig, seed: number): Map<string, HostTensor> {
  const lm = createModel(config);
  const w = randomWeights(lm, seed, 0.5);
  lm.dispose();
  return w;
}

function expectClose(a: Map<string, HostTensor>, b: Map<string, HostTensor>, tol: number): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, t] of a) {
    expect(b.get(name)!.shape, name).toEqual(t.shape);
    expect(maxAbsDiff(t.data, b.get(name)!.data), name).toBeLessThan(tol);
  }
}

beforeAll(() => setConsoleLogLevel('off'));
afterAll(async () => {
  setConsoleLogLevel('info');
  await initBackend('cpu');
});

describe.skipIf(!probe.adapter)(`WebGPU ${where}`, () => {
  describe.each(TINY)('%s', (_arch, base) => {
    const config = withDropout(base);

    it('forward, loss and gradients (dropout on) equal the cpu backend within 1e-4', async () => {
      await use('cpu');
      const weights = weightsFor(config, 3);
      const cpu = await passOf(config, weights);
      await use('webgpu');
      const gpu = await passOf(config, weights);
      expect(maxAbsDiff(cpu.logits, gpu.logits)).toBeLessThan(TOL);
      expect(Math.abs(cpu.loss - gpu.loss)).toBeLessThan(TOL);
      expectClose(cpu.grads, gpu.grads, TOL);
    });

    it('three optimizer steps (two micro-batches each) equal the cpu backend within 1e-4', async () => {
      await use('cpu');
      const cpu = await threeSteps(config);
      await use('webgpu');
      const gpu = await threeSteps(config);
      expect(maxAbsDiff(cpu.losses, gpu.losses)).toBeLessThan(TOL);
      expectClose(cpu.weights, gpu.weights, TOL);
    });
  });

  it('adds more tensors than one kernel may bind (tf.addN of 2 to 40 terms) exactly as the cpu backend', async () => {
    const terms = (n: number) => Array.from({ length: n }, (_, i) => tf.fill([3, 5], (i + 1) / 7));
    await use('webgpu');
    for (const n of [2, 15, 16, 31, 40]) {
      const xs = terms(n);
      const sum = tf.addN(xs);
      const expected = (n * (n + 1)) / 2 / 7;
      expect(maxAbsDiff(await host(sum), new Float32Array(15).fill(expected)), `${n} terms`).toBeLessThan(1e-4);
      tf.dispose([...xs, sum]);
    }
  });

  it('splits an embedding past the binding limit into row parts, and it trains as the whole one does', async () => {
    // The limit set low, 1 KiB: every weight of this GPT-2 fits but its 100 x 8 float32 embedding (3.2 KB).
    const config: HFConfig = { ...TINY[0]![1], vocab_size: 100, n_embd: 8 }; // wte: 100 x 8 x 4 = 3.2 KB
    await use('cpu');
    const weights = weightsFor(config, 5);
    const cpu = await passOf(config, weights);
    const cpuSteps = await threeSteps(config);
    await use('webgpu', { ...SOFTWARE_OK, maxBindingBytes: 1024 });
    const gpu = await passOf(config, weights);
    expect(gpu.parts?.get('transformer.wte.weight')?.names).toEqual([
      'transformer.wte.weight[0:32]',
      'transformer.wte.weight[32:64]',
      'transformer.wte.weight[64:96]',
      'transformer.wte.weight[96:100]',
    ]);
    expect(maxAbsDiff(cpu.logits, gpu.logits)).toBeLessThan(TOL);
    expectClose(cpu.grads, gpu.grads, TOL);
    const gpuSteps = await threeSteps(config);
    expect(maxAbsDiff(cpuSteps.losses, gpuSteps.losses)).toBeLessThan(TOL);
    expectClose(cpuSteps.weights, gpuSteps.weights, TOL);
    await use('webgpu'); // back to the adapter's own limit for the other tests
  });

  it('a weight that cannot be split, past the limit, is an error naming it', async () => {
    await use('webgpu', { ...SOFTWARE_OK, maxBindingBytes: 1024 });
    expect(() => createModel({ ...TINY[0]![1], n_embd: 16, n_head: 2 })).toThrow(
      'transformer.h.0.attn.c_attn.weight [16, 48] is 3 KiB, but the largest tensor this backend binds in one kernel is 1 KiB: this model cannot train here',
    );
    await use('webgpu');
  });

  it("logits past the adapter's binding limit are refused before anything runs, saying what fits", async () => {
    const report = await use('webgpu');
    const limit = report.adapter!.limits.maxStorageBufferBindingSize;
    const V = Math.ceil(limit / 4 / 64) + 1; // 64 tokens of V logits: just over the limit
    const lm = createModel({ ...TINY[0]![1], vocab_size: V, n_embd: 4, n_head: 1, n_positions: 64 });
    const input = tf.zeros([1, 64], 'int32') as tf.Tensor2D;
    expect(() => tf.tidy(() => lm.forward(input))).toThrow(
      new RegExp(`^the logits \\[64, ${V}\\] of this batch are .* above this GPU's maxStorageBufferBindingSize`),
    );
    input.dispose();
    lm.dispose();
  });

  it("refuses any kernel whose tensor exceeds the adapter's binding limit, naming the kernel and the shape", async () => {
    const report = await use('webgpu');
    const limit = report.adapter!.limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 1;
    // Refused before anything is allocated or recorded: Dawn would reject the binding and leave zeros.
    expect(() => tf.fill([n], 1)).toThrow(
      `Fill output [${n}] is ${formatBytes(n * 4)}, above this GPU's maxStorageBufferBindingSize (${formatBytes(limit)})`,
    );
    const ok = tf.fill([4], 1);
    expect(Array.from(await host(ok))).toEqual([1, 1, 1, 1]);
    ok.dispose();
  });

  it("fails the next read with the GPU's own message when a kernel is rejected, instead of returning zeros", async () => {
    await use('webgpu');
    // A program whose WGSL does not compile: Dawn reports it as an uncaptured validation error.
    class Broken {
      variableNames = ['x'];
      outputShape = [4];
      workgroupSize: [number, number, number] = [64, 1, 1];
      dispatchLayout = { x: [0] };
      dispatch: [number, number, number] = [1, 1, 1];
      shaderKey = 'dumbo_test_broken';
      getUserCode = () => 'fn main(index : i32) { this is not WGSL }';
    }
    tf.registerKernel({
      kernelName: 'DumboTestBroken',
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend }) =>
        (backend as unknown as { runWebGPUProgram: (...a: unknown[]) => tf.TensorInfo }).runWebGPUProgram(
          new Broken(),
          [inputs.x],
          'float32',
        ),
    });
    const x = tf.ones([4]);
    const y = tf.engine().runKernel('DumboTestBroken', { x }) as tf.Tensor;
    await expect(readTensor(y)).rejects.toThrow(/^the GPU reported an error: /);
    // Reported once. (Whatever shared the rejected command buffer is lost with it, which is why the run
    // fails: its last good checkpoint stays.) New work on the device runs and reads again.
    const z = tf.fill([2000], 2);
    expect((await host(z)).every((v) => v === 2)).toBe(true);
    tf.dispose([x, y, z]);
    tf.unregisterKernel('DumboTestBroken', 'webgpu');
  });

  it('keeps tf.memory().numTensors flat across steps, and reads once per optimizer step', async () => {
    await use('webgpu');
    const config = withDropout(TINY[2]![1]); // Llama: RoPE tables cached on the device too
    const lm = createModel(config, { seed: 1 });
    const opt = new AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const rows = ROWS.map((r) => ({ input_ids: r, labels: [...r] }));
    const counts: number[] = [];
    const reads: number[] = [];
    const dispatches: number[] = [];
    for (let step = 0; step < 5; step++) {
      const [r0, d0] = [readCount(), webgpuDispatches()];
      await trainStep(lm, opt, [collate(rows, 7, 0), collate(rows, 7, 0)], 1e-3, 1, step);
      counts.push(tf.memory().numTensors);
      reads.push(readCount() - r0);
      dispatches.push(webgpuDispatches() - d0);
    }
    expect(counts[4]).toBe(counts[1]);
    expect(reads).toEqual([1, 1, 1, 1, 1]); // the losses of both micro-batches and the norm, together
    expect(dispatches[1]).toBeGreaterThan(0); // the steps ran on the GPU
    opt.dispose();
    lm.dispose();
  });

  it('a checkpoint written on webgpu resumes on cpu, and one written on cpu resumes on webgpu', async () => {
    const config = withDropout({ ...TINY[0]![1], vocab_size: 40 }); // wte 40 x 8 x 4 = 1280 bytes
    const rows = countingRows(8, 6, 8);
    const o = options({ batch_size: 2, max_steps: 4, max_length: 8, seed: 3, save_every: 2 });
    const run = async (backend: 'cpu' | 'webgpu', resumeFrom?: string, maxTensorBytes?: number) => {
      await use(backend);
      const lm = createModel(config, { seed: 9, maxTensorBytes });
      const folder = tempDir();
      const losses: number[] = [];
      await train(
        {
          lm,
          seed: 0,
          resumeFrom,
          train: rows,
          runFolder: folder,
          log: getLogger('webgpu-test'),
          reportStep: (_s, metrics) => {
            for (const m of metrics) if (m.name === 'loss') losses.push(m.value);
            return Promise.resolve();
          },
          stopRequested: () => false,
        },
        o,
      );
      lm.dispose();
      return { folder, losses };
    };
    const whole = await run('cpu');
    // Written on webgpu with the embedding split in parts; the checkpoint holds whole weights all the same.
    const onGpu = await run('webgpu', undefined, 1024);
    expect(maxAbsDiff(onGpu.losses, whole.losses)).toBeLessThan(TOL);
    const resumedOnCpu = await run('cpu', `${onGpu.folder}/checkpoints/step-2`);
    expect(maxAbsDiff(resumedOnCpu.losses, whole.losses.slice(2))).toBeLessThan(TOL);
    const resumedOnGpu = await run('webgpu', `${whole.folder}/checkpoints/step-2`);
    expect(maxAbsDiff(resumedOnGpu.losses, whole.losses.slice(2))).toBeLessThan(TOL);
  });
});

describe.skipIf(!probe.adapter)(`the CLI on WebGPU ${where}`, () => {
  it('dumbo doctor names the adapter, whether it is hardware, and its limits', async () => {
    const r = await runDumbo(['doctor', '--json']);
    expect(r.code).toBe(0);
    const a = probe.adapter!;
    expect(r.stderr).toContain(`adapter: ${formatAdapter(a)}`);
    expect(r.stderr).toContain(`maxStorageBufferBindingSize ${formatBytes(a.limits.maxStorageBufferBindingSize)}`);
    const { backend } = JSON.parse(lastLine(r.stdout)) as { backend: BackendReport };
    expect(backend.adapter).toEqual(a);
    // `auto` never takes a software adapter.
    if (!a.hardware) expect(backend.name).not.toBe('webgpu');
  });

  it('dumbo run with backend: webgpu trains the quickstart with falling loss and the first-step loss of cpu', async () => {
    const dir = tempDir('dumbo-webgpu-run-');
    const quick = path.join(repoRoot, 'resources', 'quickstart');
    const config = (backend: string, steps: number) => `name: quickstart-${backend}
seed: 42
backend: ${backend}
webgpu:
  allow_software: true
plugins: [transformers, polars, jinja_formatter, transformers_trainer, file_logger]
model:
  base_model: ${path.join(quick, 'model')}
  init: from_config
  config:
    n_layer: 2
dataset:
  path: ${path.join(quick, 'data', 'stories.jsonl')}
  text_field: text
formatter:
  max_length: 64
  packing: true
training:
  learning_rate: 0.005
  warmup_steps: 4
  lr_scheduler: cosine
  batch_size: 8
  max_steps: ${steps}
  max_length: 64
  sample_max_new_tokens: 8
`;
    writeFileSync(path.join(dir, 'gpu.yaml'), config('webgpu', 24));
    writeFileSync(path.join(dir, 'cpu.yaml'), config('cpu', 1));
    const gpu = await runDumbo(['run', path.join(dir, 'gpu.yaml'), '--output', path.join(dir, 'gpu-run')]);
    expect(gpu.code, gpu.stderr).toBe(0);
    const cpu = await runDumbo(['run', path.join(dir, 'cpu.yaml'), '--output', path.join(dir, 'cpu-run')]);
    expect(cpu.code, cpu.stderr).toBe(0);
    const losses = (run: string) =>
      readFileSync(path.join(dir, run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { name: string; value: number; tags: Record<string, string> })
        .filter((e) => e.name === 'loss')
        .map((e) => e.value);
    const g = losses('gpu-run');
    expect(g).toHaveLength(24);
    expect(Math.abs(g[0]! - losses('cpu-run')[0]!)).toBeLessThan(TOL);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(g.slice(-4))).toBeLessThan(0.9 * mean(g.slice(0, 4)));
    const record = JSON.parse(readFileSync(path.join(dir, 'gpu-run', 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ status: 'completed', backend: 'webgpu', backendDevice: expect.any(String) });
    expect(record.adapter).toEqual(probe.adapter);
    expect(existsSync(path.join(dir, 'gpu-run', 'final', 'model.safetensors'))).toBe(true);

    // The model trained on WebGPU scores the same text alike on both backends, and generates on WebGPU.
    const final = path.join(dir, 'gpu-run', 'final');
    const text = path.join(quick, 'README.md');
    const score = async (backend: string) => {
      const r = await runDumbo([
        'score',
        '--model',
        final,
        '--text',
        text,
        '--json',
        '--backend',
        backend,
        '--allow-software',
      ]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(lastLine(r.stdout)) as { loss: number; tokens: number };
    };
    const [onCpu, onGpu] = [await score('cpu'), await score('webgpu')];
    expect(onGpu.tokens).toBe(onCpu.tokens);
    expect(Math.abs(onGpu.loss - onCpu.loss)).toBeLessThan(TOL);
    const gen = await runDumbo([
      'generate',
      '--model',
      final,
      '--prompt',
      'Once upon a time',
      '--max-new-tokens',
      '6',
      '--temperature',
      '0',
      '--backend',
      'webgpu',
      '--allow-software',
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout.startsWith('Once upon a time')).toBe(true);
  });
});
