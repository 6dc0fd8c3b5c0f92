/**
 * The native-cpu addon (native/src, built on install by scripts/build-native.mjs): its functions, typed; loading
 * it with node-gyp-build; and, where it is not there, why — the install's record (build/native-status.json)
 * says what failed and what to install. Each function writes into output arrays its caller allocated; the addon
 * checks every array's type and length against the sizes it is given.
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type F32 = Float32Array;

export interface NativeAddon {
  /** The BLAS (name and build configuration) and the threads the kernels use. */
  info(): { blas: string; threads: number };
  /** Threads for the pool and the BLAS (DUMBO_NUM_THREADS at load, else the core count). */
  setThreads(n: number): void;
  /** out[b] = op(a[b % batchA]) · op(b[b % batchB]), a [M, K] (or [K, M]), b [K, N] (or [N, K]), row-major. */
  matmul(
    a: F32,
    b: F32,
    out: F32,
    batch: number,
    batchA: number,
    batchB: number,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
  ): void;
  /** stats [2, N]: each row's log-sum-exp, then its NLL, of hidden [N, D] · weight [V, D]ᵀ. */
  lceForward(hidden: F32, weight: F32, targets: Int32Array, stats: F32, N: number, V: number, D: number): void;
  lceBackward(
    hidden: F32,
    weight: F32,
    targets: Int32Array,
    stats: F32,
    dy: F32,
    gradHidden: F32,
    gradWeight: F32,
    N: number,
    V: number,
    D: number,
  ): void;
  normForward(
    centered: boolean,
    x: F32,
    weight: F32,
    bias: F32 | null,
    y: F32,
    stats: F32,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  normBackward(
    centered: boolean,
    dy: F32,
    x: F32,
    weight: F32,
    stats: F32,
    dx: F32,
    dw: F32,
    db: F32 | null,
    rows: number,
    cols: number,
  ): void;
  /** kind 0: gelu_new, 1: SiLU; with `up`, the gated form f(x)·up. */
  activationForward(kind: 0 | 1, x: F32, up: F32 | null, out: F32, n: number): void;
  activationBackward(kind: 0 | 1, dy: F32, x: F32, up: F32 | null, dx: F32, dup: F32 | null, n: number): void;
  attentionForward(q: F32, k: F32, v: F32, out: F32, lse: F32, ...dims: AttentionCall): void;
  attentionBackward(
    dy: F32,
    q: F32,
    k: F32,
    v: F32,
    out: F32,
    lse: F32,
    dq: F32,
    dk: F32,
    dv: F32,
    ...dims: AttentionCall
  ): void;
  adamw(p: F32, g: F32, m: F32, v: F32, p2: F32, m2: F32, v2: F32, n: number, ...constants: number[]): void;
  /** dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] over every index i of `shape`. */
  stridedCopy(
    src: F32,
    srcOffset: number,
    srcStrides: number[],
    dst: F32,
    dstOffset: number,
    dstStrides: number[],
    shape: number[],
  ): void;
  fill(dst: F32, value: number, n: number): void;
  /** out (contiguous, `shape`) = a op b (0 add, 1 sub, 2 mul, 3 div, 4 pow), read through strides (0: broadcast). */
  binary(op: number, a: F32, aStrides: number[], b: F32, bStrides: number[], out: F32, shape: number[]): void;
  /** out = op(x): 0 exp, 1 tanh, 2 sqrt, 3 square. */
  unary(op: number, x: F32, out: F32, n: number): void;
  /** Softmax of each row over its `cols` values. */
  softmax(x: F32, out: F32, rows: number, cols: number): void;
  /** out[o, i] = Σ_m x[o, m, i] (in double, m in order), or its max; x viewed as [outer, mid, inner], mid >= 1. */
  reduce(max: boolean, x: F32, out: F32, outer: number, mid: number, inner: number): void;
}

/** B, nh, nkv, T, S, hs, scale, window, drop, key, threshold, dropScale. */
export type AttentionCall = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  boolean,
  number,
  number,
  number,
];

/**
 * A float32 tensor's values as the Float32Array the addon takes (no copy where they are one already: tfjs-cpu
 * keeps a few float32 tensors, such as some scalars, in other arrays).
 */
export function float32Values(backend: { readSync(dataId: object): unknown }, t: { dataId: object }): Float32Array {
  const values = backend.readSync(t.dataId) as ArrayLike<number>;
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Loads the addon, or throws saying why. */
export type AddonLoader = () => NativeAddon;

/** The package's root (build/Release is under it); in a packaged app, the unpacked copy beside app.asar. */
function packageRoot(): string {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const unpacked = root.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
  return unpacked !== root && existsSync(unpacked) ? unpacked : root;
}

/** node-gyp-build: build/Release/dumbo_native.node, or a prebuild for this platform. */
export const defaultAddonLoader: AddonLoader = () => {
  const load = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => unknown;
  return load(packageRoot()) as NativeAddon;
};

/** What to install for the addon to build, per platform. */
export function toolchainHint(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return 'the Xcode command line tools (xcode-select --install); the BLAS is Accelerate';
  if (platform === 'win32') {
    return 'Visual Studio Build Tools (C++) and OpenBLAS (OPENBLAS_DIR pointing at its include/ and lib/openblas.lib)';
  }
  return 'a C++ compiler and OpenBLAS (Debian/Ubuntu: apt-get install build-essential libopenblas-dev)';
}

/** What the install's build recorded (scripts/build-native.mjs). */
export interface BuildStatus {
  ok: boolean;
  reason?: string;
}

function buildStatus(): BuildStatus | undefined {
  try {
    return JSON.parse(readFileSync(path.join(packageRoot(), 'build', 'native-status.json'), 'utf8')) as BuildStatus;
  } catch {
    return undefined;
  }
}

/** Why the addon cannot load, in the user's words, with what to do. */
export function explainAddonError(error: unknown, status: BuildStatus | undefined = buildStatus()): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
  if (status && !status.ok) {
    return (
      `the native addon did not build on install (${status.reason ?? 'no reason recorded'}); install ` +
      `${toolchainHint()}, then run \`node scripts/build-native.mjs\``
    );
  }
  if (/No native build was found/.test(message)) {
    return `the native addon is not built: install ${toolchainHint()}, then run \`node scripts/build-native.mjs\``;
  }
  const lib = /(lib[\w.+-]+\.so(?:\.[\d.]+)?|[\w.+-]+\.dll|lib[\w.+-]+\.dylib)/.exec(message)?.[1];
  if (lib) return `the native addon cannot load: ${lib} is missing (install the BLAS it was built with)`;
  return `the native addon cannot load: ${message}`;
}

/** Every function of the addon: a binary built from older sources lacks some, and is refused at load, not mid-run. */
const FUNCTIONS: (keyof NativeAddon)[] = [
  'info',
  'setThreads',
  'matmul',
  'lceForward',
  'lceBackward',
  'normForward',
  'normBackward',
  'activationForward',
  'activationBackward',
  'attentionForward',
  'attentionBackward',
  'adamw',
  'stridedCopy',
  'fill',
  'binary',
  'unary',
  'softmax',
  'reduce',
];

/** The addon, or why not: DUMBO_NATIVE_CPU=0 turns it off (tests and users simulate a machine without it). */
export function loadAddon(loader: AddonLoader = defaultAddonLoader): { addon?: NativeAddon; reason?: string } {
  if (process.env.DUMBO_NATIVE_CPU === '0') return { reason: 'turned off by DUMBO_NATIVE_CPU=0' };
  try {
    const addon = loader();
    const missing = FUNCTIONS.filter((f) => typeof addon?.[f] !== 'function');
    if (missing.length > 0) return { reason: `the native addon is out of date (no ${missing.join(', ')}): rebuild it` };
    return { addon };
  } catch (error) {
    return { reason: explainAddonError(error) };
  }
}
