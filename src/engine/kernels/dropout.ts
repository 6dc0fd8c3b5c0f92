/**
 * Dropout whose mask is drawn where the tensor lives: element i is kept when hash(i, key) < keep · 2³², a
 * counter-based draw (Wellons' lowbias32 mixer), so no mask is built in JavaScript and uploaded, none is
 * stored for the backward pass (the gradient redraws the same mask from the same key), and the cpu kernel
 * and the WGSL kernel draw bit-for-bit the same masks. The key comes from the forward pass's seeded stream,
 * so a resumed run draws the masks an uninterrupted one would have drawn.
 *
 * Kernel `DumboDropout` (x → x · mask / keep) for the `cpu` and `webgpu` backends; elsewhere (tfjs-node,
 * wasm) the same mask is computed on the host and multiplied in.
 */

import * as tf from '@tensorflow/tfjs-core';
import { registerCpuKernel } from '../native-cpu/cpu-alias.js';
import type { CpuBackendLike, WebGPUBackendLike } from './backend-types.js';

export const DROPOUT_KERNEL = 'DumboDropout';

interface DropoutAttrs {
  /** The mixed seed: element i is kept when mix32(i ^ key) < threshold. */
  key: number;
  /** floor(keep · 2³²), at most 2³² - 1. */
  threshold: number;
  /** 1 / keep, rounded to float32. */
  scale: number;
}

/** lowbias32 (Chris Wellons): a 32-bit bijective mixer with low bias; the WGSL program computes the same. */
export function mix32(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export function dropoutAttrs(rate: number, seed: number): DropoutAttrs {
  const keep = 1 - rate;
  return {
    key: mix32(seed >>> 0),
    threshold: Math.min(0xffffffff, Math.floor(keep * 4294967296)),
    scale: Math.fround(1 / keep),
  };
}

/** The kept-and-scaled values, on the host (the cpu kernel, and the fallback for other backends). */
function dropoutHost(x: ArrayLike<number>, a: DropoutAttrs): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) if (mix32(i ^ a.key) < a.threshold) out[i] = x[i]! * a.scale;
  return out;
}

/** The mask alone (1/keep where kept, 0 elsewhere), for backends without the kernel. */
function maskHost(size: number, a: DropoutAttrs): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) if (mix32(i ^ a.key) < a.threshold) out[i] = a.scale;
  return out;
}

/** mix32 in WGSL (fused attention's programs draw the same masks with it). */
export const MIX32_WGSL = `
  fn mix32(v : u32) -> u32 {
    var x = v;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
  }
`;

/** The WGSL program, in tfjs-backend-webgpu's program interface (flat layout, one element per thread). */
class DropoutProgram {
  readonly variableNames = ['x'];
  readonly outputShape: number[];
  readonly uniforms = 'key : u32, threshold : u32, scale : f32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey = 'dumbo_dropout';

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    const size = shape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      ${MIX32_WGSL}
      fn main(index : i32) {
        if (index < uniforms.size) {
          var v = 0.0;
          if (mix32(u32(index) ^ uniforms.key) < uniforms.threshold) {
            v = x[index] * uniforms.scale;
          }
          setOutputAtIndex(index, v);
        }
      }
    `;
  }
}

let registered = false;

/** Registers the kernel (cpu, webgpu) and its gradient; idempotent. */
export function registerDropoutKernels(): void {
  if (registered) return;
  registered = true;
  registerCpuKernel({
    kernelName: DROPOUT_KERNEL,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs.x as tf.TensorInfo;
      const b = backend as CpuBackendLike;
      const values = b.readSync(x.dataId) as Float32Array;
      return b.makeTensorInfo(x.shape, 'float32', dropoutHost(values, attrs as unknown as DropoutAttrs));
    },
  });
  tf.registerKernel({
    kernelName: DROPOUT_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs.x as tf.TensorInfo;
      const a = attrs as unknown as DropoutAttrs;
      return (backend as WebGPUBackendLike).runWebGPUProgram(new DropoutProgram(x.shape), [x], 'float32', [
        { type: 'uint32', data: [a.key] },
        { type: 'uint32', data: [a.threshold] },
        { type: 'float32', data: [a.scale] },
      ]);
    },
  });
  // d(x · mask / keep)/dx = mask / keep: the same kernel, the same key, applied to dy.
  tf.registerGradient({
    kernelName: DROPOUT_KERNEL,
    gradFunc: (dy, _saved, attrs) => ({
      x: () => tf.engine().runKernel(DROPOUT_KERNEL, { x: dy as tf.Tensor }, attrs as never) as tf.Tensor,
    }),
  });
}

/**
 * Inverted dropout of `x` at `rate` with the mask drawn from `seed` (any 32-bit integer): kept values are
 * scaled by 1/(1 - rate), as nn.Dropout. The same (shape, rate, seed) gives the same mask on every backend.
 */
export function seededDropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  registerDropoutKernels();
  const attrs = dropoutAttrs(rate, seed);
  if (x.dtype !== 'float32') throw new Error(`dropout needs a float32 tensor, got ${x.dtype}`);
  if (tf.getKernel(DROPOUT_KERNEL, tf.getBackend())) {
    return tf.engine().runKernel(DROPOUT_KERNEL, { x }, attrs as never) as T;
  }
  return tf.mul(x, tf.tensor(maskHost(x.size, attrs), x.shape, 'float32'));
}
