/**
 * Backends that run tfjs-cpu's kernels under another name. `native-cpu` is the cpu backend (MathBackendCPU)
 * with some kernels replaced by the addon's; tfjs keys kernels by backend name, so every cpu kernel — tfjs's
 * own, and each engine kernel registered for cpu later (dropout, the fused ops, which register at first use)
 * — is registered for the alias too, or the alias's replacement in its place.
 *
 * Imported by fused/kernel-support.ts, kernels/dropout.ts (which register their cpu kernels through
 * `registerCpuKernel`) and the native-cpu backend; imports only tfjs-core.
 */

import * as tf from '@tensorflow/tfjs-core';

const aliases = new Map<string, ReadonlyMap<string, tf.KernelFunc>>();

/** Whether tfjs backend `name` runs the cpu backend's kernels (cpu itself excluded). */
export function isCpuAlias(name: string): boolean {
  return aliases.has(name);
}

function mirror(config: tf.KernelConfig, backendName: string, replacements: ReadonlyMap<string, tf.KernelFunc>) {
  if (tf.getKernel(config.kernelName, backendName)) return;
  const kernelFunc = replacements.get(config.kernelName) ?? config.kernelFunc;
  tf.registerKernel({ ...config, backendName, kernelFunc });
}

/** Registers a cpu kernel, and for each alias the same kernel or the alias's replacement of it. */
export function registerCpuKernel(config: Omit<tf.KernelConfig, 'backendName'>): void {
  const cpu = { ...config, backendName: 'cpu' };
  tf.registerKernel(cpu);
  for (const [name, replacements] of aliases) mirror(cpu, name, replacements);
}

/**
 * Makes tfjs backend `backendName` run every cpu kernel registered now or later, with `replacements` (by kernel
 * name) in place of the cpu ones. Once per name: a second call changes nothing.
 */
export function aliasCpuBackend(backendName: string, replacements: ReadonlyMap<string, tf.KernelFunc>): void {
  if (aliases.has(backendName)) return;
  aliases.set(backendName, replacements);
  for (const config of tf.getKernelsForBackend('cpu')) mirror(config, backendName, replacements);
}
