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
 * Imported only by backend.ts (and the kernels that run WGSL programs); `webgpu` and the tfjs backend are
 * loaded on first use, so a process that never asks for WebGPU never loads Dawn.
 */

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { appRoot } from '../core/paths.js';

/** The `webgpu:` section of a config. */
export interface WebGPUOptions {
  /** Use a software adapter (llvmpipe, SwiftShader): for tests; slower than the cpu backend. */
  allowSoftware?: boolean;
  /** Choose an adapter by (part of) its name, as Dawn's `adapter=NAME` (a wrong name lists the adapters). */
  adapter?: string;
  /** Prefer the low-power adapter (an integrated GPU) over the high-performance one. */
  lowPower?: boolean;
  /**
   * Split parameters bigger than this many bytes, below the adapter's maxStorageBufferBindingSize (tests use
   * it to exercise the split on small models).
   */
  maxBindingBytes?: number;
}

export interface AdapterLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBuffersPerShaderStage: number;
}

/** What the adapter is, as the backend report shows it. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** False for software rasterizers (llvmpipe/lavapipe, SwiftShader, WARP, Dawn's fallback adapter). */
  hardware: boolean;
  limits: AdapterLimits;
  features: string[];
}

/** Minimal shapes of the WebGPU objects used here (the full types come with the `webgpu` package). */
interface GPUAdapterLike {
  info: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter?: boolean;
  };
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(descriptor?: unknown): Promise<GPUDeviceLike>;
}

interface GPUDeviceLike {
  limits: Record<string, number>;
  lost: Promise<{ reason: string; message: string }>;
  addEventListener(type: 'uncapturederror', listener: (event: { error: { message: string } }) => void): void;
  destroy(): void;
}

interface GPULike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GPUAdapterLike | null>;
}

interface DawnModule {
  create(flags: string[]): GPULike;
  globals: Record<string, unknown>;
}

/** Names that mark a software adapter. */
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|warp/i;

export function isSoftwareAdapter(info: GPUAdapterLike['info']): boolean {
  return (
    info.isFallbackAdapter === true ||
    info.architecture === 'software' ||
    SOFTWARE.test(`${info.device} ${info.description} ${info.architecture}`)
  );
}

const LIMIT_NAMES: (keyof AdapterLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
];

export function describeAdapter(adapter: GPUAdapterLike): AdapterReport {
  const { vendor, architecture, device, description } = adapter.info;
  const limits = Object.fromEntries(LIMIT_NAMES.map((k) => [k, Number(adapter.limits[k])])) as unknown as AdapterLimits;
  return {
    vendor: vendor || 'unknown',
    architecture: architecture || 'unknown',
    device: device || 'unknown',
    description: description || '',
    hardware: !isSoftwareAdapter(adapter.info),
    limits,
    features: [...adapter.features].sort(),
  };
}

/** 1.5 GiB, 128 MiB, 512 KiB: sizes as people read them. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** One line: `nvidia nvidia-h200 (hopper), hardware, maxStorageBufferBindingSize 2 GiB, maxBufferSize 4 GiB`. */
export function formatAdapter(a: AdapterReport): string {
  const arch = a.architecture && !['unknown', 'software'].includes(a.architecture) ? ` (${a.architecture})` : '';
  const desc = a.description ? ` "${a.description}"` : '';
  return (
    `${a.vendor} ${a.device}${arch}${desc}, ${a.hardware ? 'hardware' : 'software'}, ` +
    `maxStorageBufferBindingSize ${formatBytes(a.limits.maxStorageBufferBindingSize)}, ` +
    `maxBufferSize ${formatBytes(a.limits.maxBufferSize)}`
  );
}

// ------------------------------------------------------------------------------------ why no adapter

/** What the file system says about Vulkan on Linux, for the "no adapter" explanation (injected in tests). */
export interface VulkanFacts {
  /** Where libvulkan.so.1 was found, if anywhere. */
  loader?: string;
  /** Vulkan driver manifests (ICD JSON files) found. */
  icds: string[];
}

const LOADER_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
  '/lib64',
  '/usr/local/lib',
];
const ICD_DIRS = [
  '/usr/share/vulkan/icd.d',
  '/etc/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/usr/local/nvidia/share/vulkan/icd.d',
];

export function vulkanFacts(env: NodeJS.ProcessEnv = process.env): VulkanFacts {
  const libPaths = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const loader = [...libPaths, ...LOADER_DIRS].map((d) => path.join(d, 'libvulkan.so.1')).find((f) => existsSync(f));
  const explicit = (env.VK_ICD_FILENAMES ?? env.VK_DRIVER_FILES ?? '').split(':').filter(Boolean);
  const icds = [
    ...explicit.filter((f) => existsSync(f)),
    ...ICD_DIRS.flatMap((d) => {
      try {
        return readdirSync(d)
          .filter((f) => f.endsWith('.json'))
          .map((f) => path.join(d, f));
      } catch {
        return [];
      }
    }),
  ];
  return { loader, icds };
}

const LINUX_DRIVERS =
  "NVIDIA: the proprietary driver's Vulkan part (Debian/Ubuntu: libnvidia-gl-<version> or nvidia-vulkan-icd; it " +
  'installs nvidia_icd.json); AMD or Intel: Mesa (mesa-vulkan-drivers on Debian/Ubuntu, mesa-vulkan-drivers or ' +
  'vulkan-radeon/vulkan-intel elsewhere)';

/** Why `requestAdapter()` found nothing, with what to install. */
export function explainNoAdapter(platform: NodeJS.Platform, facts?: VulkanFacts): string {
  if (platform === 'darwin') return 'no WebGPU adapter: Metal found no GPU';
  if (platform === 'win32') return 'no WebGPU adapter: D3D12 and Vulkan found no GPU (update the GPU driver)';
  const f = facts ?? vulkanFacts();
  if (!f.loader) {
    return (
      'no WebGPU adapter: the Vulkan loader libvulkan.so.1 is not installed (Debian/Ubuntu: apt install libvulkan1; ' +
      `Fedora/Arch: vulkan-loader), nor perhaps a Vulkan driver — ${LINUX_DRIVERS}`
    );
  }
  if (f.icds.length === 0) {
    return `no WebGPU adapter: no Vulkan driver is installed (no ICD file in ${ICD_DIRS.slice(0, 2).join(' or ')}) — ${LINUX_DRIVERS}`;
  }
  return (
    `no WebGPU adapter: the Vulkan driver(s) ${f.icds.map((i) => path.basename(i)).join(', ')} offered no device ` +
    "Dawn can use (it needs Vulkan 1.1; Mesa older than 23, such as Debian 12's lavapipe, is rejected — " +
    'bookworm-backports has Mesa 25)'
  );
}

// ------------------------------------------------------------------------------------------ probing

export interface WebGPUProbe {
  adapter?: AdapterReport;
  /** Why WebGPU cannot be used (no package, no adapter, a software adapter not allowed). */
  reason?: string;
}

let dawn: DawnModule | undefined;
interface Found {
  probe: WebGPUProbe;
  adapter?: GPUAdapterLike;
  gpu?: GPULike;
}
const probes = new Map<string, Promise<Found>>();

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  const mod = (await import('webgpu')) as unknown as DawnModule;
  dawn = mod;
  return mod;
}

function optionsKey(o: WebGPUOptions): string {
  return JSON.stringify([o.adapter ?? '', o.lowPower === true]);
}

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

const childProbes = new Map<string, Promise<WebGPUProbe>>();

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

/** Probes in this process (the probe process's own work; tests that need the adapter itself). */
export async function probeHere(options: WebGPUOptions = {}): Promise<WebGPUProbe> {
  return (await findAdapter(options)).probe;
}

function findAdapter(options: WebGPUOptions): Promise<Found> {
  const key = optionsKey(options);
  let found = probes.get(key);
  if (!found) {
    found = (async () => {
      let mod: DawnModule;
      try {
        mod = await loadDawn();
      } catch (error) {
        return { probe: { reason: `the webgpu package cannot load: ${firstLine(error)}` } };
      }
      const flags = options.adapter ? [`adapter=${options.adapter}`] : [];
      let adapter: GPUAdapterLike | null;
      const gpu = mod.create(flags);
      try {
        adapter = await gpu.requestAdapter({
          powerPreference: options.lowPower ? 'low-power' : 'high-performance',
        });
      } catch (error) {
        // Dawn's own words, e.g. a wrong adapter name followed by the list of adapters.
        return { probe: { reason: `no WebGPU adapter: ${String((error as Error)?.message ?? error).trim()}` } };
      }
      if (!adapter) return { probe: { reason: explainNoAdapter(process.platform) } };
      return { probe: { adapter: describeAdapter(adapter) }, adapter, gpu };
    })();
    probes.set(key, found);
  }
  return found;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
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
      guardBindings(backend as unknown as ProgramRunner, s);
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

interface ProgramRunner {
  runWebGPUProgram(
    program: { outputShape: number[]; constructor: { name: string } },
    inputs: tf.TensorInfo[],
    ...rest: unknown[]
  ): tf.TensorInfo;
  recordAndSubmit(...args: unknown[]): void;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 4 };

/**
 * Refuses, with the kernel's name and shape, a program whose input or output buffer exceeds the device's
 * binding limit (Dawn would reject the bind group and leave the output unwritten); counts dispatches.
 */
function guardBindings(backend: ProgramRunner, s: DeviceState): void {
  const limit = s.device.limits.maxStorageBufferBindingSize!;
  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (program, inputs, ...rest) => {
    const dtype = typeof rest[0] === 'string' ? rest[0] : 'float32';
    const out = program.outputShape.reduce((a, b) => a * b, 1) * (BYTES[dtype] ?? 4);
    const tooBig = [
      { what: 'output', shape: program.outputShape, bytes: out },
      ...inputs.map((t, i) => ({
        what: `input ${i}`,
        shape: t.shape,
        bytes: t.shape.reduce((a, b) => a * b, 1) * (BYTES[t.dtype] ?? 4),
      })),
    ].find((b) => b.bytes > limit);
    if (tooBig) {
      throw new Error(
        `${program.constructor.name.replace(/Program$/, '')} ${tooBig.what} [${tooBig.shape.join(', ')}] is ` +
          `${formatBytes(tooBig.bytes)}, above this GPU's maxStorageBufferBindingSize (${formatBytes(limit)}): ` +
          'lower batch_size or max_length',
      );
    }
    return run(program, inputs, ...rest);
  };
  const record = backend.recordAndSubmit.bind(backend);
  backend.recordAndSubmit = (...args) => {
    s.dispatches++;
    record(...args);
  };
}

/**
 * tfjs-webgpu's AddN binds all its inputs in one program; past the device's maxStorageBuffersPerShaderStage
 * (8 by default, 16 on many adapters) Dawn rejects the pipeline and the sum is never computed (the engine's
 * gradient norm adds one term per weight). This AddN adds in groups that fit, then adds the group sums.
 */
function chunkAddN(): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original || (original.kernelFunc as { chunked?: boolean }).chunked) return;
  const kernelFunc = (args: Parameters<tf.KernelFunc>[0]) => {
    const backend = args.backend as unknown as { device: GPUDeviceLike; disposeData(id: tf.DataId): void };
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const fit = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage! - 1);
    if (inputs.length <= fit) return original.kernelFunc(args) as tf.TensorInfo;
    // Sums of groups that fit, then sums of those sums; the intermediate sums (never the caller's inputs) are
    // freed once added.
    const made = new Set<tf.TensorInfo>();
    let level: tf.TensorInfo[] = inputs;
    while (level.length > 1) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += fit) {
        const group = level.slice(i, i + fit);
        if (group.length === 1) {
          next.push(group[0]!);
          continue;
        }
        const sum = original.kernelFunc({ ...args, inputs: group as never }) as tf.TensorInfo;
        made.add(sum);
        next.push(sum);
        for (const t of group) if (made.has(t)) backend.disposeData(t.dataId);
      }
      level = next;
    }
    return level[0]!;
  };
  kernelFunc.chunked = true;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
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
