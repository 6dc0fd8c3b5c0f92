/**
 * Backend choice, at run start, best first: @tensorflow/tfjs-node-gpu (CUDA), @tensorflow/tfjs-node
 * (native CPU), then the pure-JS `cpu` backend (and `wasm` where asked for). The report says which backend
 * runs and why the better ones were not used, with what to install. Only one native tfjs package is loaded
 * per process. Model code never names a backend: it uses tfjs-core ops only.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

export type BackendChoice = 'auto' | 'gpu' | 'native' | 'cpu' | 'wasm';

export interface BackendCandidate {
  name: 'gpu' | 'native' | 'cpu' | 'wasm';
  /** The npm package that provides it. */
  pkg: string;
  /** The tfjs backend name once registered. */
  tfBackend: string;
  available: boolean;
  /** Why it is not used (not installed, cannot load: which library is missing, and what to install). */
  reason?: string;
}

export interface BackendReport {
  /** The backend that runs: `gpu`, `native`, `cpu` or `wasm`. */
  name: string;
  tfBackend: string;
  /** Why this one, in a sentence. */
  why: string;
  candidates: BackendCandidate[];
  tfjsVersion: string;
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

let current: BackendReport | undefined;

/** The report of the backend this process runs on, once `initBackend` has chosen one. */
export function currentBackend(): BackendReport | undefined {
  return current;
}

/** Chooses a backend (`auto`) unless one was chosen already. */
export async function ensureBackend(): Promise<BackendReport> {
  return current ?? (await initBackend('auto'));
}

let gradientsRegistered = false;

/**
 * Registers tfjs's gradient functions (built into dist/vendor by scripts/build.mjs from tfjs-core's
 * sources; tfjs-core's Node bundle ships without them).
 */
export async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  const url = new URL('../../dist/vendor/tfjs-gradients.mjs', import.meta.url);
  const file = fileURLToPath(url);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
  await import(url.href);
  gradientsRegistered = true;
}

export interface InitOptions {
  /** Replaces `require` for native packages (tests simulate missing libraries with it). */
  loadNative?: (pkg: string) => unknown;
}

/**
 * Probes the backends in order and activates the chosen one. `auto` takes the best that works; a named
 * choice that cannot run is an error saying why.
 */
export async function initBackend(choice: BackendChoice = 'auto', options: InitOptions = {}): Promise<BackendReport> {
  // The cpu backend prints an advert for tfjs-node on first use; our report says it better.
  tf.env().set('PROD', true);
  await registerGradients();
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
  const nativeReason = gpuOk
    ? 'tfjs-node-gpu is used instead'
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
  if (!(await tf.setBackend(pick.tfBackend))) {
    throw new Error(`backend '${pick.name}' (${pick.tfBackend}) failed to initialize`);
  }
  await tf.ready();
  const skipped = candidates.filter(
    (c) => c !== pick && c.reason && c.reason !== 'not requested' && candidates.indexOf(c) < candidates.indexOf(pick),
  );
  const why =
    choice !== 'auto'
      ? `asked for with backend: ${choice}`
      : skipped.length === 0
        ? 'the best available'
        : `the better ones cannot run: ${skipped.map((c) => c.reason).join('; ')}`;
  current = { name: pick.name, tfBackend: pick.tfBackend, why, candidates, tfjsVersion: tf.version_core };
  return current;
}

/** The report as the few lines `dumbo doctor` and the run log print. */
export function formatBackendReport(report: BackendReport): string[] {
  const lines = [`backend: ${report.name} (tfjs ${report.tfjsVersion}) — ${report.why}`];
  for (const c of report.candidates) {
    const mark = c.name === report.name ? '*' : c.available ? '+' : '-';
    lines.push(`  ${mark} ${c.name.padEnd(6)} ${c.pkg}${c.reason && c.name !== report.name ? `: ${c.reason}` : ''}`);
  }
  if (report.name === 'cpu') {
    lines.push(
      '  the pure-JS cpu backend is slow (about 1 GFLOP/s on 2 cores); for real models install @tensorflow/tfjs-node, or @tensorflow/tfjs-node-gpu with CUDA 11 + cuDNN 8',
    );
  }
  return lines;
}
