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
  kernelTable,
  ligerLossFunction,
  readTensor,
  registerFused,
  trainStep,
  webgpuDispatches,
  type CausalLM,
  type EngineLossFunction,
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
  /** Trained with every fused op of liger (src/engine/fused/) in the kernel table and the fused loss. */
  liger?: boolean;
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
  liger = false,
): Promise<Row> {
  // liger: every fused op in the kernel table, and the loss through the fused LM head + cross-entropy.
  let lossFn: EngineLossFunction | undefined;
  if (liger) {
    registerFused(kernelTable, undefined, 'bench');
    lossFn = ligerLossFunction;
  }
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
    for (let i = 0; i < warmup; i++) await trainStep(lm, opt, [batch()], 1e-4, 1, i, undefined, lossFn);
    const times = emptyStepTimes();
    const dispatches0 = webgpuDispatches();
    const t0 = performance.now();
    for (let i = 0; i < timed; i++) await trainStep(lm, opt, [batch()], 1e-4, 1, i, times, lossFn);
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
      await trainStep(lm, opt, [batch()], 1e-4, 1, 99, undefined, lossFn);
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
      liger,
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
    kernelTable.reset();
  }
}

/** Peak tensor bytes of the LM head + loss, forward and backward, without and with the fused op. */
export interface HeadMemory {
  vocab: number;
  tokens: number;
  hidden: number;
  unfusedPeakBytes: number;
  fusedPeakBytes: number;
}

/**
 * The LM head and the cross-entropy alone (hidden [tokens, d] · weightᵀ [d, vocab] → per-token NLL → mean), its
 * gradients for hidden and weight, as tfjs's profiler sees its peak bytes: once with the kernel table's plain
 * op (the [tokens, vocab] logits, their softmax and gradient) and once with liger's fused op.
 */
export async function headMemory(vocab: number, tokens: number, hidden: number): Promise<HeadMemory> {
  const h = tf.randomNormal<tf.Rank.R2>([tokens, hidden], 0, 1, 'float32', 1);
  const w = tf.randomNormal<tf.Rank.R2>([vocab, hidden], 0, 0.02, 'float32', 2);
  const targets = tf.randomUniform([tokens], 0, vocab, 'int32', 3) as tf.Tensor1D;
  const peak = async (fused: boolean): Promise<number> => {
    if (fused) registerFused(kernelTable, ['linear_cross_entropy'], 'bench');
    try {
      const op = kernelTable.resolve('linear_cross_entropy');
      const profile = await tf.profile(async () => {
        const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.mean(op(x as tf.Tensor2D, y as tf.Tensor2D, targets)),
        );
        const [dh, dw] = grads([h, w]);
        await readTensor(dw!);
        tf.dispose([dh!, dw!]);
      });
      return profile.peakBytes;
    } finally {
      kernelTable.reset();
    }
  };
  try {
    return { vocab, tokens, hidden, unfusedPeakBytes: await peak(false), fusedPeakBytes: await peak(true) };
  } finally {
    tf.dispose([h, w, targets]);
  }
}
