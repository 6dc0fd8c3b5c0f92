// Builds dist/ from src/ for Node: core (the SDK), engine, host and cli, one output file per source file
// (no bundling, so import.meta.url keeps the layout the loader and the host rely on). esbuild only
// transpiles; `npm run typecheck` is what checks types. Run by `npm ci` (prepare) and `npm run build`;
// bin/dumbo.js calls build() itself when a source file is newer than the last build.
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_DIRS = ['core', 'engine', 'host', 'cli', 'shared', 'bench', 'services'];
export const STAMP = path.join(root, 'dist', '.build-stamp');

function walk(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) walk(abs, out);
    else out.push(abs);
  }
  return out;
}

export function sourceFiles() {
  return SOURCE_DIRS.flatMap((d) => walk(path.join(root, 'src', d)));
}

/** True when dist/ is missing or older than some source file. */
export function isStale() {
  let built;
  try {
    built = statSync(STAMP).mtimeMs;
  } catch {
    return true;
  }
  return sourceFiles().some((f) => statSync(f).mtimeMs > built);
}

export async function build() {
  const { build: esbuild } = await import('esbuild');
  const files = sourceFiles();
  const ts = files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'));
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  await esbuild({
    entryPoints: ts,
    outdir: path.join(root, 'dist'),
    outbase: path.join(root, 'src'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  for (const f of files.filter((f) => /\.(mjs|js|json)$/.test(f))) {
    const dest = path.join(root, 'dist', path.relative(path.join(root, 'src'), f));
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(f, dest);
  }
  // tfjs-core's Node bundle has no gradients (the @tensorflow/tfjs umbrella adds them); its ESM sources
  // cannot be imported by Node directly (extensionless imports), so they are bundled once here. The
  // gradients register in tfjs's global kernel registry and run on its global engine.
  await esbuild({
    entryPoints: [path.join(root, 'node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js')],
    outfile: path.join(root, 'dist', 'vendor', 'tfjs-gradients.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  writeFileSync(STAMP, new Date().toISOString() + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await build();
}
