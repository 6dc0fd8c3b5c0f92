#!/usr/bin/env node
// Runs electron-vite with the given arguments (`node scripts/electron-vite.mjs build`).
//
// electron-vite reads Electron's major version from node_modules/electron to pick the Node and Chrome
// targets and the output format. Electron is an optional dependency (its install downloads a binary), so
// where it is absent we take the major version from package.json's optionalDependencies and pass it as
// ELECTRON_MAJOR_VER. Building needs only the version; running the app needs the binary (see start.mjs).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The major version of `electron` as package.json pins it ("44.11.5", "^44.0.0", "~44.1" → "44"). */
export function electronMajorFromPackageJson(pkgPath = join(root, 'package.json')) {
  /** @type {{dependencies?: Record<string, string>, devDependencies?: Record<string, string>, optionalDependencies?: Record<string, string>}} */
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  const range = pkg.optionalDependencies?.electron ?? pkg.devDependencies?.electron ?? pkg.dependencies?.electron;
  const major = range?.match(/(\d+)(?:\.|$)/)?.[1];
  if (!major) {
    throw new Error(`${pkgPath}: cannot read the major version of "electron" (found ${JSON.stringify(range)})`);
  }
  return major;
}

/** Whether the `electron` package is installed (where electron-vite itself would look for it). */
function electronInstalled() {
  try {
    require.resolve('electron/package.json', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

function main() {
  const env = { ...process.env };
  if (!env['ELECTRON_MAJOR_VER'] && !electronInstalled()) {
    env['ELECTRON_MAJOR_VER'] = electronMajorFromPackageJson();
  }
  // The package's exports hide bin/, so find the CLI next to its package.json.
  const cli = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js');
  const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
  if (result.error) throw result.error;
  process.exit(result.status ?? 1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
