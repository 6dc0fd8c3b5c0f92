/**
 * Why `requestAdapter()` found no WebGPU adapter, with what to install: on Linux, what the file system says
 * about Vulkan (the loader, the drivers' ICD files). Part of webgpu.ts (see there).
 */

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

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
