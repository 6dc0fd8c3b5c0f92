/**
 * Fused rotary position embeddings for the kernel table (registry.ts): `rope` (rotate_half convention, as
 * ops.ts) applied to q and k by one kernel, and its backward by one kernel, the transposed rotation of the
 * upstream gradients: with x = [x1, x2] (the halves of the head axis) the forward is
 *   y1 = x1·cos1 - x2·sin1,   y2 = x2·cos2 + x1·sin2,
 * and the backward
 *   dx1 = dy1·cos1 + dy2·sin2,   dx2 = dy2·cos2 - dy1·sin1
 * (the inverse rotation where the tables repeat each frequency in both halves, as the models' do). Nothing is
 * saved but the tables. cos and sin get no gradient: they are constant tables (the models build them on the
 * host), and asking for one is tfjs's error naming the input. A plain-loop kernel on `cpu`; on `webgpu` one
 * WGSL program per output (q, k) within the one kernel; on any other backend the default composition.
 */

import * as tf from '@tensorflow/tfjs-core';
import { rope } from '../kernels/ops.js';
import { ElementwiseProgram } from './activations.js';
import { fusedBackend, makeF32, once, readF32, registerKernel, runProgram } from './kernel-support.js';

export const ROPE_KERNEL = 'DumboRope';
export const ROPE_GRAD_KERNEL = `${ROPE_KERNEL}Grad`;

/**
 * x (B, heads, T, hs) rotated by the tables (T, hs) on the host: forward, or transposed for the backward.
 * Element c of a row takes its partner in the other half, c ± hs/2.
 */
function rotateCpu(x: Float32Array, cos: Float32Array, sin: Float32Array, shape: number[], backward: boolean) {
  const [T, hs] = [shape[2]!, shape[3]!];
  const half = hs / 2;
  const out = new Float32Array(x.length);
  for (let o = 0, t = 0; o < x.length; o += hs, t = (t + 1) % T) {
    const row = t * hs;
    for (let j = 0; j < half; j++) {
      const [x1, x2] = [x[o + j]!, x[o + half + j]!];
      const [c1, c2, s1, s2] = [cos[row + j]!, cos[row + half + j]!, sin[row + j]!, sin[row + half + j]!];
      out[o + j] = backward ? x1 * c1 + x2 * s2 : x1 * c1 - x2 * s1;
      out[o + half + j] = backward ? x2 * c2 - x1 * s1 : x2 * c2 + x1 * s2;
    }
  }
  return out;
}

/** The same rotation in WGSL, one thread per element of x. */
function rotateProgram(key: string, shape: number[], backward: boolean): ElementwiseProgram {
  const c = '(index % uniforms.headSize)';
  const half = '(uniforms.headSize / 2)';
  const row = '((index / uniforms.headSize) % uniforms.seqLen) * uniforms.headSize';
  const first = `${c} < ${half}`;
  const partner = `select(index - ${half}, index + ${half}, ${first})`;
  // Forward: -x2·sin1 into the first half, +x1·sin2 into the second; backward: +x2·sin2 and -x1·sin1.
  const sign = backward ? `select(-1.0, 1.0, ${first})` : `select(1.0, -1.0, ${first})`;
  const sinAt = backward ? `select(${c} - ${half}, ${c} + ${half}, ${first})` : c;
  const expr = `x[index] * cosines[${row} + ${c}] + ${sign} * x[${partner}] * sines[${row} + ${sinAt}]`;
  // The tables' bindings are not named cos and sin, which would shadow WGSL's builtins.
  return new ElementwiseProgram(key, shape, ['x', 'cosines', 'sines'], expr, 'seqLen : i32, headSize : i32,');
}

/** Kernel `name` rotates both inputs q and k (for the backward kernel: the gradients of q' and k'). */
function registerRotation(name: string, backward: boolean): void {
  registerKernel(
    name,
    ({ inputs: { q, k, cos, sin }, backend }) => {
      const [c, s] = [readF32(backend, cos!), readF32(backend, sin!)];
      return [q!, k!].map((x) => makeF32(backend, x.shape, rotateCpu(readF32(backend, x), c, s, x.shape, backward)));
    },
    ({ inputs: { q, k, cos, sin }, backend }) =>
      [q!, k!].map((x) => {
        const dims = [x.shape[2]!, x.shape[3]!].map((v) => ({ type: 'int32' as const, data: [v] }));
        return runProgram(backend, rotateProgram(name, x.shape, backward), [x, cos!, sin!], dims);
      }),
  );
}

/** Registers the rotation kernels (cpu, webgpu) and the gradient; idempotent. */
export const registerRopeKernels = once(() => {
  registerRotation(ROPE_KERNEL, false);
  registerRotation(ROPE_GRAD_KERNEL, true);
  tf.registerGradient({
    kernelName: ROPE_KERNEL,
    inputsToSave: ['cos', 'sin'],
    gradFunc: (dys, [cos, sin]) => {
      const [dq, dk] = dys as tf.Tensor[];
      const grads = tf.engine().runKernel(ROPE_GRAD_KERNEL, { q: dq!, k: dk!, cos: cos!, sin: sin! });
      const [gq, gk] = grads as tf.Tensor[];
      return { q: () => gq!, k: () => gk! };
    },
  });
});

/** q (B, nh, T, hs), k (B, nkv, T, hs), the tables (T, hs) with hs even, all float32, on a backend with the kernel. */
function fusable(q: tf.Tensor4D, k: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): boolean {
  const [T, hs] = [q.shape[2], q.shape[3]];
  return (
    fusedBackend() !== undefined &&
    q.rank === 4 &&
    k.rank === 4 &&
    hs % 2 === 0 &&
    [q, k, cos, sin].every((t) => t.dtype === 'float32') &&
    k.shape[0] === q.shape[0] &&
    k.shape[2] === T &&
    k.shape[3] === hs &&
    [cos, sin].every((t) => tf.util.arraysEqual(t.shape, [T, hs]))
  );
}

/** `rope` (registry.ts): q and k rotated in one kernel, their gradients in one kernel. */
export function fusedRope(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
): [tf.Tensor4D, tf.Tensor4D] {
  if (!fusable(q, k, cos, sin)) return rope(q, k, cos, sin);
  registerRopeKernels();
  const [q2, k2] = tf.engine().runKernel(ROPE_KERNEL, { q, k, cos, sin }) as tf.Tensor4D[];
  return [q2!, k2!];
}
