/**
 * `dumbo serve [CONFIG] [--port N] [--host H]`: the app's second door. The same renderer the desktop app
 * shows, served to a browser over HTTP, its calls as `POST /api/call/<name>` and its events over a
 * WebSocket (`GET /api/events`), all answered by the same service layer (src/services) as Electron's IPC.
 *
 * Security (DESIGN.md section 5): every request without the credential — API, socket and static files
 * alike — gets 401. The session has two secrets, each 32 random bytes:
 * - the token, for the API and the events socket. The printed URL carries it in its fragment (`#token=`),
 *   which the browser never sends to a server; the page takes it from there once, keeps it in the tab's
 *   sessionStorage (scoped to this origin, port included) and takes it out of the address bar. Calls send it
 *   as `Authorization: Bearer <token>`, the socket as its subprotocol `dumbo-token.<token>` (a browser cannot
 *   set a WebSocket's headers; scripts may send the Authorization header there too).
 * - the app path `/app/<key>/`, the unguessable prefix the UI's files are served under, so that loading the
 *   page and its assets needs no credential of its own. Every other path answers 401 without the token.
 *
 * No cookie is set or read: cookies are not scoped to a port, so a browser would send one to every other
 * server on 127.0.0.1. The Host header must name the address served (DNS rebinding), a request's Origin,
 * when it has one, must be the served origin (WebSocket upgrades included), and every response carries a
 * strict CSP. It listens on 127.0.0.1 unless `--host` says otherwise, which prints a warning.
 *
 * Here: the server's routes, its calls and events, and the `serve` command. Beside it: serve-access.ts (Host,
 * Origin and token checks) and serve-http.ts (response headers, static files).
 *
 * May import core, host (version) and services; used by main.ts (the `serve` command) and tests.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { appRoot } from '../core/paths.js';
import { createServices, nodeForkHost, type Services } from '../services/index.js';
import { ARGS_VALID, CHANNELS, EVENTS_PROTOCOL, type AppEvent, type CallName } from '../shared/api.js';
import { firstExternalAddress, hostPart, isLoopback, isWildcard, ServeAccess } from './serve-access.js';
import { rejectUpgrade, SECURITY_HEADERS, send, sendJson, staticFile } from './serve-http.js';
import { takeOverSignals } from './signals.js';

export { CSP } from './serve-http.js';

const MAX_BODY = 16 * 1024 * 1024;
const MAX_WS_BUFFER = 32 * 1024 * 1024;

export interface ServerOptions {
  services: Services;
  /** The config the UI opens first (absolute); put in the printed URL as `config=`. */
  config?: string;
  /** 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The built renderer (default out/renderer, made by `npm run build:app`). */
  rendererDir?: string;
  /** Fixed token (tests); default 32 random bytes, hex. */
  token?: string;
  /** Fixed key of the app path `/app/<key>/` (tests); default 32 random bytes, hex. */
  appKey?: string;
}

export interface RunningServer {
  /** The URL to open: the app path, the config in the query, the token in the fragment. */
  url: string;
  /** The origin, e.g. http://127.0.0.1:43210. */
  origin: string;
  port: number;
  token: string;
  /** Where the UI's files are served, without credentials: `/app/<key>/`. */
  appPath: string;
  close(): Promise<void>;
}

/** Starts the HTTP + WebSocket server on the services; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { services } = options;
  const bindHost = options.host ?? '127.0.0.1';
  const token = options.token ?? randomBytes(32).toString('hex');
  const appPath = `/app/${options.appKey ?? randomBytes(32).toString('hex')}/`;
  const rendererDir = path.resolve(options.rendererDir ?? path.join(appRoot(), 'out', 'renderer'));
  const clients = new Set<WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // The browser offers the events protocol and the token's; the answer names the first, never the token.
    handleProtocols: (offered) => (offered.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false),
  });
  const access = new ServeAccess(bindHost, token);

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: String((error as Error)?.message ?? error) });
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refused = access.check(req);
    if (refused) return send(res, refused[0], `${refused[1]}: this server answers only to its own address\n`);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === appPath.slice(0, -1)) {
      // The app path without its slash: relative asset paths need it.
      res.writeHead(308, { ...SECURITY_HEADERS, Location: appPath + url.search, 'Content-Length': 0 });
      return void res.end();
    }
    if (url.pathname.startsWith(appPath)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method Not Allowed\n');
      return staticFile(req, res, rendererDir, url.pathname.slice(appPath.length - 1));
    }
    if (!access.authenticated(req)) {
      return send(
        res,
        401,
        'Unauthorized: open the URL that `dumbo serve` printed (the page sends its token with each call)\n',
      );
    }
    if (url.pathname.startsWith('/api/call/')) return apiCall(req, res, url.pathname.slice('/api/call/'.length));
    if (url.pathname === '/api/events') return send(res, 426, 'Upgrade Required: this is a WebSocket\n');
    if (url.pathname.startsWith('/api/')) return sendJson(res, 404, { ok: false, error: 'no such endpoint' });
    return send(res, 404, 'Not Found: the app is at the URL that `dumbo serve` printed\n');
  }

  async function apiCall(req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> {
    if (!Object.prototype.hasOwnProperty.call(CHANNELS, name)) {
      return sendJson(res, 404, { ok: false, error: `unknown call '${name}'` });
    }
    if (req.method !== 'POST') return sendJson(res, 405, { ok: false, error: 'calls are POST requests' });
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return sendJson(res, 415, { ok: false, error: 'send the arguments as application/json: {"args": [...]}' });
    }
    let body = '';
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) return sendJson(res, 413, { ok: false, error: 'request too large' });
      body += chunk.toString('utf8');
    }
    let args: unknown;
    try {
      args = body.trim() === '' ? [] : ((JSON.parse(body) as { args?: unknown }).args ?? []);
    } catch {
      return sendJson(res, 400, { ok: false, error: 'the body is not JSON' });
    }
    const call = name as CallName;
    if (!Array.isArray(args) || !ARGS_VALID[call](args)) {
      return sendJson(res, 400, { ok: false, error: `invalid arguments for ${call}` });
    }
    try {
      const fn = services.calls[call] as (...a: unknown[]) => Promise<unknown>;
      const result = await fn(...args);
      sendJson(res, 200, result === undefined ? { ok: true } : { ok: true, result });
    } catch (error) {
      sendJson(res, 200, { ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    const refused = access.check(req);
    if (refused) return rejectUpgrade(socket, refused[0], refused[1]);
    if (!access.authenticated(req, true)) return rejectUpgrade(socket, 401, 'Unauthorized');
    if (url.pathname !== '/api/events') return rejectUpgrade(socket, 404, 'Not Found');
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => clients.delete(ws));
    });
  });

  const unsubscribe = services.onEvent((event: AppEvent) => {
    const data = JSON.stringify(event);
    for (const ws of clients) {
      if (ws.readyState !== ws.OPEN) continue;
      // A client that does not read its events is dropped rather than buffered without end.
      if (ws.bufferedAmount > MAX_WS_BUFFER) ws.terminate();
      else ws.send(data);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  access.listening(port);
  const shownHost = isWildcard(bindHost) ? (firstExternalAddress() ?? '127.0.0.1') : hostPart(bindHost);
  const origin = `http://${shownHost}:${port}`;
  const query = options.config ? `?${new URLSearchParams({ config: options.config }).toString()}` : '';
  return {
    url: `${origin}${appPath}${query}#token=${token}`,
    origin,
    port,
    token,
    appPath,
    async close() {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      clients.clear();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export interface ServeCommandOptions {
  config?: string;
  port: number;
  host?: string;
  userPluginDir?: string;
}

/**
 * The `serve` command: services on the working directory, the server, the URL on stdout (its only line).
 * Ctrl-C or SIGTERM stops serving and asks the runs started here to stop (each finishes its step and
 * checkpoints, as with `dumbo run`), then exits 0; a second one kills them (exit 130). Runs cannot outlive
 * serve: a run host stops when its parent goes away.
 */
export async function serveCommand(o: ServeCommandOptions): Promise<number> {
  const config = path.resolve(o.config ?? path.join(appRoot(), 'resources', 'examples', 'quickstart.yaml'));
  if (!existsSync(config)) {
    process.stderr.write(`${config}: cannot read config: no such file\n`);
    return 2;
  }
  const host = o.host ?? '127.0.0.1';
  const services = createServices({ fork: nodeForkHost(), cwd: process.cwd(), userPluginDir: o.userPluginDir });
  let server: RunningServer;
  try {
    server = await startServer({ services, config, port: o.port, host });
  } catch (error) {
    await services.dispose({ force: true });
    process.stderr.write(`dumbo serve: cannot listen on ${host}:${o.port}: ${(error as Error).message}\n`);
    return 2;
  }
  if (!isLoopback(host)) {
    process.stderr.write(
      `warning: serving on ${host}, not only this machine: whoever reaches this address and gets the token can ` +
        `run configs (and so code) here. Prefer the default 127.0.0.1 with an SSH tunnel (ssh -L ${server.port}:127.0.0.1:${server.port} ...).\n`,
    );
  }
  const rendererIndex = path.join(appRoot(), 'out', 'renderer', 'index.html');
  if (!existsSync(rendererIndex)) {
    process.stderr.write('note: the UI is not built (run `npm run build:app`); the API works without it\n');
  }
  process.stderr.write(
    `dumbo serve: open the URL below (it carries the access token; keep it private). Ctrl-C stops.\n`,
  );
  process.stdout.write(server.url + '\n');

  return new Promise<number>((resolve) => {
    let interrupts = 0;
    let giveBack = () => {};
    const finish = (code: number) => {
      giveBack();
      resolve(code);
    };
    const onSignal = () => {
      interrupts += 1;
      if (interrupts === 1) {
        const active = services.activeRuns().length;
        process.stderr.write(
          active > 0
            ? `\nstopping: ${active} run(s) finish their step and checkpoint (press Ctrl-C again to kill them)\n`
            : '\nstopping\n',
        );
        void server
          .close()
          .then(() => services.dispose())
          .then(() => finish(0));
      } else if (interrupts === 2) {
        process.stderr.write('killing the runs\n');
        void services.dispose({ force: true }).then(() => finish(130));
      }
    };
    giveBack = takeOverSignals(['SIGINT', 'SIGTERM'], onSignal);
  });
}
