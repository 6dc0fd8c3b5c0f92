// Builds the native-cpu addon (native/src, binding.gyp) with node-gyp: run by `npm install` / `npm ci` (the
// package's `install` script) and by hand (`node scripts/build-native.mjs`). A machine without a C++ compiler
// or a BLAS still installs: the script then exits 0 and records why in build/native-status.json, which the
// backend report (`dumbo doctor`) reads, with what to install. DUMBO_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const statusFile = path.join(root, 'build', 'native-status.json');

/**
 * What a failed build's output says is missing, in a few words.
 * @param {string} output
 */
export function failureReason(output) {
  if (/cblas\.h.*No such file|cblas\.h' file not found|Cannot open include file: 'cblas\.h'/.test(output)) {
    return 'no BLAS headers (cblas.h)';
  }
  if (/cannot find -lopenblas|openblas\.lib.*cannot open|library not found for -lopenblas/.test(output)) {
    return 'no OpenBLAS library to link';
  }
  const compiler = /(g\+\+|c\+\+|cc|make)\b[^\n]*(not found|No such file or directory)/;
  const compilerPath = /No such file or directory: '[^']*(g\+\+|c\+\+|cc|clang\+\+)'/;
  if (compiler.test(output) || compilerPath.test(output) || /No Xcode or CLT|xcrun: error/.test(output)) {
    return 'no C++ compiler or make';
  }
  if (/gyp ERR! find Python|Could not find any Python/.test(output)) return 'node-gyp found no Python';
  if (/Could not find any Visual Studio/.test(output)) return 'no Visual Studio C++ build tools';
  const error = output
    .split('\n')
    .find((/** @type {string} */ l) => /\berror\b/i.test(l) && !/gyp ERR! (stack|cwd|node|System|command)/.test(l));
  return error ? error.trim().slice(0, 200) : 'node-gyp failed';
}

/**
 * npm's own node-gyp: npm passes it to scripts as npm_config_node_gyp; else the copy inside npm, else on PATH.
 * @returns {string[]} the command and its first arguments
 */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency: npm's copy or PATH
  }
  const file = candidates.find((c) => c && existsSync(c));
  return file ? [process.execPath, file] : ['node-gyp'];
}

/** @param {{ ok: boolean, reason?: string }} status */
function record(status) {
  mkdirSync(path.dirname(statusFile), { recursive: true });
  writeFileSync(
    statusFile,
    JSON.stringify({ ...status, node: process.version, date: new Date().toISOString() }) + '\n',
  );
}

export function buildNative() {
  if (process.env.DUMBO_SKIP_NATIVE === '1') {
    record({ ok: false, reason: 'skipped (DUMBO_SKIP_NATIVE=1)' });
    return false;
  }
  const [cmd = 'node-gyp', ...pre] = nodeGyp();
  const args = [...pre, 'rebuild'];
  // Node's headers where Node was installed with them (Linux packages, the official tarballs): no download.
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' });
  const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error?.message ?? ''}`;
  if (r.status === 0 && existsSync(path.join(root, 'build', 'Release', 'dumbo_native.node'))) {
    record({ ok: true });
    process.stderr.write('dumbo: built the native-cpu addon (build/Release/dumbo_native.node)\n');
    return true;
  }
  const reason = failureReason(output);
  record({ ok: false, reason });
  process.stderr.write(
    `dumbo: the native-cpu addon did not build (${reason}); training falls back to the pure-JS cpu backend. ` +
      'To build it, install a C++ compiler and a BLAS (Debian/Ubuntu: apt-get install build-essential ' +
      'libopenblas-dev; macOS: xcode-select --install; Windows: Visual Studio Build Tools and OpenBLAS in ' +
      'OPENBLAS_DIR), then run `node scripts/build-native.mjs`.\n',
  );
  return false;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildNative();
  process.exit(0);
}
