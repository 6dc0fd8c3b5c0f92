/**
 * WebGPU in Node: Dawn's binding (the `webgpu` npm package, whose prebuilt `dawn.node` ships inside it) under
 * @tensorflow/tfjs-backend-webgpu. Vulkan on Linux and Windows, Metal on macOS, D3D12 on Windows — every GPU
 * vendor, no CUDA.
 *
 * This module finds an adapter and says what it is (vendor, architecture, device, description, hardware or
 * software, the limits that decide what fits), explains why there is none (on Linux: which Vulkan package is
 * missing), and registers tfjs's `webgpu` backend on that adapter with the adapter's own limits. It watches
 * the device: a validation error or a lost device fails the next read with the GPU's own message instead of
 * silently producing zeros, and a kernel whose buffer exceeds the binding limit is refused before it is
 * recorded, naming its shape. It counts GPU dispatches (the benchmark's "kernel launches").
 *
 * Here: the probe (in a process of its own), the backend's registration and the live device's health. Its
 * parts: webgpu-adapter.ts (the options and the adapter's report), webgpu-no-adapter.ts (why there is none),
 * webgpu-dawn.ts (Dawn, and finding the adapter in this process), webgpu-kernels.ts (the binding guard and
 * AddN), webgpu-probe.ts (the probe process).
 *
 * Imported only by backend.ts (and the kernels that run WGSL programs); `webgpu` and the tfjs backend are
 * loaded on first use, so a process that never asks for WebGPU never loads Dawn.
 */

import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { appRoot } from '../core/index.js';
import {
  LIMIT_NAMES,
  type AdapterReport,
  type GPUDeviceLike,
  type GPULike,
  type WebGPUOptions,
} from './webgpu-adapter.js';
import { findAdapter, firstLine, loadDawn, optionsKey, type WebGPUProbe } from './webgpu-dawn.js';
import { chunkAddN, guardBindings, type ProgramRunner } from './webgpu-kernels.js';

export {
  describeAdapter,
  formatAdapter,
  formatBytes,
  isSoftwareAdapter,
  type AdapterLimits,
  type AdapterReport,
  type WebGPUOptions,
} from './webgpu-adapter.js';
export { explainNoAdapter, vulkanFacts, type VulkanFacts } from './webgpu-no-adapter.js';
export { probeHere, type WebGPUProbe } from './webgpu-dawn.js';

// ------------------------------------------------------------------------------------------ probing

const childProbes = new Map<string, Promise<WebGPUProbe>>();

/**
 * Finds the adapter WebGPU would use, without creating a device. Cached per adapter choice: Dawn is loaded
 * once per process.
 */
export async function probeWebGPU(options: WebGPUOptions = {}): Promise<WebGPUProbe> {
  const key = optionsKey(options);
  let probe = childProbes.get(key);
  if (!probe) {
    probe = probeInChild(options).then((p) => p ?? findAdapter(options).then((f) => f.probe));
    childProbes.set(key, probe);
  }
  return probe;
}

/**
 * The probe in a short-lived Node process (dist/engine/webgpu-probe.js), where one can be started: a driver
 * that crashes while Dawn enumerates adapters takes only that process down, and Dawn's warnings about an
 * adapter nobody will use (a software one's limits) stay out of the user's terminal. Undefined where no
 * such process can start — Electron's utility process (its executable is not Node), a bundle without the
 * probe script — and the caller probes in this process instead.
 */
async function probeInChild(options: WebGPUOptions): Promise<WebGPUProbe | undefined> {
  if (process.versions.electron) return undefined;
  const script = path.join(appRoot(), 'dist', 'engine', 'webgpu-probe.js');
  if (!existsSync(script)) return undefined;
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, JSON.stringify(options)],
      { timeout: 60_000, encoding: 'utf8', maxBuffer: 1 << 20 },
      (error, stdout) => {
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          const probe = JSON.parse(line) as WebGPUProbe;
          if (probe.adapter || probe.reason) return resolve(probe);
        } catch {
          // no answer: said below
        }
        const why = error ? firstLine(error) : 'no answer';
        resolve({ reason: `probing WebGPU failed (the probe process: ${why})` });
      },
    );
  });
}

// ---------------------------------------------------------------------------------- the tfjs backend

/** The live device and what it has seen; one per process. */
interface DeviceState {
  device: GPUDeviceLike;
  /** Validation / out-of-memory errors Dawn reported, oldest first (cleared when thrown). */
  errors: string[];
  lost?: string;
  dispatches: number;
}

let state: DeviceState | undefined;
let registeredKey: string | undefined;
/** `max_binding_bytes` of the latest initBackend: weights are split below it (and below the device's limit). */
let splitBelow = Infinity;

/**
 * Registers tfjs's `webgpu` backend on the adapter chosen by `options` (requesting the adapter's own limits,
 * as large as the hardware allows) and returns the adapter's report. Call before `tf.setBackend('webgpu')`.
 */
export async function registerWebGPU(options: WebGPUOptions): Promise<AdapterReport> {
  const { probe, adapter, gpu } = await findAdapter(options);
  if (!adapter || !gpu || !probe.adapter) throw new Error(probe.reason ?? 'no WebGPU adapter');
  const key = optionsKey(options);
  splitBelow = options.maxBindingBytes ?? Infinity;
  if (registeredKey === key) return probe.adapter;
  if (registeredKey !== undefined) {
    throw new Error('WebGPU is already running on another adapter in this process (one adapter per process)');
  }
  const mod = await loadDawn();
  // tfjs-backend-webgpu and its programs look for these on the global object, as in a browser.
  Object.assign(globalThis, mod.globals);
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  setNavigatorGpu(gpu);
  const report = probe.adapter;
  chunkAddN();
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const limits = Object.fromEntries(
        [...LIMIT_NAMES, 'maxComputeWorkgroupsPerDimension', 'maxComputeWorkgroupSizeX']
          .filter((k) => typeof adapter.limits[k] === 'number')
          .map((k) => [k, adapter.limits[k]]),
      );
      const wanted = ['timestamp-query', 'subgroups', 'shader-f16'].filter((f) => adapter.features.has(f));
      const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits: limits });
      const s: DeviceState = { device, errors: [], dispatches: 0 };
      device.addEventListener('uncapturederror', (event) => {
        if (s.errors.length < 16) s.errors.push(event.error.message.split('\n')[0]!);
      });
      void device.lost.then((info) => {
        s.lost = `${info.reason}: ${info.message}`;
      });
      const backend = new WebGPUBackend(device as never, adapter.info as never);
      guardBindings(backend as unknown as ProgramRunner, device.limits.maxStorageBufferBindingSize!, () => {
        s.dispatches++;
      });
      state = s;
      return backend as unknown as tf.KernelBackend;
    },
    0,
  );
  registeredKey = key;
  return report;
}

/** tfjs's backend checks `navigator.gpu` before it accepts a device (Node 21+ has a navigator of its own). */
function setNavigatorGpu(gpu: GPULike): void {
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  try {
    if (g.navigator && typeof g.navigator === 'object') {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
    }
  } catch {
    // a frozen navigator: replaced below
  }
  if (g.navigator?.gpu !== gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
}

/** The active device's facts, or undefined when WebGPU is not the running backend. */
function active(): DeviceState | undefined {
  return state && tf.getBackend() === 'webgpu' ? state : undefined;
}

/**
 * Throws the GPU's own error when the device reported one (a validation error, out of memory) or was lost
 * since the last check. Called after every read: a failed kernel otherwise leaves zeros behind silently.
 */
export function assertDeviceHealthy(): void {
  const s = active();
  if (!s) return;
  if (s.lost) throw new Error(`the GPU device was lost (${s.lost}); the last good checkpoint is kept`);
  if (s.errors.length > 0) {
    const errors = s.errors.splice(0);
    throw new Error(
      `the GPU reported an error: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
    );
  }
}

/** GPU dispatches recorded so far in this process (0 when WebGPU is not running). */
export function webgpuDispatches(): number {
  return state?.dispatches ?? 0;
}

/**
 * The largest tensor one kernel may bind on the running backend: `device`, the GPU's own limit, and
 * `logical`, the one weights are split by (lower when `max_binding_bytes` asks). Infinity off WebGPU.
 */
export function maxBindingBytes(): { device: number; logical: number } {
  const s = active();
  return s
    ? {
        device: s.device.limits.maxStorageBufferBindingSize!,
        logical: Math.min(s.device.limits.maxStorageBufferBindingSize!, splitBelow),
      }
    : { device: Infinity, logical: Infinity };
}
