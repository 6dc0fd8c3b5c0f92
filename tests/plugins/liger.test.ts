// The liger plugin: with it, GPT-2, GPT-Neo and Llama train to the same losses as without (1e-4 over five
// steps) on the cpu backend and on WebGPU (the software adapter in CI), its fused ops are the ones the models
// call, an option that is off leaves its op alone, and a quickstart config with `liger` in plugins: trains as
// the one without.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  getLogger,
  prepareRun,
  runLifecycle,
  setConsoleLogLevel,
  standaloneContext,
  type PluginContext,
} from '../../src/core/index.js';
import {
  causalLMLossFunction,
  createModel,
  initBackend,
  isCausalLMLoss,
  kernelTable,
  ligerLossFunction,
  loadWeights,
  train,
  type EngineLossFunction,
  type HFConfig,
} from '../../src/engine/index.js';
import { probeWebGPU } from '../../src/engine/webgpu.js';
import { EVERY_FUSION, Liger, type LigerOptions } from '../../plugins/liger/index.js';
import { randomWeights, TINY } from '../engine/models/tiny.js';
import { countingRows, options } from '../engine/training.js';
import { engineConfig } from '../fixtures/configs.js';
import { tempDir } from '../helpers.js';

const probe = await probeWebGPU({});
const BACKENDS: ('cpu' | 'webgpu')[] = probe.adapter ? ['cpu', 'webgpu'] : ['cpu'];
if (!probe.adapter) console.warn(`liger: no WebGPU adapter here, testing the cpu backend only (${probe.reason})`);

beforeAll(() => setConsoleLogLevel('off'));
afterEach(() => kernelTable.reset());

/** The plugin's hooks as a run calls them: log_init, kernels (into the engine's table), compute_loss. */
async function withLiger(o: LigerOptions = EVERY_FUSION): Promise<EngineLossFunction> {
  const hooks = new Liger().hooks();
  const ctx: PluginContext = standaloneContext('liger');
  (await hooks.log_init!(o, ctx)).unwrap();
  (await hooks.kernels!(kernelTable, ctx)).unwrap();
  return (await hooks.compute_loss!(causalLMLossFunction, ctx)).unwrap() as EngineLossFunction;
}

/** Five steps' losses of a tiny model with random weights (seeded), plain or through `loss`. */
async function losses(config: HFConfig, loss?: EngineLossFunction): Promise<number[]> {
  const lm = createModel(config, { seed: 1 });
  loadWeights(lm, randomWeights(lm, 3));
  const out: number[] = [];
  await train(
    {
      lm,
      seed: 0,
      train: countingRows(8, 6, 10, 8).map((r) => ({
        input_ids: r.input_ids.map((t) => t % 11),
        labels: r.labels.map((t) => t % 11),
      })),
      log: getLogger('liger-test'),
      reportStep: async (step) => void out.push(step.loss!),
      stopRequested: () => false,
      hooks: loss ? { computeLoss: async () => loss as never } : {},
    },
    options({ max_steps: 5, batch_size: 2, max_length: 10, learning_rate: 1e-2 }),
  );
  lm.dispose();
  return out;
}

const close = (a: number[], b: number[]) =>
  a.every((x, i) => Math.abs(x - b[i]!) <= 1e-4 * Math.max(1, Math.abs(b[i]!)));

describe.each(BACKENDS)('liger on the %s backend', (backend) => {
  beforeAll(async () => {
    await initBackend(backend, { webgpu: { allowSoftware: true } });
  });

  it.each(TINY)('%s trains to the same losses with liger as without (1e-4, five steps)', async (_arch, config) => {
    const plain = await losses(config);
    const fused = await losses(config, await withLiger());
    expect(fused).toHaveLength(5);
    expect(close(fused, plain), `${fused} vs ${plain}`).toBe(true);
  });

  it("fuses only the causal LM loss: a loss another plugin set (DPO's) stays, before or after it", async () => {
    const hooks = new Liger().hooks();
    const ctx: PluginContext = standaloneContext('liger');
    (await hooks.log_init!(EVERY_FUSION, ctx)).unwrap();
    const dpo: EngineLossFunction = (lm, batch, o) => causalLMLossFunction(lm, batch, o);
    expect((await hooks.compute_loss!(dpo, ctx)).unwrap()).toBe(dpo);
    expect([isCausalLMLoss(ligerLossFunction), isCausalLMLoss(dpo)]).toEqual([true, false]); // perplexity: liger's only
    expect((await hooks.compute_loss!(causalLMLossFunction, ctx)).unwrap()).not.toBe(causalLMLossFunction);
  });

  it('replaces exactly the ops of the options that are on', async () => {
    await withLiger({ ...EVERY_FUSION, attention: false, optimizer: false });
    const replaced = kernelTable
      .describe()
      .filter((d) => d.replacedBy.some((r) => r.plugin === 'liger'))
      .map((d) => d.name);
    expect(replaced.sort()).toEqual(
      ['gelu_new', 'geglu', 'layer_norm', 'linear_cross_entropy', 'rms_norm', 'rope', 'swiglu'].sort(),
    );
    kernelTable.reset();
    await withLiger({ ...EVERY_FUSION, fused_linear_cross_entropy: false });
    const optimizer = kernelTable.describe().filter((d) => d.replacedBy.some((r) => r.plugin === 'liger'));
    // the optimizer's pass: the update and the gradient norm before it
    expect(optimizer.map((d) => d.name)).toEqual(expect.arrayContaining(['adamw', 'grad_norm', 'attention']));
    expect(optimizer.map((d) => d.name)).not.toContain('linear_cross_entropy');
  });
});

describe('liger in a run', () => {
  it('a quickstart config with liger in plugins: trains to the losses of the one without (1e-4, five steps)', async () => {
    await initBackend('cpu');
    const run = async (plugins: string[]) => {
      const dir = tempDir();
      const yaml = engineConfig({ steps: 5, saveEvery: 0, plugins }).replace(/\s+- console_logger\n/, '\n');
      writeFileSync(path.join(dir, 'run.yaml'), yaml.replace(/resid_pdrop: 0\.1/, 'resid_pdrop: 0'));
      const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
      const out: number[] = [];
      const outcome = await runLifecycle(prepared, {
        runFolder: dir,
        kernels: kernelTable,
        onStep: (s) => void out.push(s.loss!),
      });
      expect(outcome.error).toBeUndefined();
      kernelTable.reset();
      return out;
    };
    const plain = await run([]);
    const fused = await run(['liger']);
    expect(fused).toHaveLength(5);
    expect(close(fused, plain), `${fused} vs ${plain}`).toBe(true);
  });
});
