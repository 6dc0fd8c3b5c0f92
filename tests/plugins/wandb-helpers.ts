// What the wandb plugin's tests and `dumbo wandb-sync`'s share: a loopback stand-in for W&B's server, the
// plugin's hooks called by hand, and a reader of `.wandb` files written here, independent of the plugin's code
// (a bit-by-bit CRC-32, the LevelDB log framing, a protobuf decoder).
//
// The server records every request and answers as W&B does: GraphQL UpsertBucket and CreateRunFiles at
// /graphql, the run's file_stream (history lines kept by their offset, as W&B keeps them), and the PUT of files
// to the upload addresses it hands out. Failures can be injected: an HTTP status, or a connection closed
// without an answer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect } from 'vitest';
import { MetricEvent, standaloneContext, type Logger, type PluginContext, type RunLink } from '../../src/core/index.js';
import { WandbPlugin, type WandbCollector, type WandbPluginOptions } from '../../plugins/wandb/index.js';
import { tempDir } from '../helpers.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The JSON body, parsed; for uploads, the raw bytes. */
  body: unknown;
  /** What the server answered (0: the connection was closed). */
  status: number;
}

interface GraphqlBody {
  operationName?: string;
  query?: string;
  variables?: Record<string, unknown>;
}

export interface StreamBody {
  files?: Record<string, { offset: number; content: string[] }>;
  complete?: boolean;
  exitcode?: number;
}

/** A failure to give to the requests it matches, `times` times: a status, or 0 to close the connection. */
interface Failure {
  match: (method: string, path: string) => boolean;
  status: number;
  times: number;
}

export class FakeWandb {
  readonly requests: RecordedRequest[] = [];
  /** Per run (`entity/project/run`): history lines by offset, as the server stores them. */
  readonly history = new Map<string, string[]>();
  /** Every history line the server accepted, in order: a line sent twice appears twice. */
  readonly accepted: string[] = [];
  readonly summaries: string[] = [];
  readonly uploads = new Map<string, Buffer>();
  private readonly failures: Failure[] = [];
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next `times` requests to a path containing `part` get `status` (0: the connection closed). */
  fail(part: string, status: number, times = 1): void {
    this.failures.push({ match: (_m, p) => p.includes(part), status, times });
  }

  graphql(operation: string): GraphqlBody[] {
    return this.requests
      .filter((r) => r.path === '/graphql' && r.status === 200)
      .map((r) => r.body as GraphqlBody)
      .filter((b) => b.operationName === operation);
  }

  streams(): StreamBody[] {
    return this.requests
      .filter((r) => r.path.endsWith('/file_stream') && r.status === 200)
      .map((r) => r.body as StreamBody);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const method = req.method ?? '';
    const path = req.url ?? '';
    const upload = path.startsWith('/upload/');
    const record: RecordedRequest = {
      method,
      path,
      headers: req.headers,
      body: upload ? raw : raw.length ? JSON.parse(raw.toString('utf8')) : undefined,
      status: 200,
    };
    this.requests.push(record);
    const failure = this.failures.find((f) => f.times > 0 && f.match(method, path));
    if (failure) {
      failure.times--;
      record.status = failure.status;
      if (record.status === 0) return void req.socket.destroy();
      return void res.writeHead(record.status, { 'Content-Type': 'text/plain' }).end('injected failure');
    }
    if (upload) {
      this.uploads.set(path.slice('/upload/'.length), raw);
      return void res.writeHead(200).end();
    }
    if (path === '/graphql') return this.json(res, this.answer(record.body as GraphqlBody));
    const stream = /^\/files\/([^/]+)\/([^/]+)\/([^/]+)\/file_stream$/.exec(path);
    if (stream && method === 'POST') {
      const body = record.body as StreamBody;
      const run = `${stream[1]}/${stream[2]}/${stream[3]}`;
      const lines = this.history.get(run) ?? [];
      const h = body.files?.['wandb-history.jsonl'];
      if (h) {
        h.content.forEach((line, i) => (lines[h.offset + i] = line));
        this.accepted.push(...h.content);
      }
      this.history.set(run, lines);
      const s = body.files?.['wandb-summary.json'];
      if (s) this.summaries.push(s.content[0]!);
      return this.json(res, { exitcode: null, limits: {} });
    }
    res.writeHead(404).end('not found');
  }

  private answer(body: GraphqlBody): unknown {
    const v = body.variables ?? {};
    if (body.operationName === 'UpsertBucket') {
      const project = {
        id: 'UHJvamVjdDox',
        name: v.project ?? 'uncategorized',
        entity: { id: 'e1', name: v.entity ?? 'ent' },
      };
      const bucket = { id: 'UnVuOjE=', name: v.name, displayName: v.displayName ?? 'generated-name-1', project };
      return { data: { upsertBucket: { bucket, inserted: true } } };
    }
    if (body.operationName === 'CreateRunFiles') {
      const files = (v.files as string[]).map((name) => ({
        name,
        uploadUrl: `${this.url}/upload/${String(v.run)}/${name}`,
      }));
      return { data: { createRunFiles: { runID: 'UnVuOjE=', uploadHeaders: ['X-Upload-Test: yes'], files } } };
    }
    return { errors: [{ message: `unknown operation ${String(body.operationName)}` }] };
  }

  private json(res: http.ServerResponse, value: unknown): void {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
  }
}

/** A fresh server for each test of the calling file: `server()` is the current test's. */
export function serverPerTest(): () => FakeWandb {
  let current: FakeWandb;
  beforeEach(async () => {
    current = await new FakeWandb().start();
  });
  afterEach(() => current.close());
  return () => current;
}

// --- the plugin's hooks called by hand ----------------------------------------------------------------------

/** The plugin's hooks called by hand in a new run folder, with what it logged and the links it published. */
export async function byHand(options: WandbPluginOptions, config: Record<string, unknown> = {}) {
  const logs: [string, string][] = [];
  const links: RunLink[] = [];
  const logger: Logger = {
    name: 'wandb',
    debug: (m) => logs.push(['debug', m]),
    info: (m) => logs.push(['info', m]),
    warn: (m) => logs.push(['warn', m]),
    error: (m) => logs.push(['error', m]),
  };
  const runFolder = tempDir();
  const ctx: PluginContext = { ...standaloneContext('wandb', { runFolder }), logger, addLink: (l) => links.push(l) };
  const hooks = new WandbPlugin(options).hooks();
  const init = await hooks.log_init!(config, ctx);
  if (!init.ok) throw init.error;
  const collector = (await hooks.metrics_collector!(ctx)).unwrap() as WandbCollector;
  return {
    runFolder,
    collector,
    logs,
    links,
    warnings: () => logs.filter(([level]) => level === 'warn').map(([, m]) => m),
    /** The W&B run folder (`wandb/<...>-<id>/`). */
    dir: () => collector.run!.folder.dir,
    endTraining: async () => expect((await hooks.log_training_end!({ steps: 0 }, ctx)).ok).toBe(true),
    finish: async () => expect((await hooks.finish!(ctx)).ok).toBe(true),
  };
}

/** Metric events of steps `from`..`to`: `loss` and `lr` each step. */
export function steps(from: number, to: number): MetricEvent[] {
  const out: MetricEvent[] = [];
  for (let s = from; s <= to; s++) out.push(new MetricEvent('loss', 1 / s, s), new MetricEvent('lr', s / 1000, s));
  return out;
}

/** Waits until `check` holds (polling), for at most `ms`. */
export async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not reached in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// --- the independent reader ---------------------------------------------------------------------------------

/** CRC-32 (IEEE, reflected 0xEDB88320) bit by bit, continuing from `crc` as zlib's crc32(data, crc) does. */
export function crc32Bitwise(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

export interface ChunkRead {
  offset: number;
  type: number;
  length: number;
  crcOk: boolean;
}

/**
 * A `.wandb` file read chunk by chunk: the header checked, every chunk's CRC (over its type byte and data),
 * block tails of fewer than 7 bytes zero, and FULL / FIRST MIDDLE* LAST put together into records.
 */
export function readWandbFile(bytes: Uint8Array): {
  chunks: ChunkRead[];
  records: Uint8Array[];
  paddingOk: boolean;
  /** Bytes at the end that make no whole chunk, or a record without its LAST chunk. */
  cut: boolean;
} {
  expect([...bytes.subarray(0, 7)]).toEqual([0x3a, 0x57, 0x26, 0x42, 0xe1, 0xbe, 0x00]);
  const chunks: ChunkRead[] = [];
  const records: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  let paddingOk = true;
  let pos = 7;
  while (pos < bytes.length) {
    const left = 32768 - (pos % 32768);
    if (left < 7) {
      paddingOk &&= bytes.subarray(pos, pos + left).every((b) => b === 0);
      pos += left;
      continue;
    }
    if (pos + 7 > bytes.length) break;
    const length = bytes[pos + 4]! | (bytes[pos + 5]! << 8);
    const type = bytes[pos + 6]!;
    if (pos + 7 + length > bytes.length) break;
    const data = bytes.subarray(pos + 7, pos + 7 + length);
    const stored = (bytes[pos]! | (bytes[pos + 1]! << 8) | (bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 24)) >>> 0;
    chunks.push({ offset: pos, type, length, crcOk: stored === crc32Bitwise(data, crc32Bitwise(Uint8Array.of(type))) });
    parts.push(data);
    if (type === 1 || type === 4) {
      records.push(Buffer.concat(parts));
      parts = [];
    }
    pos += 7 + length;
  }
  return { chunks, records, paddingOk, cut: pos < bytes.length || parts.length > 0 };
}

/** A protobuf message as field number -> its values (varints as bigints, length-delimited as bytes). */
export type Proto = Map<number, (bigint | Uint8Array)[]>;

export function proto(bytes: Uint8Array): Proto {
  const out: Proto = new Map();
  let i = 0;
  const varint = () => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[i++]!;
      value += BigInt(b & 127) << shift;
      shift += 7n;
      if (!(b & 128)) return value;
    }
  };
  while (i < bytes.length) {
    const tag = Number(varint());
    let value: bigint | Uint8Array;
    if ((tag & 7) === 0) value = varint();
    else if ((tag & 7) === 2) {
      const n = Number(varint());
      value = bytes.subarray(i, i + n);
      i += n;
    } else throw new Error(`wire type ${tag & 7} is not written by the plugin`);
    out.set(tag >> 3, [...(out.get(tag >> 3) ?? []), value]);
  }
  return out;
}

export const protoText = (m: Proto, field: number, k = 0) => Buffer.from(m.get(field)![k] as Uint8Array).toString();
export const protoSub = (m: Proto, field: number, k = 0) => proto(m.get(field)![k] as Uint8Array);
export const protoInt = (m: Proto, field: number) => Number((m.get(field)?.[0] as bigint | undefined) ?? 0n);

/** Record fields (wandb_internal.proto) by name: which record a `.wandb` record is, and its body. */
const RECORD_KINDS: Record<number, string> = {
  2: 'history',
  3: 'summary',
  5: 'config',
  6: 'files',
  17: 'run',
  18: 'exit',
  20: 'final',
  21: 'header',
  22: 'footer',
};

export function wandbRecord(bytes: Uint8Array): { num: number; kind: string; body: Proto } {
  const m = proto(bytes);
  const field = [...m.keys()].find((k) => k !== 1)!;
  return { num: protoInt(m, 1), kind: RECORD_KINDS[field] ?? String(field), body: protoSub(m, field) };
}

/** Items (key 1, nested_key 2, value_json 16) of a history / summary / config body as `[path, json]`. */
export function protoItems(body: Proto, field = 1): [string, string][] {
  return (body.get(field) ?? []).map((b) => {
    const item = proto(b as Uint8Array);
    const key = item.has(2)
      ? (item.get(2)! as Uint8Array[]).map((k) => Buffer.from(k).toString()).join('.')
      : protoText(item, 1);
    return [key, protoText(item, 16)];
  });
}
