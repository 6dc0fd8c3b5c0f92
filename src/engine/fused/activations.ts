/**
 * Fused MLP activations for the kernel table (registry.ts): `gelu_new`, `swiglu` and `geglu`, each one
 * elementwise kernel forward and one backward (which recomputes the activation from the inputs, so nothing
 * but the inputs is saved). A plain-loop kernel on `cpu`, a WGSL program on `webgpu`, and the default
 * composition of ops.ts on any other backend.
 *
 * Also home of the stable WGSL math and the flat elementwise program, which norms.ts and rope.ts use too.
 */

import * as tf from '@tensorflow/tfjs-core';
import { geglu, geluNew, swiglu } from '../kernels/ops.js';
import { fusedBackend, makeF32, once, readF32, registerKernel, runProgram } from './kernel-support.js';

/**
 * WGSL helpers: tanh written with exp(-2|x|) (a naive (e^2x - 1)/(e^2x + 1) is inf/inf past |x| ≈ 44), GPT-2's
 * gelu_new and SiLU with their derivatives, in the same formulas as the cpu kernels below.
 */
export const WGSL_MATH = `
  fn stableTanh(a : f32) -> f32 {
    let e = exp(-2.0 * abs(a));
    return sign(a) * (1.0 - e) / (1.0 + e);
  }
  fn gelu(a : f32) -> f32 {
    return 0.5 * a * (1.0 + stableTanh(0.7978845608028654 * (a + 0.044715 * a * a * a)));
  }
  fn geluGrad(a : f32) -> f32 {
    let t = stableTanh(0.7978845608028654 * (a + 0.044715 * a * a * a));
    return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * a * a);
  }
  fn sigmoid(a : f32) -> f32 {
    return 1.0 / (1.0 + exp(-a));
  }
  fn silu(a : f32) -> f32 {
    return a * sigmoid(a);
  }
  fn siluGrad(a : f32) -> f32 {
    let s = sigmoid(a);
    return s * (1.0 + a * (1.0 - s));
  }
`;

const C = Math.sqrt(2 / Math.PI);

function gelu(a: number): number {
  return 0.5 * a * (1 + Math.tanh(C * (a + 0.044715 * a * a * a)));
}

function geluGrad(a: number): number {
  const t = Math.tanh(C * (a + 0.044715 * a * a * a));
  return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * 0.044715 * a * a);
}

function silu(a: number): number {
  return a / (1 + Math.exp(-a));
}

function siluGrad(a: number): number {
  const s = 1 / (1 + Math.exp(-a));
  return s * (1 + a * (1 - s));
}

/**
 * One thread per element over a flat output: `expr` is a WGSL expression of the inputs at `index` (each input
 * has the output's shape, and `expr` reads every one of them). tfjs-webgpu splits a dispatch past the device's per-dimension limit.
 */
export class ElementwiseProgram {
  readonly outputShape: number[];
  readonly variableNames: string[];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;

  /**
   * `uniforms`: extra uniforms the expression reads (`uniforms.name`), as tfjs-webgpu declares them ("cols : i32,");
   * their values go to runProgram in the same order.
   */
  constructor(
    key: string,
    shape: number[],
    variableNames: string[],
    private readonly expr: string,
    readonly uniforms = '',
  ) {
    this.outputShape = shape;
    this.variableNames = variableNames;
    this.shaderKey = `dumbo_${key}`;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      ${WGSL_MATH}
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, ${this.expr});
        }
      }
    `;
  }
}

/** An activation f and its derivative, in JS (cpu) and by name in WGSL_MATH (webgpu). */
interface Activation {
  f: (a: number) => number;
  df: (a: number) => number;
  wgsl: string;
}

const GELU: Activation = { f: gelu, df: geluGrad, wgsl: 'gelu' };
const SILU: Activation = { f: silu, df: siluGrad, wgsl: 'silu' };

export const GELU_NEW_KERNEL = 'DumboGeluNew';
export const SWIGLU_KERNEL = 'DumboSwiglu';
export const GEGLU_KERNEL = 'DumboGeglu';

/** A cpu elementwise result: out[i] = value(i) over `shape` (one output array, nothing allocated per element). */
function mapCpu(backend: object, shape: number[], value: (i: number) => number): tf.TensorInfo {
  const out = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < out.length; i++) out[i] = value(i);
  return makeF32(backend, shape, out);
}

/** A webgpu elementwise result: `expr` of `inputs` (their names in the kernel's input map) at each index. */
function mapWebGPU(backend: object, key: string, inputs: tf.NamedTensorInfoMap, expr: string): tf.TensorInfo {
  const names = Object.keys(inputs);
  const infos = names.map((n) => inputs[n]!);
  return runProgram(backend, new ElementwiseProgram(key, infos[0]!.shape, names, expr), infos);
}

/** gelu_new: y = f(x) forward, dx = dy·f'(x) backward. */
function registerPlain(name: string, act: Activation): void {
  const grad = `${name}Grad`;
  registerKernel(
    name,
    ({ inputs: { x }, backend }) => {
      const xs = readF32(backend, x!);
      return mapCpu(backend, x!.shape, (i) => act.f(xs[i]!));
    },
    ({ inputs: { x }, backend }) => mapWebGPU(backend, name, { x: x! }, `${act.wgsl}(x[index])`),
  );
  registerKernel(
    grad,
    ({ inputs: { dy, x }, backend }) => {
      const [d, xs] = [readF32(backend, dy!), readF32(backend, x!)];
      return mapCpu(backend, x!.shape, (i) => d[i]! * act.df(xs[i]!));
    },
    ({ inputs: { dy, x }, backend }) =>
      mapWebGPU(backend, grad, { dy: dy!, x: x! }, `dy[index] * ${act.wgsl}Grad(x[index])`),
  );
  tf.registerGradient({
    kernelName: name,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.engine().runKernel(grad, { dy: dy as tf.Tensor, x: x! }) as tf.Tensor }),
  });
}

/**
 * swiglu, geglu: y = f(gate)·up forward; dgate = dy·up·f'(gate), dup = dy·f(gate) backward, in one kernel (on
 * webgpu two programs, as a tfjs-webgpu program writes one output; each binds only the inputs it reads, since
 * the pipeline's layout is derived from the shader and an unread binding is not in it).
 */
function registerGated(name: string, act: Activation): void {
  const grad = `${name}Grad`;
  registerKernel(
    name,
    ({ inputs: { gate, up }, backend }) => {
      const [g, u] = [readF32(backend, gate!), readF32(backend, up!)];
      return mapCpu(backend, gate!.shape, (i) => act.f(g[i]!) * u[i]!);
    },
    ({ inputs: { gate, up }, backend }) =>
      mapWebGPU(backend, name, { gate: gate!, up: up! }, `${act.wgsl}(gate[index]) * up[index]`),
  );
  registerKernel(
    grad,
    ({ inputs: { dy, gate, up }, backend }) => {
      const [d, g, u] = [readF32(backend, dy!), readF32(backend, gate!), readF32(backend, up!)];
      return [
        mapCpu(backend, gate!.shape, (i) => d[i]! * u[i]! * act.df(g[i]!)),
        mapCpu(backend, gate!.shape, (i) => d[i]! * act.f(g[i]!)),
      ];
    },
    ({ inputs: { dy, gate, up }, backend }) => [
      mapWebGPU(
        backend,
        `${grad}_gate`,
        { dy: dy!, gate: gate!, up: up! },
        `dy[index] * up[index] * ${act.wgsl}Grad(gate[index])`,
      ),
      mapWebGPU(backend, `${grad}_up`, { dy: dy!, gate: gate! }, `dy[index] * ${act.wgsl}(gate[index])`),
    ],
  );
  tf.registerGradient({
    kernelName: name,
    inputsToSave: ['gate', 'up'],
    gradFunc: (dy, [gate, up]) => {
      const [dg, du] = tf.engine().runKernel(grad, { dy: dy as tf.Tensor, gate: gate!, up: up! }) as tf.Tensor[];
      return { gate: () => dg!, up: () => du! };
    },
  });
}

/** Registers the activation kernels (cpu, webgpu) and their gradients; idempotent. */
export const registerActivationKernels = once(() => {
  registerPlain(GELU_NEW_KERNEL, GELU);
  registerGated(SWIGLU_KERNEL, SILU);
  registerGated(GEGLU_KERNEL, GELU);
});

function fusable(...ts: tf.Tensor[]): boolean {
  return (
    fusedBackend() !== undefined && ts.every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, ts[0]!.shape))
  );
}

/** `gelu_new` (registry.ts) as one kernel forward and one backward. */
export function fusedGeluNew(x: tf.Tensor3D): tf.Tensor3D {
  if (!fusable(x)) return geluNew(x);
  registerActivationKernels();
  return tf.engine().runKernel(GELU_NEW_KERNEL, { x }) as tf.Tensor3D;
}

/** `swiglu`: silu(gate)·up as one kernel forward and one backward (gate and up of one shape, else the default). */
export function fusedSwiglu(gate: tf.Tensor3D, up: tf.Tensor3D): tf.Tensor3D {
  if (!fusable(gate, up)) return swiglu(gate, up);
  registerActivationKernels();
  return tf.engine().runKernel(SWIGLU_KERNEL, { gate, up }) as tf.Tensor3D;
}

/** `geglu`: gelu_new(gate)·up as one kernel forward and one backward (gate and up of one shape, else the default). */
export function fusedGeglu(gate: tf.Tensor3D, up: tf.Tensor3D): tf.Tensor3D {
  if (!fusable(gate, up)) return geglu(gate, up);
  registerActivationKernels();
  return tf.engine().runKernel(GEGLU_KERNEL, { gate, up }) as tf.Tensor3D;
}
