// `dumbo serve`: the HTTP + WebSocket door to the services. Token, cookie, Host and Origin checks, the call
// API, static files, events of a run started over HTTP, and the command itself (URL on stdout, Ctrl-C).
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import type { AppEvent } from '../../src/shared/api.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
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

/** Opens the events socket; resolves when open, or with the HTTP status that refused it. */
function socket(url: string, headers: Record<string, string>, origin?: string) {
  return new Promise<{ ws?: WebSocket; status?: number }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers, ...(origin ? { origin } : {}) });
    ws.on('open', () => resolve({ ws }));
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
  let cookie: string;
  const config = path.join(h.cwd, 'toy.yaml');

  beforeAll(async () => {
    writeFiles(h.cwd, {
      't/index.js': toyTrainerJs,
      'toy.yaml': 'name: toy\nplugins: [./t]\ntoy_trainer: {steps: 3}\n',
    });
    server = await startServer({ services: h.services, config, rendererDir: renderer });
    base = server.origin;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('prints a loopback URL with a 64-hex-digit token and the config to open', () => {
    const url = new URL(server.url);
    expect(url.origin).toBe(`http://127.0.0.1:${server.port}`);
    expect(url.searchParams.get('token')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get('config')).toBe(config);
  });

  it('answers 401 to every request without the token: page, static file, API and socket', async () => {
    expect((await request(`${base}/`)).status).toBe(401);
    expect((await request(`${base}/assets/app.js`)).status).toBe(401);
    const call = await request(`${base}/api/call/version`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"args":[]}',
    });
    expect(call.status).toBe(401);
    expect(call.body).not.toContain('0.1');
    expect((await request(`${base}/?token=${'0'.repeat(64)}`)).status).toBe(401);
    expect((await socket(`ws://127.0.0.1:${server.port}/api/events`, {})).status).toBe(401);
    expect((await request(`${base}/`, { headers: { cookie: `${server.cookieName}=nope` } })).status).toBe(401);
  });

  it('the token in the query sets an HttpOnly SameSite=Strict cookie and redirects without it', async () => {
    const r = await request(server.url);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe(`/?config=${encodeURIComponent(config)}`);
    const set = r.headers['set-cookie']![0]!;
    expect(set).toMatch(new RegExp(`^${server.cookieName}=${server.token};`));
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    cookie = set.split(';')[0]!;
    const page = await request(`${base}${r.headers.location}`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('<title>Dumbo</title>');
    const js = await request(`${base}/assets/app.js`, { headers: { cookie } });
    expect([js.status, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect((await request(`${base}/assets/app.css`, { headers: { cookie } })).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
  });

  it('no path leads out of the renderer folder', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const r = await request(`${base}${p}`, { headers: { cookie } });
      expect(r.status, p).not.toBe(200);
      expect(r.body).not.toContain('outside the renderer');
    }
    expect((await request(`${base}/missing.js`, { headers: { cookie } })).status).toBe(404);
    // A client-side route gets the app.
    expect((await request(`${base}/runs/abc`, { headers: { cookie } })).body).toContain('<title>Dumbo</title>');
  });

  it('rejects a foreign Host header (DNS rebinding) and a foreign Origin, even with the cookie', async () => {
    const host = await request(`${base}/`, { headers: { cookie, host: `evil.example:${server.port}` } });
    expect(host.status).toBe(421);
    const call = await request(`${base}/api/call/version`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', origin: 'http://evil.example' },
      body: '{"args":[]}',
    });
    expect(call.status).toBe(403);
    const ws = `ws://127.0.0.1:${server.port}/api/events`;
    expect((await socket(ws, { cookie }, 'http://evil.example')).status).toBe(403);
    expect((await socket(ws, { cookie, host: `evil.example:${server.port}` })).status).toBe(421);
  });

  it('POST /api/call/<name>: results, errors, argument checks', async () => {
    const post = (name: string, body: unknown, headers: Record<string, string> = { cookie }) =>
      request(`${base}/api/call/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const version = await post('version', { args: [] });
    expect(version.status).toBe(200);
    expect(JSON.parse(version.body)).toEqual({ ok: true, result: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const bearer = await post('version', { args: [] }, { authorization: `Bearer ${server.token}` });
    expect(JSON.parse(bearer.body)).toMatchObject({ ok: true });
    expect((await post('version', { args: [1] })).status).toBe(400);
    expect((await post('removePlugin', { args: ['../x'] })).status).toBe(400);
    expect((await post('nope', { args: [] })).status).toBe(404);
    expect((await post('__proto__', { args: [] })).status).toBe(404);
    expect((await request(`${base}/api/call/version`, { headers: { cookie } })).status).toBe(405);
    const failed = await post('openConfig', { args: [path.join(h.cwd, 'missing.yaml')] });
    expect(failed.status).toBe(200);
    expect(JSON.parse(failed.body)).toEqual({ ok: false, error: expect.stringMatching(/no such file/) });
    const validated = await post('validateConfig', { args: ['plugins: [file_logger]\n', config] });
    expect(JSON.parse(validated.body)).toMatchObject({ ok: true, result: { valid: true } });
  });

  it('events of a run started over HTTP arrive over the WebSocket', async () => {
    const { ws } = await socket(`ws://127.0.0.1:${server.port}/api/events`, { cookie }, base);
    const events: AppEvent[] = [];
    const completed = new Promise<void>((resolve) =>
      ws!.on('message', (data: Buffer) => {
        const e = JSON.parse(data.toString()) as AppEvent;
        events.push(e);
        if (e.type === 'run-status' && e.run.status === 'completed') resolve();
      }),
    );
    const started = await request(`${base}/api/call/startRun`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ args: [config] }),
    });
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
      const auth = { authorization: `Bearer ${bare.token}` };
      const r = await request(`${bare.origin}/`, { headers: auth });
      expect(r.status).toBe(503);
      expect(r.body).toContain('npm run build:app');
    } finally {
      await bare.close();
    }
  });
});

describe('dumbo serve (the command)', () => {
  it('prints the URL on stdout, serves, and stops on Ctrl-C', async () => {
    const home = tempDir();
    const child = spawn(process.execPath, [dumboBin, 'serve', '--port', '0'], {
      cwd: home,
      env: { ...process.env, XDG_CONFIG_HOME: home, DUMBO_PLUGIN_PATH: path.join(home, 'plugins') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    const parsed = new URL(url);
    expect(parsed.hostname).toBe('127.0.0.1');
    expect(parsed.searchParams.get('config')).toMatch(/resources[\\/]examples[\\/]quickstart\.yaml$/);
    expect((await request(`${parsed.origin}/api/call/version`, { method: 'POST' })).status).toBe(401);
    expect((await request(url)).status).toBe(303);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopping');
  });

  it('refuses a port that is not a number', async () => {
    const child = spawn(process.execPath, [dumboBin, 'serve', '--port', 'x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
  });
});
