import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backendLabel,
  explainNativeLoadError,
  formatBackendReport,
  initBackend,
  type AdapterReport,
  type InitOptions,
} from '../../src/engine/backend.js';
import { explainNoAdapter } from '../../src/engine/webgpu.js';

const notFound = (pkg: string) => Object.assign(new Error(`Cannot find module '${pkg}'`), { code: 'MODULE_NOT_FOUND' });
const noNative: InitOptions['loadNative'] = (pkg) => {
  throw notFound(pkg);
};
const noAddon: InitOptions['loadNativeCpu'] = () => {
  throw new Error('No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=glibc node=20');
};

const limits = {
  maxStorageBufferBindingSize: 2 ** 31,
  maxBufferSize: 2 ** 32,
  maxComputeWorkgroupStorageSize: 49152,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxStorageBuffersPerShaderStage: 16,
};
const h200: AdapterReport = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: 'nvidia-h200',
  description: 'NVIDIA H200',
  hardware: true,
  limits,
  features: ['subgroups', 'timestamp-query'],
};
const llvmpipe: AdapterReport = {
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe',
  description: 'llvmpipe: Mesa 25.0.7',
  hardware: false,
  limits: { ...limits, maxStorageBufferBindingSize: 2 ** 27 },
  features: [],
};

/** Dawn replaced: `adapter` is what the probe finds; register puts a cpu backend under the name `webgpu`. */
function driver(adapter: AdapterReport | undefined, reason?: string): InitOptions['webgpuDriver'] {
  return {
    probe: async () => (adapter ? { adapter } : { reason }),
    register: async () => {
      if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
      tf.registerBackend('webgpu', () => new MathBackendCPU());
    },
  };
}

afterEach(async () => {
  await initBackend('cpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
});

describe('backend choice', () => {
  it('auto falls back to the pure-JS cpu backend and says why the better ones were not used', async () => {
    const report = await initBackend('auto', {
      loadNative: noNative,
      loadNativeCpu: noAddon,
      webgpuDriver: driver(undefined, 'no WebGPU adapter: no Vulkan driver is installed'),
    });
    expect(report.name).toBe('cpu');
    expect(report.why).toBe(
      'the better ones cannot run: @tensorflow/tfjs-node-gpu is not installed (npm install @tensorflow/tfjs-node-gpu); ' +
        'no WebGPU adapter: no Vulkan driver is installed; ' +
        '@tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node); ' +
        'the native addon is not built: install a C++ compiler and OpenBLAS (Debian/Ubuntu: apt-get install ' +
        'build-essential libopenblas-dev), then run `node scripts/build-native.mjs`',
    );
    const lines = formatBackendReport(report);
    expect(lines[0]).toMatch(/^backend: cpu \(tfjs 4\.22\.0\) — the better ones cannot run/);
    expect(lines.some((l) => l.includes('install @tensorflow/tfjs-node'))).toBe(true);
    expect(lines.some((l) => l.includes('Vulkan driver'))).toBe(true);
  });

  it('auto picks WebGPU on a hardware adapter before tfjs-node and cpu, and names the adapter', async () => {
    const report = await initBackend('auto', { loadNative: noNative, webgpuDriver: driver(h200) });
    expect(report.name).toBe('webgpu');
    expect(report.adapter).toEqual(h200);
    expect(report.why).toContain(
      'adapter nvidia nvidia-h200 (hopper) "NVIDIA H200", hardware, maxStorageBufferBindingSize 2 GiB, maxBufferSize 4 GiB',
    );
    expect(report.candidates.find((c) => c.name === 'native')?.reason).toBe('WebGPU is used instead');
    expect(backendLabel(report)).toBe('webgpu · nvidia nvidia-h200');
    expect(formatBackendReport(report)).toContain(
      '           adapter: nvidia nvidia-h200 (hopper) "NVIDIA H200", hardware, maxStorageBufferBindingSize 2 GiB, maxBufferSize 4 GiB',
    );
  });

  it('auto never picks a software adapter: it reports it and runs on cpu', async () => {
    const report = await initBackend('auto', {
      loadNative: noNative,
      loadNativeCpu: noAddon,
      webgpuDriver: driver(llvmpipe),
    });
    expect(report.name).toBe('cpu');
    expect(report.adapter?.device).toBe('llvmpipe');
    expect(report.why).toContain('only a software adapter is present (mesa llvmpipe), slower than the cpu backend');
    expect(formatBackendReport(report).join('\n')).toContain(
      'adapter: mesa llvmpipe "llvmpipe: Mesa 25.0.7", software',
    );
  });

  it('backend: webgpu takes a software adapter only with allow_software, and says how', async () => {
    await expect(initBackend('webgpu', { webgpuDriver: driver(llvmpipe) })).rejects.toThrow(
      "backend 'webgpu' cannot run: only a software adapter is present (mesa llvmpipe), slower than the cpu backend; " +
        'to use it anyway (tests), add webgpu: {allow_software: true} to the config (--allow-software on the command line)',
    );
    const report = await initBackend('webgpu', {
      webgpu: { allowSoftware: true },
      webgpuDriver: driver(llvmpipe),
    });
    expect(report.name).toBe('webgpu');
    expect(report.why).toBe(
      'asked for with backend: webgpu; adapter mesa llvmpipe "llvmpipe: Mesa 25.0.7", software, ' +
        'maxStorageBufferBindingSize 128 MiB, maxBufferSize 4 GiB',
    );
    expect(backendLabel(report)).toBe('webgpu · mesa llvmpipe (software)');
  });

  it('an unknown backend name is an error listing the choices', async () => {
    await expect(initBackend('cuda' as never)).rejects.toThrow(
      "backend: expected one of auto, gpu, webgpu, native, native-cpu, cpu, wasm, got 'cuda'",
    );
  });

  it('names the missing CUDA library when tfjs-node-gpu is installed but cannot load', () => {
    const err = new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
    expect(explainNativeLoadError('@tensorflow/tfjs-node-gpu', err)).toBe(
      '@tensorflow/tfjs-node-gpu is installed but cannot load: libcudart.so.11.0 is missing; tfjs-node-gpu 4.x needs the CUDA 11 runtime (e.g. libcudart.so.11.0) on the library path',
    );
    expect(
      explainNativeLoadError('@tensorflow/tfjs-node-gpu', new Error('libcudnn.so.8: cannot open shared object file')),
    ).toBe(
      '@tensorflow/tfjs-node-gpu is installed but cannot load: libcudnn.so.8 is missing; tfjs-node-gpu 4.x needs cuDNN 8 (libcudnn.so.8)',
    );
    expect(
      explainNativeLoadError('@tensorflow/tfjs-node', new Error('libtensorflow.so.2: cannot open shared object file')),
    ).toMatch(
      /libtensorflow\.so\.2 is missing; reinstall @tensorflow\/tfjs-node so that its install script downloads libtensorflow$/,
    );
  });

  it('a named backend that cannot run is an error saying why', async () => {
    await expect(initBackend('native', { loadNative: noNative })).rejects.toThrow(
      "backend 'native' cannot run: @tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node)",
    );
  });
});

describe('why there is no WebGPU adapter', () => {
  it('on Linux names the missing Vulkan loader, the missing driver, or the driver that offered nothing', () => {
    expect(explainNoAdapter('linux', { icds: [] })).toMatch(
      /^no WebGPU adapter: the Vulkan loader libvulkan\.so\.1 is not installed \(Debian\/Ubuntu: apt install libvulkan1; .*NVIDIA: .*AMD or Intel: Mesa/,
    );
    expect(explainNoAdapter('linux', { loader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', icds: [] })).toMatch(
      /^no WebGPU adapter: no Vulkan driver is installed \(no ICD file in \/usr\/share\/vulkan\/icd\.d or \/etc\/vulkan\/icd\.d\) — NVIDIA: .*mesa-vulkan-drivers/,
    );
    expect(
      explainNoAdapter('linux', {
        loader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
        icds: ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'],
      }),
    ).toMatch(/^no WebGPU adapter: the Vulkan driver\(s\) lvp_icd\.x86_64\.json offered no device Dawn can use/);
    expect(explainNoAdapter('darwin')).toBe('no WebGPU adapter: Metal found no GPU');
  });
});
