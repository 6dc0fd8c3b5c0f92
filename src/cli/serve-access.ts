/**
 * Who may talk to `dumbo serve` (see serve.ts for the whole scheme): the Host header must name the address
 * served (DNS rebinding), a request's Origin, when it has one, must be the served origin, and a call carries
 * the token — as `Authorization: Bearer <token>`, or for the events socket as its `dumbo-token.<token>`
 * subprotocol. Never a cookie.
 */

import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import os from 'node:os';
import { TOKEN_PROTOCOL_PREFIX } from '../shared/api.js';

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** The host as it stands in a URL or a Host header (an IPv6 address in brackets). */
export function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function firstExternalAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token of an `Authorization: Bearer <token>` header. */
function bearerToken(req: http.IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

/** The token of a WebSocket's `dumbo-token.<token>` subprotocol. */
function protocolToken(req: http.IncomingMessage): string | undefined {
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))?.slice(TOKEN_PROTOCOL_PREFIX.length);
}

/** A literal IPv4 or IPv6 address (a Host header naming one cannot come from DNS rebinding). */
function isIpLiteral(hostname: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || /^\[[0-9a-f:.]+\]$/i.test(hostname);
}

/** The checks of one server: its bind address and token, and (once it listens) its port. */
export class ServeAccess {
  private port = 0;
  private allowedHosts = new Set<string>();

  constructor(
    private readonly bindHost: string,
    private readonly token: string,
  ) {}

  /** Called once the server listens on `port`: the Host values that name it. */
  listening(port: number): void {
    this.port = port;
    const bindHost = this.bindHost;
    if (isLoopback(bindHost)) {
      this.allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
      if (bindHost.startsWith('127.')) this.allowedHosts.add(`${bindHost}:${port}`);
    } else if (!isWildcard(bindHost)) {
      this.allowedHosts = new Set([`${hostPart(bindHost).toLowerCase()}:${port}`]);
    }
  }

  hostAllowed(host: string | undefined): boolean {
    if (!host) return false;
    const h = host.toLowerCase();
    if (this.allowedHosts.has(h)) return true;
    if (isWildcard(this.bindHost)) {
      // Any address of this machine, by number (a DNS name could be rebound to it), or its own name.
      const m = /^(.*):(\d+)$/.exec(h);
      return !!m && Number(m[2]) === this.port && (isIpLiteral(m[1]!) || m[1] === os.hostname().toLowerCase());
    }
    return false;
  }

  originAllowed(origin: string | undefined, host: string | undefined): boolean {
    return (
      origin === undefined ||
      (!!host && this.hostAllowed(host) && origin.toLowerCase() === `http://${host.toLowerCase()}`)
    );
  }

  /** The token, from the Authorization header (and, for the socket, its subprotocol). Never a cookie. */
  authenticated(req: http.IncomingMessage, socket = false): boolean {
    const given = bearerToken(req) ?? (socket ? protocolToken(req) : undefined);
    return given !== undefined && safeEqual(given, this.token);
  }

  /** Host and Origin: the status to refuse with and its text, or undefined. */
  check(req: http.IncomingMessage): [number, string] | undefined {
    if (!this.hostAllowed(req.headers.host)) return [421, 'Misdirected Request'];
    if (!this.originAllowed(req.headers.origin, req.headers.host)) return [403, 'Forbidden'];
    return undefined;
  }
}
