// What the fused-op tests share: the WebGPU probe (the software adapter in CI; the webgpu cases are skipped,
// saying so, where there is none), the two backends as describe.each cases, the relative error measure, and
// one forward + backward pass that reports the kernels that ran.
import * as tf from '@tensorflow/tfjs-core';
import { probeWebGPU } from '../../../src/engine/webgpu.js';

export const probe = await probeWebGPU({});

/** Warns once per test file that the webgpu cases are skipped, and why. */
export function warnNoWebGPU(what: string): void {
  if (!probe.adapter) console.warn(`${what}: no WebGPU adapter here, skipping webgpu (${probe.reason})`);
}

/** The backends a fused op is tested on: cpu always, webgpu where an adapter exists. */
export const BACKENDS = [
  { backend: 'cpu', skip: false },
  { backend: 'webgpu', skip: !probe.adapter },
] as const;

/** max |a - b| / max |b|: the error relative to the reference's scale (absolute where the reference is all 0). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relError: ${a.length} values against ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / (scale || 1);
}

export type Op = (...xs: tf.Tensor[]) => tf.Tensor;

/**
 * The output of `op` and each input's gradient under the upstream gradient `dy`, and the kernels that ran
 * (kernels only: customGrad's scopes are left out).
 */
export async function pass(op: Op, inputs: tf.Tensor[], dy: tf.Tensor) {
  let out: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(tf.mul(op(...xs), dy)))(inputs);
    out = [tf.tidy(() => op(...inputs)), ...grads];
    value.dispose();
  });
  const values = await Promise.all(out.map((t) => t.data()));
  tf.dispose(out);
  return { values, kernels: info.kernelNames.filter((name) => tf.getKernel(name, tf.getBackend())) };
}
