/**
 * The optimizer step as an op of the kernel table (`adamw`, registry.ts): one AdamW update of every parameter,
 * as torch.optim.AdamW (bias correction, weight decay decoupled and applied to matrices only).
 *
 * `adamwStep`, the default, is the per-tensor composition of tfjs ops that AdamW.step always took: 14
 * kernels per parameter (one more where it decays, one more for a gradient scale), about 2,300 launches for
 * GPT-2's 148 tensors. `fusedAdamW` computes the same update
 * in one kernel, `DumboAdamW` (inputs: every param, grad, m and v; outputs: the new params, m and v):
 * - `cpu`: plain loops over all the tensors, rounding to float32 after each operation as the composition's
 *   tensors do, in the composition's order, so its results are bit-identical to the default's;
 * - `webgpu`: one WGSL program per group of tensors that fits the device's storage-buffer bindings (7 per
 *   tensor: p, g, m, v read, and the new p, m, v written), recorded through tfjs-webgpu's own dispatch path
 *   (so the engine counts its launches): ceil(tensors / floor(maxStorageBuffersPerShaderStage / 7)) launches;
 * - any other backend: the default.
 * Nothing is updated in place: the new values are new tensors, assigned to the variables, as the default does.
 */

import * as tf from '@tensorflow/tfjs-core';
import { fusedBackend, makeF32, readF32, registerCpuKernel, type Uniform } from './kernel-support.js';

export const ADAMW_KERNEL = 'DumboAdamW';

/** What one step needs besides the tensors. */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step being taken, counted from 1 (the bias correction's exponent). */
  step: number;
  /**
   * What each gradient is multiplied by before the update (absent: 1). The trainer folds the mean over the
   * predicted tokens and the clip into it, so no pass over the gradients happens before the optimizer's.
   */
  gradScale?: number;
}

/** Weight decay applies to matrices (embeddings, projections), not to biases and norm weights (1-D). */
export function decays(param: tf.Tensor): boolean {
  return param.rank >= 2;
}

/**
 * The default: one AdamW update of each `params[i]` with `grads[i]` (times `gradScale`), its moments `m[i]` and
 * `v[i]` (all assigned), op by op: m ← β1·m + (1-β1)·g, v ← β2·v + (1-β2)·g², p ← p·(1 - lr·wd) - lr·m̂/(√v̂ + eps).
 */
export function adamwStep(
  params: tf.Variable[],
  grads: tf.Tensor[],
  m: tf.Variable[],
  v: tf.Variable[],
  hyper: AdamWHyper,
): void {
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale = 1 } = hyper;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  tf.tidy(() => {
    params.forEach((p, i) => {
      const g = gradScale === 1 ? grads[i]! : tf.mul(grads[i]!, gradScale);
      const m2 = tf.add(tf.mul(m[i]!, beta1), tf.mul(g, 1 - beta1));
      const v2 = tf.add(tf.mul(v[i]!, beta2), tf.mul(tf.square(g), 1 - beta2));
      m[i]!.assign(m2);
      v[i]!.assign(v2);
      // p <- p * (1 - lr*wd) - lr * m̂ / (sqrt(v̂) + eps), with m̂ = m/bc1, v̂ = v/bc2
      const decayed = weightDecay > 0 && decays(p) ? tf.mul(p, 1 - lr * weightDecay) : p;
      const update = tf.mul(tf.div(tf.div(m2, bc1), tf.add(tf.sqrt(tf.div(v2, bc2)), eps)), lr);
      p.assign(tf.sub(decayed, update));
    });
  });
}

/**
 * The kernel's attributes: the step's constants rounded to float32 (as the default's scalar tensors hold
 * them), and each tensor's decay factor (1 where it does not decay: p·1 is p, bit for bit).
 */
export interface AdamWAttrs {
  lr: number;
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  bc1: number;
  bc2: number;
  eps: number;
  /** 1 leaves the gradients as they are, bit for bit (g·1 is g). */
  gradScale: number;
  decay: number[];
}

function attrsOf(params: tf.Tensor[], h: AdamWHyper): AdamWAttrs {
  const f = Math.fround;
  const decay = f(1 - h.lr * h.weightDecay);
  return {
    lr: f(h.lr),
    beta1: f(h.beta1),
    oneMinusBeta1: f(1 - h.beta1),
    beta2: f(h.beta2),
    oneMinusBeta2: f(1 - h.beta2),
    bc1: f(1 - h.beta1 ** h.step),
    bc2: f(1 - h.beta2 ** h.step),
    eps: f(h.eps),
    gradScale: f(h.gradScale ?? 1),
    decay: params.map((p) => (h.weightDecay > 0 && decays(p) ? decay : 1)),
  };
}

/** The kernel's inputs by name: p0, g0, m0, v0, p1, ... */
const NAMES = ['p', 'g', 'm', 'v'] as const;

/** One tensor's update on the host, each operation rounded to float32 in the default's order. */
function updateHost(k: number, inputs: Float32Array[], a: AdamWAttrs): Float32Array[] {
  const [p, g, m, v] = inputs as [Float32Array, Float32Array, Float32Array, Float32Array];
  const f = Math.fround;
  const d = a.decay[k]!;
  const [p2, m2, v2] = [0, 1, 2].map(() => new Float32Array(p.length)) as [Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < p.length; i++) {
    const gi = a.gradScale === 1 ? g[i]! : f(g[i]! * a.gradScale);
    const mi = f(f(m[i]! * a.beta1) + f(gi * a.oneMinusBeta1));
    const vi = f(f(v[i]! * a.beta2) + f(f(gi * gi) * a.oneMinusBeta2));
    const update = f(f(f(mi / a.bc1) / f(f(Math.sqrt(f(vi / a.bc2))) + a.eps)) * a.lr);
    m2[i] = mi;
    v2[i] = vi;
    p2[i] = f(p[i]! * d) - update;
  }
  return [p2, m2, v2];
}

/** What the webgpu kernel uses of tfjs-backend-webgpu beyond its program interface: its device and recorder. */
interface WebGPUInternals extends tf.KernelBackend {
  device: {
    limits: Record<string, number>;
    createShaderModule(descriptor: { code: string; label?: string }): unknown;
    createComputePipeline(descriptor: object): unknown;
  };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  uploadToGPU(dataId: tf.DataId): void;
  /** Binds [output, ...inputs, uniforms] to bindings 0.. in order and dispatches program.pipeline. */
  recordAndSubmit(program: object, output: tf.TensorInfo, inputs: tf.TensorInfo[], uniforms: Uniform[]): void;
}

/** Storage buffers one tensor binds: the new p, m, v (written), then p, g, m, v (read). */
const BUFFERS_PER_TENSOR = 7;
const WORKGROUP = 256;
/**
 * At most this many workgroups per launch (262,144 threads, about what a large GPU keeps resident); a bigger
 * tensor is covered by each thread's grid-stride loop.
 */
const MAX_WORKGROUPS = 1024;
const CONSTANTS = ['lr', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'bc1', 'bc2', 'eps', 'gradScale'] as const;

/** Tensors one launch updates on a device with these limits: as many as its storage buffers and bindings allow. */
export function adamwGroupSize(limits: {
  maxStorageBuffersPerShaderStage?: number;
  maxBindingsPerBindGroup?: number;
}): number {
  const buffers = limits.maxStorageBuffersPerShaderStage!;
  const bindings = (limits.maxBindingsPerBindGroup ?? 1000) - 1; // one is the uniforms'
  return Math.max(1, Math.floor(Math.min(buffers, bindings) / BUFFERS_PER_TENSOR));
}

/**
 * The WGSL of one launch over `count` tensors, each a grid-stride loop (so any size takes at most
 * MAX_WORKGROUPS workgroups). tfjs's recorder fills the uniforms' head (NaN, Infinity, and each binding's
 * shape and stride: all bound here as 1-D) before the program's own, so the struct starts with as many fields.
 */
function adamwWGSL(count: number): string {
  const buffers = count * BUFFERS_PER_TENSOR;
  const head = Array.from({ length: 2 * buffers }, (_, i) => `shape${i} : i32,`).join(' ');
  const perTensor = Array.from({ length: count }, (_, k) => `size${k} : i32, decay${k} : f32,`).join(' ');
  const bindings = Array.from({ length: count }, (_, k) =>
    ['pNew', 'mNew', 'vNew', 'p', 'g', 'm', 'v']
      .map((name, j) => {
        const access = j < 3 ? 'read_write' : 'read';
        return `@group(0) @binding(${k * BUFFERS_PER_TENSOR + j}) var<storage, ${access}> ${name}${k} : array<f32>;`;
      })
      .join('\n'),
  ).join('\n');
  const loops = Array.from(
    { length: count },
    (_, k) => `
    for (var i = i32(gid.x); i < u.size${k}; i = i + stride) {
      let gi = g${k}[i] * u.gradScale;
      let mi = m${k}[i] * u.beta1 + gi * u.oneMinusBeta1;
      let vi = v${k}[i] * u.beta2 + (gi * gi) * u.oneMinusBeta2;
      mNew${k}[i] = mi;
      vNew${k}[i] = vi;
      pNew${k}[i] = p${k}[i] * u.decay${k} - ((mi / u.bc1) / (sqrt(vi / u.bc2) + u.eps)) * u.lr;
    }`,
  ).join('');
  return `
    struct Uniforms {
      nan : f32, infinity : f32, ${head}
      ${CONSTANTS.map((c) => `${c} : f32,`).join(' ')} ${perTensor}
    };
    ${bindings}
    @group(0) @binding(${buffers}) var<uniform> u : Uniforms;

    @compute @workgroup_size(${WORKGROUP})
    fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) groups : vec3<u32>) {
      let stride = i32(groups.x * ${WORKGROUP}u);${loops}
    }
  `;
}

/** The program object tfjs's recorder takes: a compiled pipeline and its dispatch. */
class AdamWProgram {
  readonly pixelsOpType = null;
  readonly size = false;
  constructor(
    readonly pipeline: unknown,
    readonly dispatch: [number, number, number],
  ) {}
}

/** Compiled pipelines by device and tensor count (one per group size, compiled on first use). */
const pipelines = new WeakMap<object, Map<number, unknown>>();

function pipelineFor(backend: WebGPUInternals, count: number): unknown {
  const byCount = pipelines.get(backend.device) ?? new Map<number, unknown>();
  pipelines.set(backend.device, byCount);
  let pipeline = byCount.get(count);
  if (!pipeline) {
    const module = backend.device.createShaderModule({ code: adamwWGSL(count), label: `dumbo_adamw_${count}` });
    pipeline = backend.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    byCount.set(count, pipeline);
  }
  return pipeline;
}

/** The new p, m, v of every tensor (in the kernel's output order), recorded in groups that fit the bindings. */
function updateWebGPU(backend: WebGPUInternals, inputs: tf.TensorInfo[][], a: AdamWAttrs): tf.TensorInfo[][] {
  const sizes = inputs.map(([p]) => tf.util.sizeFromShape(p!.shape));
  // An empty tensor gets empty values (nothing to bind); the others get buffers the program writes.
  const outputs = inputs.map(([p], k) =>
    [0, 1, 2].map(() => backend.makeTensorInfo([...p!.shape], 'float32', sizes[k] ? undefined : new Float32Array())),
  );
  const live = sizes.flatMap((size, k) => (size > 0 ? [k] : []));
  const per = adamwGroupSize(backend.device.limits);
  for (let start = 0; start < live.length; start += per) {
    const group = live.slice(start, start + per);
    const bound = group.flatMap((k) =>
      [...outputs[k]!, ...inputs[k]!].map((t) => ({ dataId: t.dataId, dtype: t.dtype, shape: [sizes[k]!] })),
    );
    for (const t of bound) backend.uploadToGPU(t.dataId);
    const largest = Math.max(...group.map((k) => sizes[k]!));
    const workgroups = Math.min(Math.ceil(largest / WORKGROUP), MAX_WORKGROUPS);
    const uniforms: Uniform[] = [
      ...CONSTANTS.map((c) => ({ type: 'float32' as const, data: [a[c]] })),
      ...group.flatMap((k) => [
        { type: 'int32' as const, data: [sizes[k]!] },
        { type: 'float32' as const, data: [a.decay[k]!] },
      ]),
    ];
    const program = new AdamWProgram(pipelineFor(backend, group.length), [workgroups, 1, 1]);
    backend.recordAndSubmit(program, bound[0]!, bound.slice(1), uniforms);
  }
  return outputs;
}

let registered = false;

/** Registers `DumboAdamW` for cpu and webgpu; idempotent. Its outputs: every new p, then every m, then every v. */
export function registerAdamWKernel(): void {
  if (registered) return;
  registered = true;
  const byTensor = (inputs: tf.NamedTensorInfoMap, count: number) =>
    Array.from({ length: count }, (_, k) => NAMES.map((n) => inputs[`${n}${k}`]!));
  const outputOrder = (outs: tf.TensorInfo[][]) => [0, 1, 2].flatMap((j) => outs.map((o) => o[j]!));
  registerCpuKernel({
    kernelName: ADAMW_KERNEL,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as AdamWAttrs;
      const outs = byTensor(inputs, a.decay.length).map((ts, k) => {
        const values = updateHost(
          k,
          ts.map((t) => readF32(backend, t)),
          a,
        );
        return values.map((vals) => makeF32(backend, [...ts[0]!.shape], vals));
      });
      return outputOrder(outs);
    },
  });
  tf.registerKernel({
    kernelName: ADAMW_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as AdamWAttrs;
      return outputOrder(updateWebGPU(backend as WebGPUInternals, byTensor(inputs, a.decay.length), a));
    },
  });
}

/** Refuses what the kernel cannot read: lists of different lengths, a grad or moment of another size, non-float32. */
function check(params: tf.Tensor[], grads: tf.Tensor[], m: tf.Tensor[], v: tf.Tensor[]): void {
  if (grads.length !== params.length || m.length !== params.length || v.length !== params.length) {
    throw new Error(
      `adamw: ${params.length} params, ${grads.length} grads, ${m.length} first and ${v.length} second moments`,
    );
  }
  params.forEach((p, i) => {
    for (const t of [grads[i]!, m[i]!, v[i]!]) {
      if (t.size !== p.size || t.dtype !== 'float32' || p.dtype !== 'float32') {
        throw new Error(`adamw: parameter ${i} [${p.shape}] ${p.dtype} is given a ${t.dtype} tensor [${t.shape}]`);
      }
    }
  });
}

/** `adamwStep`'s update in one kernel on cpu and in a few launches on webgpu (see above); the default elsewhere. */
export const fusedAdamW: typeof adamwStep = (params, grads, m, v, hyper) => {
  if (!fusedBackend() || params.length === 0) return adamwStep(params, grads, m, v, hyper);
  check(params, grads, m, v);
  registerAdamWKernel();
  const inputs: tf.NamedTensorMap = {};
  params.forEach((p, k) => [p, grads[k]!, m[k]!, v[k]!].forEach((t, j) => (inputs[`${NAMES[j]}${k}`] = t)));
  tf.tidy(() => {
    const out = tf.engine().runKernel(ADAMW_KERNEL, inputs, attrsOf(params, hyper) as never) as tf.Tensor[];
    const n = params.length;
    params.forEach((p, k) => {
      p.assign(out[k]!);
      m[k]!.assign(out[n + k]!);
      v[k]!.assign(out[2 * n + k]!);
    });
  });
};
