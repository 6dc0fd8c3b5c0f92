/**
 * What a WebGPU adapter is, as Dumbo reports it: the `webgpu:` options that choose one, the minimal shapes
 * of Dawn's objects this engine uses, the adapter's report (vendor, architecture, device, description,
 * hardware or software, the limits that decide what fits) and its one-line form. No Dawn, no tfjs: part of
 * webgpu.ts (see there), imported by its other modules.
 */

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
export interface GPUAdapterLike {
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

export interface GPUDeviceLike {
  limits: Record<string, number>;
  lost: Promise<{ reason: string; message: string }>;
  addEventListener(type: 'uncapturederror', listener: (event: { error: { message: string } }) => void): void;
  destroy(): void;
}

export interface GPULike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GPUAdapterLike | null>;
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

/** The limits the report shows (and the device asks for, as large as the adapter allows). */
export const LIMIT_NAMES: (keyof AdapterLimits)[] = [
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
