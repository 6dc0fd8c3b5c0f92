/**
 * The WebGPU probe as a process of its own (see probeWebGPU in webgpu.ts): finds the adapter for the options
 * given as JSON in argv[2] and prints the probe (adapter report, or why there is none) as one JSON line.
 * Dawn's own messages go to this process's stderr, which its parent does not show. It loads Dawn and
 * nothing else: no tfjs, none of core.
 */
import type { WebGPUOptions } from './webgpu-adapter.js';
import { probeHere } from './webgpu-dawn.js';

const options = JSON.parse(process.argv[2] ?? '{}') as WebGPUOptions;
const probe = await probeHere(options);
process.stdout.write(JSON.stringify(probe) + '\n');
process.exit(0);
