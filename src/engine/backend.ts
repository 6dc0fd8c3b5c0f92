/**
 * Backend choice, at run start, best first: @tensorflow/tfjs-node-gpu (CUDA 11, legacy), WebGPU on a hardware
 * adapter (Dawn through the `webgpu` package: Vulkan, Metal, D3D12 — webgpu.ts), @tensorflow/tfjs-node
 * (native CPU), then the pure-JS `cpu` backend (and `wasm` where asked for). A software WebGPU adapter
 * (llvmpipe, SwiftShader) is never chosen by `auto` — it is slower than the cpu backend — only by
 * `backend: webgpu` with `webgpu: {allow_software: true}`. The report says which backend runs and why the
 * better ones were not used, with what to install; for WebGPU it names the adapter and its limits. Only one
 * native tfjs package is loaded per process. Model code never names a backend: it uses tfjs-core ops (and
 * the engine's kernels, which exist for every backend).
 *
 * Every read of a tensor goes through `readTensor` (await data(): WebGPU cannot read synchronously in Node,
 * and each read waits for the GPU queue), which also surfaces GPU errors.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { registerDropoutKernels } from './kernels/dropout.js';
import { registerDeviceGradients } from './kernels/gradients.js';
import { NATIVE_CPU, probeNativeCpu, type AddonLoader } from './native-cpu/index.js';
import {
  assertDeviceHealthy,
  formatAdapter,
  maxBindingBytes,
  probeWebGPU,
  registerWebGPU,
  type AdapterReport,
  type WebGPUOptions,
  type WebGPUProbe,
} from './webgpu.js';

import { BACKEND_CHOICES, type BackendChoice } from '../core/index.js';

export type { AdapterReport, WebGPUOptions } from './webgpu.js';
export { BACKEND_CHOICES, type BackendChoice };

/** The config's `webgpu:` section (validated by the config loader) as options. */
export function webgpuOptions(section: unknown): WebGPUOptions {
  const s = (typeof section === 'object' && section !== null ? section : {}) as Record<string, unknown>;
  return {
    allowSoftware: s.allow_software === true,
    adapter: typeof s.adapter === 'string' ? s.adapter : undefined,
    lowPower: s.low_power === true,
    maxBindingBytes: typeof s.max_binding_bytes === 'number' ? s.max_binding_bytes : undefined,
  };
}

export interface BackendCandidate {
  name: 'gpu' | 'webgpu' | 'native' | 'native-cpu' | 'cpu' | 'wasm';
  /** The npm package that provides it. */
  pkg: string;
  /** The tfjs backend name once registered. */
  tfBackend: string;
  available: boolean;
  /** Why it is not used (not installed, cannot load: which library is missing, and what to install). */
  reason?: string;
}

export interface BackendReport {
  /** The backend that runs: `gpu`, `webgpu`, `native`, `native-cpu`, `cpu` or `wasm`. */
  name: string;
  tfBackend: string;
  /** Why this one, in a sentence. */
  why: string;
  candidates: BackendCandidate[];
  tfjsVersion: string;
  /** The WebGPU adapter found (also when it is not used: a software adapter `auto` passed over). */
  adapter?: AdapterReport;
}

const require = createRequire(import.meta.url);

/** What a failed native load means, in the user's words: which shared library is missing and what to install. */
export function explainNativeLoadError(pkg: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if ((error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && message.includes(`'${pkg}'`)) {
    return `${pkg} is not installed (npm install ${pkg})`;
  }
  const lib = /(lib[\w.+-]+\.so(?:\.[\d.]+)?|[\w.+-]+\.dll|lib[\w.+-]+\.dylib)/.exec(message)?.[1];
  if (lib) {
    let hint = '';
    if (/libcudart|libcublas|libcufft|libcurand|libcusolver|libcusparse/.test(lib)) {
      hint = '; tfjs-node-gpu 4.x needs the CUDA 11 runtime (e.g. libcudart.so.11.0) on the library path';
    } else if (/libcudnn/.test(lib)) {
      hint = '; tfjs-node-gpu 4.x needs cuDNN 8 (libcudnn.so.8)';
    } else if (/libtensorflow/.test(lib)) {
      hint = `; reinstall ${pkg} so that its install script downloads libtensorflow`;
    }
    return `${pkg} is installed but cannot load: ${lib} is missing${hint}`;
  }
  return `${pkg} is installed but cannot load: ${message.split('\n')[0]}`;
}

let loadedNative: string | undefined;

/** Loads a native tfjs package (registers its backend); at most one per process. */
function tryNative(pkg: string, loader: (p: string) => unknown): string | undefined {
  if (loadedNative && loadedNative !== pkg)
    return `${loadedNative} is already loaded in this process (one native tfjs package per process)`;
  try {
    loader(pkg);
    loadedNative = pkg;
    return undefined;
  } catch (error) {
    return explainNativeLoadError(pkg, error);
  }
}

/**
 * The choice lives on globalThis, beside tfjs's own engine (one per process): a plugin reaches the engine as
 * `dumbo/engine` (dist/) while a test or a script may load src/, and each copy must see the backend the other
 * chose instead of choosing again (ensureBackend would switch tfjs to `auto`'s pick under the caller).
 */
const CHOSEN = Symbol.for('dumbo.engine.backend');
const chosen = globalThis as unknown as { [CHOSEN]?: BackendReport };

/** The report of the backend this process runs on, once `initBackend` has chosen one. */
export function currentBackend(): BackendReport | undefined {
  return chosen[CHOSEN];
}

/** Chooses a backend (`auto`) unless one was chosen already. */
export async function ensureBackend(): Promise<BackendReport> {
  return chosen[CHOSEN] ?? (await initBackend('auto'));
}

let gradientsRegistered = false;

/**
 * Registers tfjs's gradient functions (built into dist/vendor by scripts/build.mjs from tfjs-core's
 * sources; tfjs-core's Node bundle ships without them).
 */
export async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  // Already there when tfjs's gradients were bundled with the code (the GPU pack) or came with @tensorflow/tfjs.
  if (tf.getGradient(tf.Add)) {
    registerDeviceGradients();
    gradientsRegistered = true;
    return;
  }
  const url = new URL('../../dist/vendor/tfjs-gradients.mjs', import.meta.url);
  const file = fileURLToPath(url);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
  await import(url.href);
  registerDeviceGradients();
  gradientsRegistered = true;
}

export interface InitOptions {
  /** Replaces `require` for native packages (tests simulate missing libraries with it). */
  loadNative?: (pkg: string) => unknown;
  /** Replaces node-gyp-build for native-cpu's addon (tests simulate a machine where it did not build). */
  loadNativeCpu?: AddonLoader;
  /** The config's `webgpu:` section. */
  webgpu?: WebGPUOptions;
  /**
   * Replaces Dawn (tests simulate a hardware adapter, a software one or none): `probe` finds the adapter,
   * `register` registers tfjs's `webgpu` backend on it.
   */
  webgpuDriver?: {
    probe(options: WebGPUOptions): Promise<WebGPUProbe>;
    register(options: WebGPUOptions): Promise<unknown>;
  };
}

/** Whether (and why not) WebGPU is usable for `choice`. */
async function webgpuCandidate(
  choice: BackendChoice,
  options: InitOptions,
  gpuOk: boolean,
): Promise<{ candidate: BackendCandidate; adapter?: AdapterReport }> {
  const base = { name: 'webgpu', pkg: 'webgpu', tfBackend: 'webgpu' } as const;
  if (choice !== 'auto' && choice !== 'webgpu')
    return { candidate: { ...base, available: false, reason: 'not requested' } };
  if (gpuOk) return { candidate: { ...base, available: false, reason: 'tfjs-node-gpu is used instead' } };
  const opts = options.webgpu ?? {};
  const probe = await (options.webgpuDriver?.probe ?? probeWebGPU)(opts);
  const adapter = probe.adapter;
  let reason = probe.reason;
  if (!reason && adapter && !adapter.hardware && !opts.allowSoftware) {
    reason =
      `only a software adapter is present (${adapter.vendor} ${adapter.device}), slower than the cpu backend` +
      (choice === 'webgpu'
        ? '; to use it anyway (tests), add webgpu: {allow_software: true} to the config (--allow-software on the command line)'
        : '');
  }
  return { candidate: { ...base, available: !reason, reason }, adapter };
}

/**
 * Probes the backends in order and activates the chosen one. `auto` takes the best that works; a named
 * choice that cannot run is an error saying why.
 */
export async function initBackend(choice: BackendChoice = 'auto', options: InitOptions = {}): Promise<BackendReport> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new Error(`backend: expected one of ${BACKEND_CHOICES.join(', ')}, got '${String(choice)}'`);
  }
  // The cpu backend prints an advert for tfjs-node on first use; our report says it better.
  tf.env().set('PROD', true);
  await registerGradients();
  registerDropoutKernels();
  const loader = options.loadNative ?? ((p: string) => require(p));
  const candidates: BackendCandidate[] = [];
  const want = (n: BackendCandidate['name']) => choice === 'auto' || choice === n;

  const gpuReason = want('gpu') ? tryNative('@tensorflow/tfjs-node-gpu', loader) : 'not requested';
  candidates.push({
    name: 'gpu',
    pkg: '@tensorflow/tfjs-node-gpu',
    tfBackend: 'tensorflow',
    available: !gpuReason,
    reason: gpuReason,
  });
  const gpuOk = !gpuReason;
  const webgpu = await webgpuCandidate(choice, options, gpuOk);
  candidates.push(webgpu.candidate);
  const nativeReason = gpuOk
    ? 'tfjs-node-gpu is used instead'
    : webgpu.candidate.available
      ? 'WebGPU is used instead'
      : want('native')
        ? tryNative('@tensorflow/tfjs-node', loader)
        : 'not requested';
  candidates.push({
    name: 'native',
    pkg: '@tensorflow/tfjs-node',
    tfBackend: 'tensorflow',
    available: !nativeReason,
    reason: nativeReason,
  });
  const nativeCpu = gpuOk
    ? { available: false, reason: 'tfjs-node-gpu is used instead' }
    : webgpu.candidate.available
      ? { available: false, reason: 'WebGPU is used instead' }
      : !nativeReason
        ? { available: false, reason: '@tensorflow/tfjs-node is used instead' }
        : want('native-cpu')
          ? await probeNativeCpu(options.loadNativeCpu)
          : { available: false, reason: 'not requested' };
  candidates.push({
    name: 'native-cpu',
    pkg: `dumbo native addon${'detail' in nativeCpu && nativeCpu.detail ? ` (${nativeCpu.detail})` : ''}`,
    tfBackend: NATIVE_CPU,
    available: nativeCpu.available,
    reason: nativeCpu.reason,
  });
  await import('@tensorflow/tfjs-backend-cpu');
  candidates.push({ name: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', tfBackend: 'cpu', available: true });
  let wasmReason: string | undefined;
  if (choice === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
    } catch (error) {
      wasmReason = `@tensorflow/tfjs-backend-wasm cannot load: ${(error as Error).message}`;
    }
  } else {
    wasmReason = 'not requested (it lacks kernels needed to train embeddings; ask for it with backend: wasm)';
  }
  candidates.push({
    name: 'wasm',
    pkg: '@tensorflow/tfjs-backend-wasm',
    tfBackend: 'wasm',
    available: !wasmReason,
    reason: wasmReason,
  });

  const pick =
    choice === 'auto'
      ? candidates.find((c) => c.available && c.name !== 'wasm')!
      : candidates.find((c) => c.name === choice)!;
  if (!pick.available) {
    throw new Error(`backend '${choice}' cannot run: ${pick.reason}`);
  }
  if (pick.name === 'webgpu') await (options.webgpuDriver?.register ?? registerWebGPU)(options.webgpu ?? {});
  let ok: boolean;
  try {
    ok = await tf.setBackend(pick.tfBackend);
  } catch (error) {
    throw new Error(`backend '${pick.name}' (${pick.tfBackend}) failed to initialize: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!ok) throw new Error(`backend '${pick.name}' (${pick.tfBackend}) failed to initialize`);
  await tf.ready();
  const skipped = candidates.filter(
    (c) => c !== pick && c.reason && c.reason !== 'not requested' && candidates.indexOf(c) < candidates.indexOf(pick),
  );
  let why =
    choice !== 'auto'
      ? `asked for with backend: ${choice}`
      : skipped.length === 0
        ? 'the best available'
        : `the better ones cannot run: ${skipped.map((c) => c.reason).join('; ')}`;
  if (pick.name === 'webgpu' && webgpu.adapter) why += `; adapter ${formatAdapter(webgpu.adapter)}`;
  const report: BackendReport = {
    name: pick.name,
    tfBackend: pick.tfBackend,
    why,
    candidates,
    tfjsVersion: tf.version_core,
    adapter: webgpu.adapter,
  };
  chosen[CHOSEN] = report;
  return report;
}

/** The report as the few lines `dumbo doctor` and the run log print. */
export function formatBackendReport(report: BackendReport): string[] {
  const lines = [`backend: ${report.name} (tfjs ${report.tfjsVersion}) — ${report.why}`];
  for (const c of report.candidates) {
    const mark = c.name === report.name ? '*' : c.available ? '+' : '-';
    lines.push(`  ${mark} ${c.name.padEnd(6)} ${c.pkg}${c.reason && c.name !== report.name ? `: ${c.reason}` : ''}`);
    if (c.name === 'webgpu' && report.adapter) lines.push(`           adapter: ${formatAdapter(report.adapter)}`);
  }
  if (report.name === 'cpu') {
    lines.push(
      '  the pure-JS cpu backend is slow (about 1 GFLOP/s on 2 cores): for real models use a GPU through WebGPU ' +
        '(Linux: install its Vulkan driver; macOS and Windows need nothing), or install @tensorflow/tfjs-node',
    );
  }
  return lines;
}

/** The device a backend runs on, in a few words (`nvidia nvidia-h200`), for WebGPU; undefined otherwise. */
export function backendDevice(report: Pick<BackendReport, 'name' | 'adapter'>): string | undefined {
  const a = report.adapter;
  return report.name === 'webgpu' && a ? `${a.vendor} ${a.device}${a.hardware ? '' : ' (software)'}` : undefined;
}

/** The backend's name with its device: `webgpu · nvidia nvidia-h200`, or `cpu`. */
export function backendLabel(report: Pick<BackendReport, 'name' | 'adapter'>): string {
  const device = backendDevice(report);
  return device ? `${report.name} · ${device}` : report.name;
}

/**
 * The largest tensor, in bytes, that weights may be stored as on the running backend: WebGPU binds at most
 * maxStorageBufferBindingSize bytes per kernel (or less, with `webgpu: {max_binding_bytes}`); elsewhere no limit.
 */
export function maxTensorBytes(): number {
  return maxBindingBytes().logical;
}

/** The hard limit of the running backend on one tensor a kernel reads or writes (Infinity off WebGPU). */
export function deviceBindingLimit(): number {
  return maxBindingBytes().device;
}

let reads = 0;

/**
 * A tensor's values on the host: the engine's only way to read one. Asynchronous (WebGPU cannot read
 * synchronously in Node, and a read waits for the GPU to finish what was recorded), and it raises an error
 * the GPU reported since the last read instead of returning a failed kernel's zeros.
 */
export async function readTensor(t: tf.Tensor): Promise<tf.TypedArray> {
  reads++;
  const values = (await t.data()) as tf.TypedArray;
  assertDeviceHealthy();
  return values;
}

/** How many reads (`readTensor`) this process has done: tests count the reads of a training step with it. */
export function readCount(): number {
  return reads;
}
