// Helpers shared by the tests: temporary folders outside the repository, plugin folders written in them,
// and running the real `dumbo` command.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const dumboBin = path.join(repoRoot, 'bin', 'dumbo.js');

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh folder under the OS temp dir (outside the repository), removed after the test file. */
export function tempDir(prefix = 'dumbo-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Writes files (relative path -> content) under `dir` and returns `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/dumbo.js ...args` in `cwd`; `onSpawn` may signal the child. */
export function runDumbo(
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [dumboBin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: {
        ...process.env,
        DUMBO_PLUGIN_PATH: path.join(os.tmpdir(), 'dumbo-no-user-plugins'),
        // `dumbo run` records its run folders in the settings: the tests' own, never the user's.
        XDG_CONFIG_HOME: path.join(os.tmpdir(), 'dumbo-test-config'),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The last non-empty line of a text. */
export function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}
