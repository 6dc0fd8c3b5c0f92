/**
 * The `native-cpu` backend: tfjs-cpu (MathBackendCPU) registered under its own name, with the matmuls
 * (BatchMatMul, _FusedMatMul) through the BLAS of the native addon (native/), the memory-bound kernels a plain
 * LM head makes slow (elementwise.ts) and liger's fused kernels in C; every other kernel is tfjs-cpu's (or the
 * engine's cpu kernel). Chosen by backend.ts (`backend: native-cpu`,
 * or `auto` before the pure-JS cpu backend) when the addon loads; otherwise its report says why.
 *
 * Imported by engine/backend.ts; the engine's other modules reach it only through the backend choice.
 */

import * as tf from '@tensorflow/tfjs-core';
import { loadAddon, type AddonLoader, type NativeAddon } from './addon.js';
import { aliasCpuBackend } from './cpu-alias.js';
import { elementwiseKernels } from './elementwise.js';
import { fusedKernels } from './fused.js';
import { matmulKernels } from './matmul.js';

export { defaultAddonLoader, explainAddonError, toolchainHint, type AddonLoader, type NativeAddon } from './addon.js';
export { isCpuAlias, registerCpuKernel } from './cpu-alias.js';

/** The tfjs backend name. */
export const NATIVE_CPU = 'native-cpu';

let active: NativeAddon | undefined;

function addon(): NativeAddon {
  if (!active) throw new Error('native-cpu: the addon is not loaded');
  return active;
}

export interface NativeCpuProbe {
  available: boolean;
  /** Why it cannot run. */
  reason?: string;
  /** The BLAS and the thread count, where it loaded. */
  detail?: string;
}

/**
 * Loads the addon (`loader` replaces node-gyp-build: tests simulate a machine where it did not build) and, where
 * it loads, registers the `native-cpu` tfjs backend (once per process; a later addon replaces the first).
 */
export async function probeNativeCpu(loader?: AddonLoader): Promise<NativeCpuProbe> {
  const { addon: loaded, reason } = loadAddon(loader);
  if (!loaded) return { available: false, reason };
  active = loaded;
  if (!tf.findBackendFactory(NATIVE_CPU)) {
    const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
    tf.registerBackend(NATIVE_CPU, () => new MathBackendCPU(), 0);
    const replacements = [...matmulKernels(addon), ...elementwiseKernels(addon), ...fusedKernels(addon)];
    aliasCpuBackend(NATIVE_CPU, new Map(replacements));
  }
  const { blas, threads } = loaded.info();
  return { available: true, detail: `${blas.split(' ').slice(0, 2).join(' ')}, ${threads} threads` };
}

/** The loaded addon's thread count and BLAS (undefined before `probeNativeCpu` loaded it). */
export function nativeCpuInfo(): { blas: string; threads: number } | undefined {
  return active?.info();
}

/** Sets the addon's threads (its pool and the BLAS); DUMBO_NUM_THREADS sets them at load. */
export function setNativeCpuThreads(n: number): void {
  addon().setThreads(n);
}
