/**
 * The fused ops (liger's): each replaces one op of the kernel table with a forward and a backward side by
 * side — a plain-loop kernel on the cpu backend, a WGSL program on webgpu, the plain composition elsewhere —
 * and takes exactly the default's arguments. `FUSED_OPS` maps each table op to its fused version;
 * `registerFused` puts the chosen ones in a table (the liger plugin's `kernels` hook, the benchmark).
 */

import type { KernelRegistry } from '../../core/index.js';
import { fusedGeglu, fusedGeluNew, fusedSwiglu } from './activations.js';
import { fusedAdamW } from './adamw.js';
import { fusedAttention } from './attention.js';
import { fusedGradNorm } from './grad-norm.js';
import { fusedLinearCrossEntropy } from './linear-cross-entropy.js';
import { fusedLayerNorm, fusedRmsNorm } from './norms.js';
import { fusedRope } from './rope.js';

export { ligerLossFunction } from './liger-loss.js';
export {
  fusedAdamW,
  fusedAttention,
  fusedGeglu,
  fusedGeluNew,
  fusedGradNorm,
  fusedLayerNorm,
  fusedLinearCrossEntropy,
  fusedRmsNorm,
  fusedRope,
  fusedSwiglu,
};

/** Each kernel-table op's fused version. */
export const FUSED_OPS = {
  gelu_new: fusedGeluNew,
  layer_norm: fusedLayerNorm,
  rms_norm: fusedRmsNorm,
  swiglu: fusedSwiglu,
  geglu: fusedGeglu,
  linear_cross_entropy: fusedLinearCrossEntropy,
  rope: fusedRope,
  attention: fusedAttention,
  adamw: fusedAdamW,
  grad_norm: fusedGradNorm,
} as const;

export type FusedOpName = keyof typeof FUSED_OPS;

/** Registers the fused version of each op in `names` (default: all) in `table`; the names it registered. */
export function registerFused(
  table: KernelRegistry,
  names: readonly FusedOpName[] = Object.keys(FUSED_OPS) as FusedOpName[],
  plugin?: string,
): FusedOpName[] {
  for (const name of names) table.register(name, FUSED_OPS[name] as (...args: never[]) => unknown, { plugin });
  return [...names];
}
