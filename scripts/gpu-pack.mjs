// `npm run bench:gpu-pack [-- --out DIR]`: the benchmark as a self-contained folder for a bare GPU machine
// (no node_modules, no network): bench.mjs (the engine, tfjs and its WebGPU backend in one esbuild bundle),
// Dawn's linux-x64 dawn.node (gzipped; run.sh unpacks it), the PyTorch reference script, and run.sh, which
// runs the WebGPU rows (and PyTorch on CUDA where the machine has it) and writes the results under $OUT.
// Take it along with ../shared/tools/gpu-carry.sh's .gpu-carry (Node and the Vulkan loader); see
// docs/performance.md.
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { build as buildDist, isStale } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--out');
const out = path.resolve((at >= 0 && process.argv[at + 1]) || path.join(root, '.gpu-pack'));
const platform = 'linux-x64';

if (isStale()) await buildDist(); // dist/vendor/tfjs-gradients.mjs
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'scripts', 'gpu-pack', 'entry.mjs')],
  outfile: path.join(out, 'bench.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // tfjs declares itself free of side effects; its gradient and kernel registrations are side effects.
  ignoreAnnotations: true,
  alias: { webgpu: path.join(root, 'scripts', 'gpu-pack', 'webgpu-shim.mjs') },
  // CommonJS inside an ES module bundle still calls require() for Node's own modules.
  banner: {
    js: "import { createRequire as __dumboRequire } from 'node:module'; const require = __dumboRequire(import.meta.url);",
  },
  // Reached only by plugin loading and tokenizers, never by the benchmark.
  external: ['esbuild', '@huggingface/tokenizers', 'nodejs-polars'],
  logLevel: 'warning',
});
const dawn = path.join(root, 'node_modules', 'webgpu', 'dist', platform, 'dawn.node');
writeFileSync(path.join(out, 'dawn.node.gz'), gzipSync(readFileSync(dawn), { level: 9 }));
copyFileSync(path.join(root, 'src', 'bench', 'torch_bench.py'), path.join(out, 'torch_bench.py'));
writeFileSync(
  path.join(out, 'run.sh'),
  `#!/usr/bin/env bash
# On the GPU machine, from the checkout root (after: source .gpu-carry/env.sh):
#   bash ${path.relative(root, out) || '.'}/run.sh [more bench arguments]
# Runs the WebGPU benchmark (the full shapes, GPT-2 124M included) beside PyTorch on CUDA where this machine
# has it; writes bench-webgpu.json and bench-webgpu.log under $OUT (or results/ beside this script).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/dawn.node" ] || gunzip -c "$here/dawn.node.gz" > "$here/dawn.node"
out=\${OUT:-$here/results}
mkdir -p "$out"
node --version
node "$here/bench.mjs" --backend webgpu --json "$out/bench-webgpu.json" "$@" 2>&1 | tee "$out/bench-webgpu.log"
`,
);
chmodSync(path.join(out, 'run.sh'), 0o755);
const size = ['bench.mjs', 'dawn.node.gz', 'torch_bench.py', 'run.sh']
  .map((f) => statSync(path.join(out, f)).size)
  .reduce((a, b) => a + b, 0);
process.stdout.write(
  `${out}: ${(size / 2 ** 20).toFixed(1)} MiB (bench.mjs, dawn.node.gz for ${platform}, torch_bench.py, run.sh)\n`,
);
