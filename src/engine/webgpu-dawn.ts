/**
 * Dawn in this process: loads the `webgpu` package on first use and finds the adapter a choice of options
 * names, without creating a device. Part of webgpu.ts (see there); the probe process (webgpu-probe.ts)
 * runs this alone, so it imports neither tfjs nor the rest of Dumbo.
 */

import {
  describeAdapter,
  type AdapterReport,
  type GPUAdapterLike,
  type GPULike,
  type WebGPUOptions,
} from './webgpu-adapter.js';
import { explainNoAdapter } from './webgpu-no-adapter.js';

export interface WebGPUProbe {
  adapter?: AdapterReport;
  /** Why WebGPU cannot be used (no package, no adapter, a software adapter not allowed). */
  reason?: string;
}

interface DawnModule {
  create(flags: string[]): GPULike;
  globals: Record<string, unknown>;
}

/** An adapter found (or why none was), with Dawn's objects for registering the backend on it. */
export interface Found {
  probe: WebGPUProbe;
  adapter?: GPUAdapterLike;
  gpu?: GPULike;
}

let dawn: DawnModule | undefined;
const probes = new Map<string, Promise<Found>>();

export async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  const mod = (await import('webgpu')) as unknown as DawnModule;
  dawn = mod;
  return mod;
}

/** The part of the options that chooses the adapter: one probe (and one registration) per key. */
export function optionsKey(o: WebGPUOptions): string {
  return JSON.stringify([o.adapter ?? '', o.lowPower === true]);
}

/** Probes in this process (the probe process's own work; tests that need the adapter itself). */
export async function probeHere(options: WebGPUOptions = {}): Promise<WebGPUProbe> {
  return (await findAdapter(options)).probe;
}

/** The adapter `options` choose, found once per process per choice. */
export function findAdapter(options: WebGPUOptions): Promise<Found> {
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

export function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
