import { describe, expect, it } from 'vitest';
import { explainNativeLoadError, formatBackendReport, initBackend } from '../../src/engine/backend.js';

const notFound = (pkg: string) => Object.assign(new Error(`Cannot find module '${pkg}'`), { code: 'MODULE_NOT_FOUND' });

describe('backend choice', () => {
  it('auto falls back to the pure-JS cpu backend and says why the better ones were not used', async () => {
    const report = await initBackend('auto', {
      loadNative: (pkg) => {
        throw notFound(pkg);
      },
    });
    expect(report.name).toBe('cpu');
    expect(report.why).toBe(
      'the better ones cannot run: @tensorflow/tfjs-node-gpu is not installed (npm install @tensorflow/tfjs-node-gpu); ' +
        '@tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node)',
    );
    const lines = formatBackendReport(report);
    expect(lines[0]).toMatch(/^backend: cpu \(tfjs 4\.22\.0\) — the better ones cannot run/);
    expect(lines.some((l) => l.includes('install @tensorflow/tfjs-node'))).toBe(true);
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
    await expect(
      initBackend('native', {
        loadNative: (pkg) => {
          throw notFound(pkg);
        },
      }),
    ).rejects.toThrow(
      "backend 'native' cannot run: @tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node)",
    );
  });
});
