// What the browser end-to-end tests share: `dumbo serve` started on a test config in a folder of its own
// (settings in the test's own XDG_CONFIG_HOME), Chromium launched headless through playwright-core, calls to
// the served API with the session token, screenshots in test-results/e2e/, and polling with a useful failure.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { dumboBin, repoRoot, tempDir } from '../helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
/** Says, once per test file, that the file's browser tests are skipped and why. */
export function warnIfNoChromium(testFile: string): void {
  if (!haveChromium) {
    console.warn(`${testFile}: skipped, ${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`);
  }
}

export const quickstart = path.join(repoRoot, 'resources', 'quickstart');
export const rendererIndex = path.join(repoRoot, 'out', 'renderer', 'index.html');
export const shots = path.join(repoRoot, 'test-results', 'e2e');

/** The quickstart, cut down to seconds: 1 layer of width 32, 100 rows, batch 4. */
export function fastConfig(name: string, maxSteps: number, extraPlugins: string[] = []): string {
  return `name: ${name}
seed: 7
plugins:
  - transformers
  - polars
  - jinja_formatter
  - transformers_trainer
  - file_logger
${extraPlugins.map((p) => `  - ${p}\n`).join('')}model:
  base_model: ${path.join(quickstart, 'model')}
  init: from_config
  config:
    n_layer: 1
    n_embd: 32
    n_positions: 32
dataset:
  path: ${path.join(quickstart, 'data', 'stories.jsonl')}
  limit: 100
formatter:
  max_length: 32
  packing: true
training:
  learning_rate: 0.01
  warmup_steps: 2
  batch_size: 4
  max_steps: ${maxSteps}
  max_length: 32
  sample_at_end: false
`;
}

export interface Served {
  url: string;
  origin: string;
  /** The session token (the printed URL's fragment). */
  token: string;
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  stop(): Promise<void>;
}

/**
 * Starts `dumbo serve CONFIG --port 0` in `cwd` and reads the URL it prints on stdout. Its settings live in
 * `home` (default: a new folder): give two servers the same one to test what survives a restart.
 */
export async function serve(
  config: string,
  cwd: string,
  options: { home?: string; env?: Record<string, string> } = {},
): Promise<Served> {
  const home = options.home ?? tempDir('dumbo-e2e-home-');
  const child = spawn(process.execPath, [dumboBin, 'serve', config, '--port', '0'], {
    cwd,
    // Settings (recent configs, plugin folder) in a folder of this test, not the user's.
    env: {
      ...process.env,
      XDG_CONFIG_HOME: path.join(home, 'config'),
      DUMBO_PLUGIN_PATH: path.join(home, 'no-user-plugins'),
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumbo serve printed no URL in 30 s:\n${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /^(http:\/\/127\.0\.0\.1:\d+\/app\/[0-9a-f]+\/\S*#token=[0-9a-f]{64})$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dumbo serve exited with ${code}:\n${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    url,
    origin: new URL(url).origin,
    token: new URLSearchParams(new URL(url).hash.slice(1)).get('token')!,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** A call to the served API as a script makes it (`Authorization: Bearer <token>`). */
export async function apiCall<T>(served: Served, name: string, args: unknown[] = []): Promise<T> {
  const response = await fetch(`${served.origin}/api/call/${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${served.token}` },
    body: JSON.stringify({ args }),
  });
  const reply = (await response.json()) as { ok: boolean; result?: T; error?: string };
  if (!reply.ok) throw new Error(`${name}: ${reply.error}`);
  return reply.result as T;
}

/** A fresh working folder with the config; returns the config's absolute path. */
export function workspace(
  name: string,
  maxSteps: number,
  extraPlugins: string[] = [],
): { cwd: string; config: string } {
  const cwd = tempDir('dumbo-e2e-');
  const config = path.join(cwd, `${name}.yaml`);
  writeFileSync(config, fastConfig(name, maxSteps, extraPlugins));
  return { cwd, config };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** Clicks the view switch with this test id, where the UI has views (the history may share the screen). */
export async function showView(page: Page, testId: string): Promise<void> {
  const button = page.getByTestId(testId);
  if ((await button.count()) > 0) await button.click();
}

/** Waits until `read()` satisfies `ok`, polling; fails with the last value and the server's stderr. */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  served: Served,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: still ${JSON.stringify(last)} after ${timeoutMs / 1000} s\n--- dumbo serve stderr ---\n${served
          .stderr()
          .slice(-4000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Chromium as the tests drive it: headless, no GPU, no sandbox (root in CI), no background traffic. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(rendererIndex)) {
    throw new Error(`${rendererIndex} is missing: build the UI with \`npm run build:app\` (npm ci does it)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * A suite's browser and servers: Chromium launched before the suite's tests, closed after them with every
 * server the tests pushed to `servers`.
 */
export function browserSession(): { browser: Browser; servers: Served[] } {
  const session = { browser: undefined as unknown as Browser, servers: [] as Served[] };
  beforeAll(async () => {
    session.browser = await launchChromium();
  });
  afterAll(async () => {
    await session.browser?.close();
    await Promise.all(session.servers.map((s) => s.stop()));
  });
  return session;
}

/** The trimmed text of the first element with this test id, or '' while there is none. */
export async function textOf(page: Page, testId: string): Promise<string> {
  const el = page.getByTestId(testId);
  return (await el.count()) > 0 ? (await el.first().innerText()).trim() : '';
}

/** Waits until the run panel's status says the run ended; returns that status. */
export async function runEnds(page: Page, served: Served, timeoutMs = 90_000): Promise<string> {
  const ended = ['completed', 'failed', 'crashed', 'stopped'];
  return until(
    'the run ends',
    () => textOf(page, 'run-status'),
    (s) => ended.includes(s),
    served,
    timeoutMs,
  );
}
