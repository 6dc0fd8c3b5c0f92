/**
 * What the benchmark measures on the active backend: its square matmul rate, and one shape's optimizer
 * steps (host time, device wait, tokens/s, kernel launches, peak bytes, FLOPs and MFU) as a table row.
 * The FLOP count is explained in index.ts.
 */

import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  collate,
  createModel,
  emptyStepTimes,
  readTensor,
  trainStep,
  webgpuDispatches,
  type CausalLM,
} from '../engine/index.js';
import type { Shape } from './shapes.js';

/** Square matmul rate of the active backend, in GFLOP/s: a few products recorded, then one read. */
export async function matmulGflops(n: number, repeats: number): Promise<number> {
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

export interface Row {
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

export async function benchShape(
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
