/**
 * native-cpu's versions of liger's fused kernels (src/engine/fused/): the same kernel names, inputs, attributes
 * and outputs as their cpu kernels, computed in C by the addon (native/src) — the linear cross-entropy with
 * the BLAS doing the LM head's products chunk by chunk, LayerNorm/RMSNorm, gelu_new/SwiGLU/GeGLU, attention and
 * AdamW on the addon's thread pool. The fused ops take their cpu path on native-cpu (fusedBackend() is 'cpu'),
 * and tfjs runs these in place of the plain-loop kernels there. RoPE, the gradient norm and dropout keep their
 * cpu kernels.
 */

import * as tf from '@tensorflow/tfjs-core';
import { GEGLU_KERNEL, GELU_NEW_KERNEL, SWIGLU_KERNEL } from '../fused/activations.js';
import { ADAMW_KERNEL, type AdamWAttrs } from '../fused/adamw.js';
import { FLASH_ATTENTION_GRAD_KERNEL, FLASH_ATTENTION_KERNEL, dimsOf, type FlashAttrs } from '../fused/attention.js';
import { LCE_CPU_BACKWARD_KERNEL, LCE_CPU_FORWARD_KERNEL } from '../fused/linear-cross-entropy-cpu.js';
import { LAYER_NORM_KERNEL, RMS_NORM_KERNEL } from '../fused/norms.js';
import type { CpuBackendLike } from '../kernels/backend-types.js';
import { float32Values, type AttentionCall, type NativeAddon } from './addon.js';

type Inputs = tf.NamedTensorInfoMap;

const f32 = float32Values;

function out(backend: CpuBackendLike, shape: number[], values: Float32Array): tf.TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);

/** A kernel of the addon: `run` gets the inputs, the cpu backend and the attributes. */
function kernel(
  run: (inputs: Inputs, backend: CpuBackendLike, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[],
) {
  return ((args) => run(args.inputs, args.backend as CpuBackendLike, args.attrs ?? {})) as tf.KernelFunc;
}

function linearCrossEntropy(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  const dims = (i: Inputs) => [i.hidden!.shape[0]!, i.weight!.shape[0]!, i.hidden!.shape[1]!] as const;
  const forward = kernel((i, b) => {
    const [N, V, D] = dims(i);
    const stats = new Float32Array(2 * N);
    const t = b.readSync(i.targets!.dataId) as Int32Array;
    addon().lceForward(f32(b, i.hidden!), f32(b, i.weight!), t, stats, N, V, D);
    return out(b, [2, N], stats);
  });
  const backward = kernel((i, b) => {
    const [N, V, D] = dims(i);
    const [gh, gw] = [new Float32Array(N * D), new Float32Array(V * D)];
    const t = b.readSync(i.targets!.dataId) as Int32Array;
    addon().lceBackward(f32(b, i.hidden!), f32(b, i.weight!), t, f32(b, i.stats!), f32(b, i.dy!), gh, gw, N, V, D);
    return [out(b, [N, D], gh), out(b, [V, D], gw)];
  });
  return [
    [LCE_CPU_FORWARD_KERNEL, forward],
    [LCE_CPU_BACKWARD_KERNEL, backward],
  ];
}

function norm(addon: () => NativeAddon, name: string, centered: boolean): [string, tf.KernelFunc][] {
  const k = centered ? 2 : 1;
  const rowsCols = (x: tf.TensorInfo) => [size(x) / x.shape.at(-1)!, x.shape.at(-1)!] as const;
  const forward = kernel((i, b, attrs) => {
    const [rows, cols] = rowsCols(i.x!);
    const [y, stats] = [new Float32Array(rows * cols), new Float32Array(rows * k)];
    const bias = centered ? f32(b, i.bias!) : null;
    addon().normForward(centered, f32(b, i.x!), f32(b, i.weight!), bias, y, stats, rows, cols, attrs.eps as number);
    return [out(b, i.x!.shape, y), out(b, [rows, k], stats)];
  });
  const backward = kernel((i, b) => {
    const [rows, cols] = rowsCols(i.x!);
    const [dx, dw] = [new Float32Array(rows * cols), new Float32Array(cols)];
    const db = centered ? new Float32Array(cols) : null;
    const x = f32(b, i.x!);
    addon().normBackward(centered, f32(b, i.dy!), x, f32(b, i.weight!), f32(b, i.stats!), dx, dw, db, rows, cols);
    const grads = [out(b, i.x!.shape, dx), out(b, i.weight!.shape, dw)];
    return db ? [...grads, out(b, i.weight!.shape, db)] : grads;
  });
  return [
    [name, forward],
    [`${name}Grad`, backward],
  ];
}

/** gelu_new (kind 0) plain; SwiGLU (SiLU, kind 1) and GeGLU (gelu_new) gated. */
function activations(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  const plain = kernel((i, b) => {
    const y = new Float32Array(size(i.x!));
    addon().activationForward(0, f32(b, i.x!), null, y, y.length);
    return out(b, i.x!.shape, y);
  });
  const plainGrad = kernel((i, b) => {
    const dx = new Float32Array(size(i.x!));
    addon().activationBackward(0, f32(b, i.dy!), f32(b, i.x!), null, dx, null, dx.length);
    return out(b, i.x!.shape, dx);
  });
  const gated = (kind: 0 | 1): [tf.KernelFunc, tf.KernelFunc] => [
    kernel((i, b) => {
      const y = new Float32Array(size(i.gate!));
      addon().activationForward(kind, f32(b, i.gate!), f32(b, i.up!), y, y.length);
      return out(b, i.gate!.shape, y);
    }),
    kernel((i, b) => {
      const [dg, du] = [new Float32Array(size(i.gate!)), new Float32Array(size(i.gate!))];
      addon().activationBackward(kind, f32(b, i.dy!), f32(b, i.gate!), f32(b, i.up!), dg, du, dg.length);
      return [out(b, i.gate!.shape, dg), out(b, i.gate!.shape, du)];
    }),
  ];
  const [swiglu, swigluGrad] = gated(1);
  const [geglu, gegluGrad] = gated(0);
  return [
    [GELU_NEW_KERNEL, plain],
    [`${GELU_NEW_KERNEL}Grad`, plainGrad],
    [SWIGLU_KERNEL, swiglu],
    [`${SWIGLU_KERNEL}Grad`, swigluGrad],
    [GEGLU_KERNEL, geglu],
    [`${GEGLU_KERNEL}Grad`, gegluGrad],
  ];
}

function attention(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  const call = (q: tf.TensorInfo, k: tf.TensorInfo, a: FlashAttrs): AttentionCall => {
    const d = dimsOf(q, k);
    return [d.B, d.nh, d.nkv, d.T, d.S, d.hs, a.scale, a.window, a.drop === 1, a.key, a.threshold, a.dropScale];
  };
  const forward = kernel((i, b, attrs) => {
    const d = dimsOf(i.q!, i.k!);
    const [o, lse] = [new Float32Array(size(i.q!)), new Float32Array(d.B * d.nh * d.T)];
    const dims = call(i.q!, i.k!, attrs as unknown as FlashAttrs);
    addon().attentionForward(f32(b, i.q!), f32(b, i.k!), f32(b, i.v!), o, lse, ...dims);
    return [out(b, i.q!.shape, o), out(b, [d.B, d.nh, d.T], lse)];
  });
  const backward = kernel((i, b, attrs) => {
    const [dq, dk, dv] = [i.q!, i.k!, i.v!].map((t) => new Float32Array(size(t))) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const [dy, q, k, v, o, lse] = [i.dy!, i.q!, i.k!, i.v!, i.out!, i.lse!].map((t) => f32(b, t)) as Float32Array[];
    addon().attentionBackward(
      dy!,
      q!,
      k!,
      v!,
      o!,
      lse!,
      dq,
      dk,
      dv,
      ...call(i.q!, i.k!, attrs as unknown as FlashAttrs),
    );
    return [out(b, i.q!.shape, dq), out(b, i.k!.shape, dk), out(b, i.v!.shape, dv)];
  });
  return [
    [FLASH_ATTENTION_KERNEL, forward],
    [FLASH_ATTENTION_GRAD_KERNEL, backward],
  ];
}

/** Inputs p0, g0, m0, v0, p1, ...; outputs every new p, then every m, then every v. */
function adamw(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  const step = kernel((i, b, attrs) => {
    const a = attrs as unknown as AdamWAttrs;
    const constants = [a.lr, a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.bc1, a.bc2, a.eps, a.gradScale];
    const outs = a.decay.map((decay, k) => {
      const [p, g, m, v] = ['p', 'g', 'm', 'v'].map((n) => i[`${n}${k}`]!);
      const n = size(p!);
      const news = [0, 1, 2].map(() => new Float32Array(n)) as [Float32Array, Float32Array, Float32Array];
      addon().adamw(f32(b, p!), f32(b, g!), f32(b, m!), f32(b, v!), ...news, n, ...constants, decay);
      return news.map((values) => out(b, [...p!.shape], values));
    });
    return [0, 1, 2].flatMap((j) => outs.map((o) => o[j]!));
  });
  return [[ADAMW_KERNEL, step]];
}

/** Every fused kernel native-cpu runs in C, by tfjs kernel name. */
export function fusedKernels(addon: () => NativeAddon): [string, tf.KernelFunc][] {
  return [
    ...linearCrossEntropy(addon),
    ...norm(addon, LAYER_NORM_KERNEL, true),
    ...norm(addon, RMS_NORM_KERNEL, false),
    ...activations(addon),
    ...attention(addon),
    ...adamw(addon),
  ];
}
