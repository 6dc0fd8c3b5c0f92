/**
 * Fused causal attention (the kernel table's `attention`, registry.ts), flash-attention style: the forward
 * walks the keys in tiles with an online softmax (a running max and sum per query row), so the
 * [B, heads, T, S] scores never exist, and saves only the output and each row's log-sum-exp; the backward
 * recomputes the probabilities tile by tile from q, k, v, the output and the log-sum-exp (FlashAttention-2:
 * D = rowsum(dO·O), dS = P·(dP − D)). Grouped key/value heads: query head h reads kv head floor(h / rep), and
 * dk, dv sum over the query heads that share it. GPT-Neo's local layers: query i sees keys j with
 * i - window < j <= i. Dropout on the probabilities (training): the mask of seeded dropout (kernels/dropout.ts)
 * on the default's [B, nh, T, S] probabilities, redrawn from each element's flat index there and the key, in
 * the forward and again in the backward, never stored (FlashAttention's dropout: the softmax sum is taken
 * without the mask, the output sums mask·P·v; dP = mask·dO·vᵀ, and D = rowsum(dO·O) still holds). A plain-loop
 * kernel on `cpu`, WGSL programs on `webgpu` (attention-wgsl.ts), the default composition (kernels/attention.ts)
 * elsewhere.
 */

import * as tf from '@tensorflow/tfjs-core';
import { causalAttention, type AttentionOptions } from '../kernels/attention.js';
import { dropoutAttrs, mix32 } from '../kernels/dropout.js';
import { fusedBackend, makeF32, readF32, registerKernel, runProgram } from './kernel-support.js';
import {
  attentionUniforms,
  copyProgram,
  deltaProgram,
  dkvProgram,
  dqProgram,
  flashForwardProgram,
} from './attention-wgsl.js';

export const FLASH_ATTENTION_KERNEL = 'DumboFlashAttention';
export const FLASH_ATTENTION_GRAD_KERNEL = 'DumboFlashAttentionGrad';

/**
 * The kernels' attributes: the score scale, the window (0: every earlier key), and the dropout mask (drop 1:
 * probability (b, h, t, s) is kept, times dropScale, when mix32(((b·nh + h)·T + t)·S + s ^ key) < threshold, as
 * seeded dropout's; drop 0: no mask).
 */
export interface FlashAttrs {
  scale: number;
  window: number;
  drop: 0 | 1;
  key: number;
  threshold: number;
  dropScale: number;
}

/** The factor dropout puts on element i of the [B, nh, T, S] probabilities: 0, or 1/keep where kept. */
function kept(a: FlashAttrs, i: number): number {
  if (a.drop === 0) return 1;
  return mix32(i ^ a.key) < a.threshold ? a.dropScale : 0;
}

/** The sizes of one call: q (B, nh, T, hs) over k, v (B, nkv, S, hs); the first `past` = S - T keys are cached. */
export interface AttentionDims {
  B: number;
  nh: number;
  nkv: number;
  T: number;
  S: number;
  hs: number;
  /** Query heads per kv head. */
  rep: number;
  past: number;
}

export function dimsOf(q: tf.TensorInfo, k: tf.TensorInfo): AttentionDims {
  const [B, nh, T, hs] = q.shape as number[];
  const [, nkv, S] = k.shape as number[];
  return { B: B!, nh: nh!, nkv: nkv!, T: T!, S: S!, hs: hs!, rep: nh! / nkv!, past: S! - T! };
}

/** Keys per tile of the cpu forward: the online softmax rescales the accumulator once per tile. */
const CPU_TILE = 32;

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let d = 0; d < n; d++) s += a[ao + d]! * b[bo + d]!;
  return s;
}

/**
 * Calls `f` for every query row: its flat index in (B, nh, T), the offset of its kv head's keys in k and v, and
 * the first and last key (inclusive) it sees — query i sits at position past + i.
 */
function forEachRow(d: AttentionDims, window: number, f: (row: number, kv: number, lo: number, hi: number) => void) {
  const { B, nh, nkv, T, S, hs, rep, past } = d;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const kv = (b * nkv + Math.floor(h / rep)) * S * hs;
      for (let i = 0; i < T; i++)
        f((b * nh + h) * T + i, kv, window > 0 ? Math.max(0, past + i - window + 1) : 0, past + i);
    }
  }
}

/** out (B, nh, T, hs) and lse (B, nh, T): per query row, key tiles folded into a running max, sum and output. */
function forwardCpu(q: Float32Array, k: Float32Array, v: Float32Array, d: AttentionDims, a: FlashAttrs) {
  const hs = d.hs;
  const out = new Float32Array(q.length);
  const lse = new Float32Array(q.length / hs);
  const scores = new Float32Array(CPU_TILE);
  const acc = new Float64Array(hs);
  forEachRow(d, a.window, (row, kv, lo, hi) => {
    const qo = row * hs;
    let m = -Infinity;
    let l = 0;
    acc.fill(0);
    for (let j0 = lo; j0 <= hi; j0 += CPU_TILE) {
      const n = Math.min(CPU_TILE, hi - j0 + 1);
      let tileMax = -Infinity;
      for (let t = 0; t < n; t++) {
        const s = a.scale * dot(q, qo, k, kv + (j0 + t) * hs, hs);
        scores[t] = s;
        if (s > tileMax) tileMax = s;
      }
      if (tileMax > m) {
        // A larger max: what was summed so far shrinks by e^(m_old - m_new).
        const c = Math.exp(m - tileMax);
        l *= c;
        for (let e = 0; e < hs; e++) acc[e]! *= c;
        m = tileMax;
      }
      for (let t = 0; t < n; t++) {
        const p = Math.exp(scores[t]! - m);
        const vo = kv + (j0 + t) * hs;
        // The normalizer sums every probability; the output only the kept ones, scaled.
        l += p;
        const zp = p * kept(a, row * d.S + j0 + t);
        if (zp !== 0) for (let e = 0; e < hs; e++) acc[e]! += zp * v[vo + e]!;
      }
    }
    for (let e = 0; e < hs; e++) out[qo + e] = acc[e]! / l;
    lse[row] = m + Math.log(l);
  });
  return { out, lse };
}

/**
 * dq, dk, dv: per query row, P = exp(s - lse) recomputed key by key and Z its dropout factor; dv_j += Z·P·dO_i,
 * dS = P·(Z·dO_i·v_j - D_i), dq_i += dS·k_j·scale, dk_j += dS·q_i·scale. Heads sharing a kv head add into the
 * same dk, dv rows.
 */
function backwardCpu(
  [dy, q, k, v, out, lse]: Float32Array[],
  d: AttentionDims,
  a: FlashAttrs,
): [Float32Array, Float32Array, Float32Array] {
  const hs = d.hs;
  const dq = new Float32Array(q!.length);
  const dk = new Float32Array(k!.length);
  const dv = new Float32Array(v!.length);
  const dqRow = new Float64Array(hs);
  forEachRow(d, a.window, (row, kv, lo, hi) => {
    const qo = row * hs;
    const D = dot(dy!, qo, out!, qo, hs);
    const L = lse![row]!;
    dqRow.fill(0);
    for (let j = lo; j <= hi; j++) {
      const ko = kv + j * hs;
      const p = Math.exp(a.scale * dot(q!, qo, k!, ko, hs) - L);
      const z = kept(a, row * d.S + j);
      const ds = p * (z * dot(dy!, qo, v!, ko, hs) - D) * a.scale;
      const zp = z * p;
      for (let e = 0; e < hs; e++) {
        dv[ko + e]! += zp * dy![qo + e]!;
        dk[ko + e]! += ds * q![qo + e]!;
        dqRow[e]! += ds * k![ko + e]!;
      }
    }
    dq.set(dqRow, qo);
  });
  return [dq, dk, dv];
}

type Inputs = Record<string, tf.TensorInfo>;
type Impl = (inputs: Inputs, backend: object, attrs: FlashAttrs) => tf.TensorInfo[];

function forwardOnCpu({ q, k, v }: Inputs, backend: object, attrs: FlashAttrs): tf.TensorInfo[] {
  const d = dimsOf(q!, k!);
  const [qs, ks, vs] = [q!, k!, v!].map((t) => readF32(backend, t));
  const { out, lse } = forwardCpu(qs!, ks!, vs!, d, attrs);
  return [makeF32(backend, q!.shape, out), makeF32(backend, [d.B, d.nh, d.T], lse)];
}

function backwardOnCpu({ dy, q, k, v, out, lse }: Inputs, backend: object, attrs: FlashAttrs): tf.TensorInfo[] {
  const values = [dy!, q!, k!, v!, out!, lse!].map((t) => readF32(backend, t));
  const [dq, dk, dv] = backwardCpu(values, dimsOf(q!, k!), attrs);
  return [makeF32(backend, q!.shape, dq), makeF32(backend, k!.shape, dk), makeF32(backend, v!.shape, dv)];
}

/** The part of packed buffer `from` that starts at `offset`, as a tensor of `shape`. */
function part(backend: object, from: tf.TensorInfo, offset: number, shape: number[]): tf.TensorInfo {
  return runProgram(backend, copyProgram(shape), [from], [{ type: 'int32', data: [offset] }]);
}

function forwardOnWebGPU({ q, k, v }: Inputs, backend: object, attrs: FlashAttrs): tf.TensorInfo[] {
  const d = dimsOf(q!, k!);
  const packed = runProgram(backend, flashForwardProgram(d), [q!, k!, v!], attentionUniforms(d, attrs));
  const result = [
    part(backend, packed, 0, q!.shape),
    part(backend, packed, tf.util.sizeFromShape(q!.shape), [d.B, d.nh, d.T]),
  ];
  (backend as tf.KernelBackend).disposeData(packed.dataId);
  return result;
}

function backwardOnWebGPU({ dy, q, k, v, out, lse }: Inputs, backend: object, attrs: FlashAttrs): tf.TensorInfo[] {
  const d = dimsOf(q!, k!);
  const delta = runProgram(backend, deltaProgram(lse!.shape), [dy!, out!], [{ type: 'int32', data: [d.hs] }]);
  const inputs = [q!, k!, v!, dy!, lse!, delta];
  const uniforms = attentionUniforms(d, attrs);
  const dq = runProgram(backend, dqProgram(d), inputs, uniforms);
  const dkv = runProgram(backend, dkvProgram(d), inputs, uniforms);
  const result = [dq, part(backend, dkv, 0, k!.shape), part(backend, dkv, tf.util.sizeFromShape(k!.shape), v!.shape)];
  for (const t of [delta, dkv]) (backend as tf.KernelBackend).disposeData(t.dataId);
  return result;
}

/** Each kernel's implementation per backend. */
const KERNELS: [string, Record<'cpu' | 'webgpu', Impl>][] = [
  [FLASH_ATTENTION_KERNEL, { cpu: forwardOnCpu, webgpu: forwardOnWebGPU }],
  [FLASH_ATTENTION_GRAD_KERNEL, { cpu: backwardOnCpu, webgpu: backwardOnWebGPU }],
];

let registered = false;

/** Registers the forward and backward kernels on cpu and webgpu; idempotent. */
export function registerFlashAttentionKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, impls] of KERNELS) {
    const [cpu, webgpu] = [impls.cpu, impls.webgpu].map(
      (impl): tf.KernelFunc =>
        ({ inputs, backend, attrs }) =>
          impl(inputs as Inputs, backend, attrs as unknown as FlashAttrs),
    );
    registerKernel(kernelName, cpu!, webgpu!);
  }
}

/** Whether the fused kernels take this call; otherwise the default composition does. */
function fusable(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions): boolean {
  // A rate outside [0, 1): left to the default composition, whatever it makes of it.
  if (options.dropout && !(options.dropout.rate >= 0 && options.dropout.rate < 1)) return false;
  if (fusedBackend() === undefined || [q, k, v].some((t) => t.dtype !== 'float32')) return false;
  if (options.window !== undefined && !(Number.isInteger(options.window) && options.window >= 1)) return false;
  // Shapes the default composition would refuse: left to it, for its error.
  const [B, nh, T, hs] = q.shape;
  const [kb, nkv, S, khs] = k.shape;
  return kb === B && khs === hs && nh % nkv === 0 && S >= T && tf.util.arraysEqual(k.shape, v.shape);
}

/** The kernels' attributes for one call; dropout at any rate (even 0) draws seeded dropout's mask, as the default. */
function flashAttrs(options: AttentionOptions): FlashAttrs {
  const attrs = { scale: options.scale, window: options.window ?? 0 };
  if (!options.dropout) return { ...attrs, drop: 0, key: 0, threshold: 0, dropScale: 1 };
  const { key, threshold, scale } = dropoutAttrs(options.dropout.rate, options.dropout.seed);
  return { ...attrs, drop: 1, key, threshold, dropScale: scale };
}

/**
 * `attention` (registry.ts) as one kernel forward and one backward: dropout(softmax(q·kᵀ·scale + causal mask))·v
 * for q (B, nh, T, hs) over k, v (B, nkv, S, hs), without the [B, nh, T, S] scores. Another backend, or shapes
 * the default would refuse: the default composition.
 */
export function fusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions): tf.Tensor4D {
  if (!fusable(q, k, v, options)) return causalAttention(q, k, v, options);
  registerFlashAttentionKernels();
  const attrs = flashAttrs(options);
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qi, ki, vi] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [out, lse] = tf
      .engine()
      .runKernel(FLASH_ATTENTION_KERNEL, { q: qi!, k: ki!, v: vi! }, attrs as never) as tf.Tensor[];
    save([qi!, ki!, vi!, out!, lse!]);
    return {
      value: out!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, sl] = saved;
        const inputs = { dy, q: sq!, k: sk!, v: sv!, out: so!, lse: sl! };
        return tf.engine().runKernel(FLASH_ATTENTION_GRAD_KERNEL, inputs, attrs as never) as tf.Tensor[];
      },
    };
  });
  return run(q, k, v) as tf.Tensor4D;
}
