#!/usr/bin/env node
// `npm start`: builds the desktop app and opens it (electron-vite preview, which builds out/ first); `npm start
// -- --dev` runs the dev server with hot reload instead. Other arguments go to electron-vite. The services,
// run host and worker that main loads and forks are the Node build in dist/ (scripts/build.mjs), rebuilt here
// when a source file is newer.
//
// The Electron binary is an optional dependency whose install script downloads it, so it is often absent
// (CI, machines without internet, installs without scripts). Then we say so, say how to get it, and point to
// `npx dumbo serve`, which serves the same UI to a browser.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, isStale } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The path of the Electron binary, or undefined when the package or its downloaded binary is missing. */
function electronBinary() {
  try {
    // The `electron` package exports the path of its binary (and throws if the download never happened).
    const binary = /** @type {unknown} */ (require(require.resolve('electron', { paths: [root] })));
    return typeof binary === 'string' && existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

async function main() {
  if (!electronBinary()) {
    console.error(
      [
        'Cannot start the desktop app: the Electron binary is not installed.',
        '',
        'Electron is an optional dependency, and its install script downloads the binary. To get it, on a',
        'machine with internet access and with install scripts allowed, run:',
        '',
        '    npm install electron',
        '',
        'Without Electron, `npx dumbo serve` serves the same UI to your browser.',
      ].join('\n'),
    );
    process.exit(1);
  }
  if (isStale()) {
    console.error('Building dist/ (the services, run host and worker)…');
    await build();
  }
  const args = process.argv.slice(2);
  const dev = args.includes('--dev');
  const rest = args.filter((arg) => arg !== '--dev');
  // package.json's "main" is the SDK, so name the app's entry explicitly.
  const command = [dev ? 'dev' : 'preview', '--entry', 'out/main/index.js', ...rest];
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'electron-vite.mjs'), ...command], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.error) throw result.error;
  process.exit(result.status ?? 1);
}

await main();
