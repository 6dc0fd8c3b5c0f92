/**
 * The HTTP side of `dumbo serve` (see serve.ts): the headers every response carries (a strict CSP among
 * them), plain and JSON answers, a refused WebSocket upgrade, and the built UI's files, served from the
 * renderer folder without ever leaving it.
 */

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { statOrUndefined } from '../core/fs.js';

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

export function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dumbo: UI not built</title></head>
<body><h1>The Dumbo UI is not built</h1><p>Run <code>npm run build:app</code> in the Dumbo folder, then reload this page.
The API (<code>/api/call/&lt;name&gt;</code>) and the events socket work without it.</p></body></html>`;

/**
 * Answers a GET or HEAD for `pathname` (below the app path) from `rendererDir`: the file, index.html for a
 * client-side route (no extension), 404 for a missing asset or anything outside the folder (links
 * included), 503 with how to build it when the UI is not built.
 */
export function staticFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rendererDir: string,
  pathname: string,
): void {
  const index = path.join(rendererDir, 'index.html');
  if (!existsSync(index)) return send(res, 503, NOT_BUILT, 'text/html; charset=utf-8');
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return send(res, 400, 'Bad Request\n');
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return send(res, 400, 'Bad Request\n');
  let file = path.resolve(rendererDir, '.' + (decoded === '/' ? '/index.html' : decoded));
  const inside = (f: string, root: string) => {
    const rel = path.relative(root, f);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  if (!inside(file, rendererDir)) return send(res, 404, 'Not Found\n');
  let st = statOrUndefined(file);
  if (!st?.isFile()) {
    // Client-side routes (no extension) get the app; missing assets are 404.
    if (path.extname(decoded) !== '') return send(res, 404, 'Not Found\n');
    file = index;
    st = statOrUndefined(file);
  }
  // A link inside the renderer folder must not lead out of it.
  const realRoot = realpathSync(rendererDir);
  if (!st?.isFile() || !inside(realpathSync(file), realRoot)) return send(res, 404, 'Not Found\n');
  const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const body = readFileSync(file);
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}
