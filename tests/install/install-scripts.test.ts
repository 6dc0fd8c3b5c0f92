// What an install of this repository runs, under npm 10 (Node 20's own npm, which ignores package.json's
// `allowScripts` and runs every dependency's install script) and npm 11 (≥ 11.19 runs only the allowed ones):
// no dependency downloads anything at install (onnxruntime-node, which @huggingface/transformers pulled in,
// fetched CUDA files: the engine now tokenizes with @huggingface/tokenizers alone), every install script is
// reviewed, and npm prints no warning about our configuration on every command (a project .npmrc key npm 11
// does not know did). npm 10 comes from the npm registry (or npm's cache); without either its checks are
// skipped, saying so.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; optional?: boolean; dev?: boolean }>;
};
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  allowScripts: Record<string, boolean>;
};
const UNKNOWN_CONFIG = /Unknown (project|user|global|builtin|env) config/;

/** Each dependency with an install script, and what it does (npm 10 runs them all). */
const REVIEWED: Record<string, string> = {
  esbuild: 'checks its platform binary package (allowed)',
  webgpu: "clears macOS's quarantine flag on the bundled dawn.node (allowed)",
  electron: 'downloads the Electron binary (allowed; optional)',
  '@tensorflow/tfjs-node': 'downloads libtensorflow (allowed; optional)',
  '@tensorflow/tfjs-node-gpu': 'downloads libtensorflow with CUDA (allowed; optional)',
  'core-js': 'prints an advert (denied)',
  'electron-winstaller': 'picks a 7-Zip binary for Squirrel.Windows installers, which we do not build (denied)',
};

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

/** npm-cli.js of npm `major`: this machine's npm when it is that version, else npm@major from the registry. */
async function npmCliOf(major: number): Promise<{ cli?: string; version?: string; why?: string }> {
  const run = promisify(execFile);
  const onPath = await run('npm', ['--version'], { env: cleanEnv(), cwd: tempDir() }).then(
    (r) => r.stdout.trim(),
    () => undefined,
  );
  if (!onPath) return { why: 'no npm on PATH' };
  if (onPath.startsWith(`${major}.`)) {
    const prefix = (await run('npm', ['prefix', '-g'], { env: cleanEnv(), cwd: tempDir() })).stdout.trim();
    for (const lib of ['lib/node_modules', 'node_modules']) {
      const cli = path.join(prefix, lib, 'npm', 'bin', 'npm-cli.js');
      if (existsSync(cli)) return { cli, version: onPath };
    }
  }
  const prefix = tempDir('dumbo-npm-');
  const args = ['install', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--fetch-retries', '0'];
  const ok = await run('npm', [...args, '--fetch-timeout', '20000', `npm@${major}`], {
    env: cleanEnv(),
    cwd: prefix,
    timeout: 120_000,
  }).then(
    () => true,
    () => false,
  );
  const cli = path.join(prefix, 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (!ok || !existsSync(cli)) return { why: `npm@${major} could not be installed (no registry or cache)` };
  const version = (
    JSON.parse(readFileSync(path.join(prefix, 'node_modules', 'npm', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return { cli, version };
}

/** `node npm-cli.js ...args` in the repository. */
function npm(cli: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: repoRoot, env: cleanEnv(), timeout: 120_000 },
      (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('install scripts', () => {
  const withScripts = Object.keys(lock.packages)
    .filter((k) => k !== '' && lock.packages[k]!.hasInstallScript) // '': this package (its native-cpu build)
    .map((k) => k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length));

  it('no dependency downloads at install time what the app does not need: onnxruntime-node is not in the tree', () => {
    expect(Object.keys(lock.packages).filter((k) => /node_modules\/onnxruntime-(node|web)$/.test(k))).toEqual([]);
    expect(existsSync(path.join(repoRoot, '.npmrc'))).toBe(false); // no setting needed to stop one
  });

  it('every dependency with an install script is reviewed here and allowed or denied in allowScripts (npm 11)', () => {
    for (const name of withScripts) {
      expect(REVIEWED[name], `${name} has an install script nobody reviewed`).toBeDefined();
      expect(typeof pkg.allowScripts[name], `${name} is neither allowed nor denied in allowScripts`).toBe('boolean');
    }
  });
});

describe.each([10, 11])('npm %i', (major) => {
  it('reads this repository without warnings, and finds no onnxruntime-node in its tree', async () => {
    const npmCli = await npmCliOf(major);
    if (!npmCli.cli) {
      console.warn(`install-scripts: skipping npm ${major}: ${npmCli.why}`);
      return;
    }
    const r = await npm(npmCli.cli, ['ls', 'onnxruntime-node', '--package-lock-only', '--all']);
    expect(r.stdout).toContain('(empty)');
    expect(r.stderr).not.toMatch(UNKNOWN_CONFIG);
    const version = await npm(npmCli.cli, ['exec', '--', 'dumbo', '--version']);
    expect(version.stdout.trim()).toBe(
      `dumbo ${JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version}`,
    );
    expect(version.stderr).not.toMatch(UNKNOWN_CONFIG);
  }, 240_000);
});
