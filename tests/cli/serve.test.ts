// `dumbo serve`: the HTTP + WebSocket door to the services. The token (never a cookie), the secret app path of
// the static files, Host and Origin checks, the call API, events of a run started over HTTP, and the command
// itself (URL on stdout; one Ctrl-C or SIGTERM stops the runs gracefully, a second kills them).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import type { AppEvent } from '../../src/shared/api.js';
import { deafTrainerJs, toyTrainerJs } from '../fixtures/plugins.js';
import { dumboBin, tempDir, writeFiles } from '../helpers.js';
import { harness } from '../services/harness.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Opens the events socket; resolves when open (with the protocol the server chose), or with the refusing status. */
function socket(url: string, headers: Record<string, string>, origin?: string, protocols?: string[]) {
  return new Promise<{ ws?: WebSocket; status?: number; protocol?: string }>((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, ...(origin ? { origin } : {}) });
    ws.on('open', () => resolve({ ws, protocol: ws.protocol }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.on('error', (e) => reject(e));
  });
}

describe('dumbo serve (in process)', () => {
  const h = harness({ stopGraceMs: 2000 });
  const renderer = writeFiles(tempDir(), {
    'index.html': '<!doctype html><title>Dumbo</title><script type="module" src="./assets/app.js"></script>',
    'assets/app.js': 'console.log(1)',
    'assets/app.css': 'body{}',
  });
  writeFiles(path.dirname(renderer), { 'secret.txt': 'outside the renderer' });
  let server: RunningServer;
  let base: string;
  let app: string;
  let auth: Record<string, string>;
  const config = path.join(h.cwd, 'toy.yaml');
  const post = (name: string, body: unknown, headers: Record<string, string> = auth) =>
    request(`${base}/api/call/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    writeFiles(h.cwd, {
      't/index.js': toyTrainerJs,
      'toy.yaml': 'name: toy\nplugins: [./t]\ntoy_trainer: {steps: 3}\n',
    });
    server = await startServer({ services: h.services, config, rendererDir: renderer });
    base = server.origin;
    app = `${base}${server.appPath}`;
    auth = { authorization: `Bearer ${server.token}` };
  });
  afterAll(async () => {
    await server?.close();
  });

  it('prints a loopback URL: the secret app path, the config to open, and a 64-hex-digit token in the fragment', () => {
    const url = new URL(server.url);
    expect(url.origin).toBe(`http://127.0.0.1:${server.port}`);
    expect(url.pathname).toMatch(/^\/app\/[0-9a-f]{64}\/$/);
    expect(url.pathname).toBe(server.appPath);
    expect(url.pathname).not.toContain(server.token);
    expect(url.searchParams.get('config')).toBe(config);
    expect(url.searchParams.get('token')).toBeNull();
    expect(url.hash).toBe(`#token=${server.token}`);
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 401 to every request without the token: page, static file, API and socket', async () => {
    expect((await request(`${base}/`)).status).toBe(401);
    expect((await request(`${base}/index.html`)).status).toBe(401);
    expect((await request(`${base}/assets/app.js`)).status).toBe(401);
    expect((await request(`${base}/app/${'0'.repeat(64)}/`)).status).toBe(401);
    expect((await request(`${base}/app/${'0'.repeat(64)}/assets/app.js`)).status).toBe(401);
    const call = await request(`${base}/api/call/version`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"args":[]}',
    });
    expect(call.status).toBe(401);
    expect(call.body).not.toContain('0.1');
    expect((await post('version', { args: [] }, { authorization: `Bearer ${'0'.repeat(64)}` })).status).toBe(401);
    const ws = `ws://127.0.0.1:${server.port}/api/events`;
    expect((await socket(ws, {})).status).toBe(401);
    expect((await socket(ws, {}, undefined, ['dumbo-events', `dumbo-token.${'0'.repeat(64)}`])).status).toBe(401);
  });

  it('the token is never a cookie: none is set, and a cookie (or the query) carrying it opens nothing', async () => {
    // The old way in: the token in the query, which used to set a cookie. Now it is no credential.
    const query = await request(`${base}/?token=${server.token}`);
    expect(query.status).toBe(401);
    for (const name of ['dumbo_token', `dumbo_token_${server.port}`]) {
      const cookie = `${name}=${server.token}`;
      expect((await request(`${base}/`, { headers: { cookie } })).status).toBe(401);
      expect((await post('version', { args: [] }, { cookie })).status).toBe(401);
      const ws = await socket(`ws://127.0.0.1:${server.port}/api/events`, { cookie });
      expect(ws.status).toBe(401);
    }
    const replies = [
      query,
      await request(server.url),
      await request(`${app}assets/app.js`),
      await post('version', { args: [] }),
    ];
    for (const r of replies) expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('serves the UI under the secret app path without a credential, with a strict CSP', async () => {
    const page = await request(server.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('<title>Dumbo</title>');
    const js = await request(`${app}assets/app.js`);
    expect([js.status, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect((await request(`${app}assets/app.css`)).headers['content-type']).toBe('text/css; charset=utf-8');
    // The app path without its slash is sent to the one with it (the page's assets are relative to it).
    const bare = await request(`${base}${server.appPath.slice(0, -1)}?config=x.yaml`);
    expect([bare.status, bare.headers.location]).toEqual([308, `${server.appPath}?config=x.yaml`]);
    // Only files are served there: the API is not.
    expect((await request(`${app}api/call/version`, { method: 'POST' })).status).toBe(405);
    // With the token, a path outside the app is still no page.
    expect((await request(`${base}/`, { headers: auth })).status).toBe(404);
  });

  it('no path leads out of the renderer folder', async () => {
    for (const p of ['../secret.txt', '%2e%2e/secret.txt', 'assets/%2e%2e/%2e%2e/secret.txt', '..%2fsecret.txt']) {
      const r = await request(`${app}${p}`);
      expect(r.status, p).not.toBe(200);
      expect(r.body).not.toContain('outside the renderer');
    }
    expect((await request(`${app}missing.js`)).status).toBe(404);
    // A client-side route gets the app.
    expect((await request(`${app}runs/abc`)).body).toContain('<title>Dumbo</title>');
  });

  it('rejects a foreign Host header (DNS rebinding) and a foreign Origin, even with the token', async () => {
    const host = await request(server.url, { headers: { host: `evil.example:${server.port}` } });
    expect(host.status).toBe(421);
    const call = await post('version', { args: [] }, { ...auth, origin: 'http://evil.example' });
    expect(call.status).toBe(403);
    const ws = `ws://127.0.0.1:${server.port}/api/events`;
    expect((await socket(ws, auth, 'http://evil.example')).status).toBe(403);
    expect((await socket(ws, { ...auth, host: `evil.example:${server.port}` })).status).toBe(421);
  });

  it('POST /api/call/<name>: results, errors, argument checks', async () => {
    const version = await post('version', { args: [] });
    expect(version.status).toBe(200);
    expect(JSON.parse(version.body)).toEqual({ ok: true, result: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect((await post('version', { args: [1] })).status).toBe(400);
    expect((await post('removePlugin', { args: ['../x'] })).status).toBe(400);
    expect((await post('nope', { args: [] })).status).toBe(404);
    expect((await post('__proto__', { args: [] })).status).toBe(404);
    expect((await request(`${base}/api/call/version`, { headers: auth })).status).toBe(405);
    const failed = await post('openConfig', { args: [path.join(h.cwd, 'missing.yaml')] });
    expect(failed.status).toBe(200);
    expect(JSON.parse(failed.body)).toEqual({ ok: false, error: expect.stringMatching(/no such file/) });
    const validated = await post('validateConfig', { args: ['plugins: [file_logger]\n', config] });
    expect(JSON.parse(validated.body)).toMatchObject({ ok: true, result: { valid: true } });
  });

  it('the events socket takes the token as its subprotocol (as a browser sends it) and answers with dumbo-events', async () => {
    const ws = `ws://127.0.0.1:${server.port}/api/events`;
    const opened = await socket(ws, {}, base, ['dumbo-events', `dumbo-token.${server.token}`]);
    expect(opened.protocol).toBe('dumbo-events');
    opened.ws!.close();
    // A script may send the Authorization header instead.
    const scripted = await socket(ws, auth, base);
    expect(scripted.ws).toBeDefined();
    scripted.ws!.close();
  });

  it('events of a run started over HTTP arrive over the WebSocket', async () => {
    const { ws } = await socket(`ws://127.0.0.1:${server.port}/api/events`, {}, base, [
      'dumbo-events',
      `dumbo-token.${server.token}`,
    ]);
    const events: AppEvent[] = [];
    const completed = new Promise<void>((resolve) =>
      ws!.on('message', (data: Buffer) => {
        const e = JSON.parse(data.toString()) as AppEvent;
        events.push(e);
        if (e.type === 'run-status' && e.run.status === 'completed') resolve();
      }),
    );
    const started = await post('startRun', { args: [config] });
    const { ok, result } = JSON.parse(started.body) as { ok: boolean; result: { id: string } };
    expect(ok).toBe(true);
    await completed;
    ws!.close();
    expect(events.filter((e) => e.type === 'run-status').map((e) => e.type === 'run-status' && e.run.status)).toEqual([
      'running',
      'completed',
    ]);
    const losses = events.flatMap((e) => (e.type === 'run-metrics' && e.runId === result.id ? e.points : []));
    expect(losses.filter((p) => p.name === 'loss').map((p) => p.step)).toEqual([1, 2, 3]);
  });

  it('503 with the build command when the UI is not built', async () => {
    const bare = await startServer({ services: h.services, rendererDir: tempDir() });
    try {
      const r = await request(bare.url);
      expect(r.status).toBe(503);
      expect(r.body).toContain('npm run build:app');
    } finally {
      await bare.close();
    }
  });
});

/**
 * A trainer whose steps block the event loop for 50 ms each, as real ones do, for as long as it is not asked to
 * stop; when `ctx.stopRequested()` turns true it writes `stop requested at step N` to `stop_record` and ends
 * the run as stopped (where a real trainer would checkpoint).
 */
const stopAwareTrainerJs = `import { appendFileSync } from 'node:fs';
import { BasePlugin, MetricEvent, Ok } from 'dumbo';
export class SlowTrainer extends BasePlugin {
  static configKey = 'slow_trainer';
  static provides = ['trainer'];
  hooks() {
    return {
      trainer: async (ctx) => {
        let step = 0;
        for (;;) {
          if (ctx.stopRequested()) {
            appendFileSync(ctx.config.stop_record, 'stop requested at step ' + step + '\\n');
            return Ok({ steps: step, finalLoss: 1, stopped: true });
          }
          const until = Date.now() + 50;
          while (Date.now() < until) { /* a step that blocks the event loop */ }
          step += 1;
          await ctx.reportStep({ step }, [new MetricEvent('loss', 1, step), new MetricEvent('step_time_s', 0.05, step)]);
        }
      },
    };
  }
}
export const AVAILABLE_PLUGINS = [SlowTrainer];
`;

/** The token of a URL `dumbo serve` printed (in its fragment). */
function tokenOf(url: string): string {
  return new URLSearchParams(new URL(url).hash.slice(1)).get('token')!;
}

interface ServeProcess {
  url: string;
  origin: string;
  port: number;
  child: ReturnType<typeof spawn>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stderr(): string;
}

/** Starts `dumbo serve ...args --port 0` in `home` (its settings there too) and reads the URL it prints. */
async function serveProcess(home: string, args: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [dumboBin, 'serve', ...args, '--port', '0'], {
    cwd: home,
    env: { ...process.env, XDG_CONFIG_HOME: home, DUMBO_PLUGIN_PATH: path.join(home, 'plugins') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const parsed = new URL(url);
  return { url, origin: parsed.origin, port: Number(parsed.port), child, exited, stderr: () => stderr };
}

/** Starts a run of `config` through the API of `served` and resolves with its folder once a step is reported. */
async function startRunAndWaitForStep(served: ServeProcess, config: string): Promise<{ runFolder: string }> {
  const auth = { authorization: `Bearer ${tokenOf(served.url)}` };
  const events = await socket(`ws://127.0.0.1:${served.port}/api/events`, auth);
  const firstStep = new Promise<void>((resolve) =>
    events.ws!.on('message', (data: Buffer) => {
      if ((JSON.parse(data.toString()) as AppEvent).type === 'run-metrics') resolve();
    }),
  );
  const started = await request(`${served.origin}/api/call/startRun`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ args: [config] }),
  });
  const run = (JSON.parse(started.body) as { ok: boolean; result: { runFolder: string } }).result;
  expect(run.runFolder).toBeTruthy();
  // The trainer is in its loop: a step has been reported.
  await firstStep;
  events.ws!.close();
  return run;
}

describe('dumbo serve (the command)', () => {
  it('prints the URL on stdout, serves, and stops on Ctrl-C', async () => {
    const served = await serveProcess(tempDir());
    const { url, child } = served;
    const parsed = new URL(url);
    expect(parsed.hostname).toBe('127.0.0.1');
    expect(parsed.searchParams.get('config')).toMatch(/resources[\\/]examples[\\/]quickstart\.yaml$/);
    expect((await request(`${parsed.origin}/api/call/version`, { method: 'POST' })).status).toBe(401);
    expect((await request(url)).status).toBe(200);
    const version = await request(`${parsed.origin}/api/call/version`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenOf(url)}`, 'content-type': 'application/json' },
      body: '{"args":[]}',
    });
    expect(JSON.parse(version.body)).toMatchObject({ ok: true });
    child.kill('SIGINT');
    expect(await served.exited).toBe(0);
    expect(served.stderr()).toContain('stopping');
  });

  it('one SIGTERM stops a live run (the trainer sees the stop request and ends it), and serve exits 0', async () => {
    const home = tempDir();
    const seen = path.join(home, 'stop-seen.txt');
    writeFiles(home, {
      'slow/index.js': stopAwareTrainerJs,
      'slow.yaml': `name: slow\nplugins: [./slow]\nslow_trainer: {stop_record: ${JSON.stringify(seen)}}\n`,
    });
    const served = await serveProcess(home, [path.join(home, 'slow.yaml')]);
    const run = await startRunAndWaitForStep(served, path.join(home, 'slow.yaml'));

    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    expect(served.stderr()).toMatch(/stopping: 1 run\(s\) finish their step and checkpoint/);
    expect(served.stderr()).not.toMatch(/killing the runs/);
    // The trainer was asked to stop and ended the run itself (no kill).
    expect(readFileSync(seen, 'utf8')).toMatch(/^stop requested at step \d+\n$/);
    const record = JSON.parse(readFileSync(path.join(run.runFolder, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ status: 'stopped', exitReason: 'stopped by the user' });
  });

  it('a second SIGTERM kills a run that does not stop, and serve exits 130', async () => {
    const home = tempDir();
    writeFiles(home, {
      'deaf/index.js': deafTrainerJs,
      'deaf.yaml': 'name: deaf\nplugins: [./deaf]\n',
    });
    const served = await serveProcess(home, [path.join(home, 'deaf.yaml')]);
    const run = await startRunAndWaitForStep(served, path.join(home, 'deaf.yaml'));

    const stopping = new Promise<void>((resolve) =>
      served.child.stderr!.on('data', () => {
        if (/stopping: 1 run/.test(served.stderr())) resolve();
      }),
    );
    served.child.kill('SIGTERM');
    await stopping;
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(130);
    expect(served.stderr()).toMatch(/killing the runs/);
    const record = JSON.parse(readFileSync(path.join(run.runFolder, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ status: 'stopped', exitReason: expect.stringMatching(/killed/) });
  });

  it('refuses a port that is not a number', async () => {
    const child = spawn(process.execPath, [dumboBin, 'serve', '--port', 'x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
  });
});
