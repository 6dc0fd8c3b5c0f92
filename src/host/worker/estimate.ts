/**
 * The worker's `estimate` task: what a run will cost before it starts — parameters, tokens per step, steps,
 * seconds (a measured matmul rate and per-step overhead on the backend the run would get) and memory. The
 * facts come from the plugins that own them (estimate-facts.ts); the arithmetic is ../estimate.ts.
 *
 * Runs only in the forked worker. May import core and the engine (loaded on first use: the catalog and
 * validation never load TensorFlow.js); imported by index.ts.
 */

import { DumboError } from '../../core/index.js';
import type { BackendChoice, RunEstimate } from '../../shared/api.js';
import { stepFlops, tinyClone, trainingMemoryBytes } from '../estimate.js';
import type { WorkerCalls } from '../protocol.js';
import { askEstimate, trainerFacts } from './estimate-facts.js';
import { prepareText, type LoadedSet } from './shared.js';

const matmulRates = new Map<string, number>();

/**
 * FLOP/s of a float32 matmul on the current backend (256² on the CPU, 1024² on a GPU), measured for about
 * 0.2 s; on a GPU several are recorded before each read, so the rate is the GPU's, not the read's latency.
 */
async function measureMatmulRate(tfBackend: string): Promise<number> {
  const known = matmulRates.get(tfBackend);
  if (known) return known;
  const tf = await import('@tensorflow/tfjs-core');
  const { readTensor } = await import('../../engine/index.js');
  const n = tfBackend === 'webgpu' ? 1024 : 256;
  const batch = tfBackend === 'webgpu' ? 4 : 1;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const run = async (k: number) => {
    const outs = Array.from({ length: k }, () => tf.matMul(a, b));
    await readTensor(outs.at(-1)!);
    tf.dispose(outs);
  };
  await run(1); // warm-up (kernel compile, allocation)
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 200 || reps < 2) {
    await run(batch);
    reps += batch;
  }
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([a, b]);
  const rate = (2 * n * n * n * reps) / seconds;
  matmulRates.set(tfBackend, rate);
  return rate;
}

const stepOverheads = new Map<string, number>();

/**
 * Seconds of one training step of `tinyClone(config)` (same architecture and depth, tiny sizes) on the
 * current backend: the per-step cost of recording and launching the kernels, which dominates on a GPU.
 */
async function measureStepOverhead(config: Record<string, unknown>, tfBackend: string): Promise<number> {
  const engine = await import('../../engine/index.js');
  const tiny = tinyClone(config);
  const key = `${tfBackend}|${engine.architectureOf(tiny)}|${JSON.stringify(tiny)}`;
  const known = stepOverheads.get(key);
  if (known !== undefined) return known;
  const lm = engine.createModel(tiny, { seed: 0 });
  const opt = new engine.AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const ids = Array.from({ length: 16 }, (_, i) => i % 64);
  const step = () => engine.trainStep(lm, opt, [engine.collate([{ input_ids: ids, labels: ids }], 16, 0)], 1e-4, 1, 0);
  try {
    await step(); // warm-up: kernels compile
    const t0 = performance.now();
    await step();
    await step();
    const seconds = (performance.now() - t0) / 2000;
    stepOverheads.set(key, seconds);
    return seconds;
  } finally {
    opt.dispose();
    lm.dispose();
  }
}

export async function estimate(p: WorkerCalls['estimate']['params'], loaded: LoadedSet): Promise<RunEstimate> {
  const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
  const asked = await askEstimate(prepared);
  const { batchSize: batch, accumulation, seqLen, steps } = trainerFacts(asked);
  const { shape, facts } = asked;
  const modelConfig = facts.modelConfig;
  if (!shape || !modelConfig) {
    const loader = prepared.plugins.find((q) => q.meta.provides.includes('model_loader'));
    throw new DumboError(
      loader
        ? `the model loader ${loader.meta.name} does not answer the estimate hook (modelConfig): the model's size is unknown`
        : 'no plugin provides a model_loader: there is no model to estimate',
    );
  }
  const tokensPerStep = batch * seqLen * accumulation;
  const { backendDevice, initBackend, webgpuOptions } = await import('../../engine/index.js');
  const choice = (prepared.config.data.backend ?? p.defaultBackend ?? 'auto') as BackendChoice;
  const backend = await initBackend(choice, { webgpu: webgpuOptions(prepared.config.data.webgpu) });
  const rate = await measureMatmulRate(backend.tfBackend);
  const overhead = await measureStepOverhead(modelConfig, backend.tfBackend);
  const secondsPerStep = overhead * accumulation + stepFlops(shape.parameters, tokensPerStep) / rate;
  const out: RunEstimate = {
    parameters: shape.parameters,
    tokensPerStep,
    steps,
    secondsPerStep,
    totalSeconds: secondsPerStep * steps,
    memoryBytes: trainingMemoryBytes(shape, batch, seqLen),
    backend: backend.name,
    backendReason: backend.why,
    backendDevice: backendDevice(backend),
  };
  if (backend.name === 'cpu') {
    out.slowBackendWarning =
      `Only the pure-JS cpu backend runs here (${(rate / 1e9).toFixed(2)} GFLOP/s measured): fine for tiny ` +
      'models, far too slow for real ones. A GPU trains through WebGPU: on Linux install its Vulkan driver ' +
      '(see `dumbo doctor`); or install @tensorflow/tfjs-node (native CPU).';
  }
  return out;
}
