/**
 * The `wandb_internal.Record` protobuf messages a `.wandb` log holds (wandb/proto/wandb_internal.proto, field
 * numbers beside each field), written with the SDK's ProtoMessage, and read back for `dumbo wandb-sync` by a
 * small decoder of the fields this plugin writes. Imported by runfolder.ts and sync.ts.
 */
import { ProtoMessage } from 'dumbo';

/** A history, summary or config item: `key` (1), `nested_key` (2, a path into nested objects), `value_json` (16). */
export interface Item {
  key: string;
  nestedKey?: string[];
  valueJson: string;
}

export interface RunInfo {
  runId: string;
  entity?: string;
  project?: string;
  displayName?: string;
  tags?: string[];
  host?: string;
  /** Seconds since the epoch. */
  startTime: number;
  config: Item[];
}

// Record's oneof record_type (and num = 1).
const F = { history: 2, summary: 3, config: 5, files: 6, run: 17, exit: 18, final: 20, header: 21, footer: 22 };

/** HistoryItem, SummaryItem and ConfigItem share their layout. */
function item(i: Item): ProtoMessage {
  const m = new ProtoMessage();
  if (i.key) m.string(1, i.key);
  for (const k of i.nestedKey ?? []) m.string(2, k);
  return m.string(16, i.valueJson);
}

/** ConfigRecord / SummaryRecord { repeated item update = 1 }. */
function updates(items: readonly Item[]): ProtoMessage {
  const m = new ProtoMessage();
  for (const i of items) m.message(1, item(i));
  return m;
}

function record(num: number, field: number, body: ProtoMessage): Uint8Array {
  return new ProtoMessage().int(1, num).message(field, body).encode();
}

/** HeaderRecord {}: the first record of every log. */
export function headerRecord(num: number): Uint8Array {
  return record(num, F.header, new ProtoMessage());
}

/**
 * RunRecord { run_id 1; entity 2; project 3; config 4; display_name 8; tags 10; host 13; start_time 17
 * (Timestamp { seconds 1; nanos 2 }) }.
 */
export function runRecord(num: number, run: RunInfo): Uint8Array {
  const m = new ProtoMessage().string(1, run.runId);
  if (run.entity) m.string(2, run.entity);
  if (run.project) m.string(3, run.project);
  if (run.config.length > 0) m.message(4, updates(run.config));
  if (run.displayName) m.string(8, run.displayName);
  for (const tag of run.tags ?? []) m.string(10, tag);
  if (run.host) m.string(13, run.host);
  const seconds = Math.floor(run.startTime);
  const nanos = Math.round((run.startTime - seconds) * 1e9);
  const time = new ProtoMessage().int(1, seconds);
  if (nanos > 0) time.int(2, Math.min(nanos, 999_999_999));
  return record(num, F.run, m.message(17, time));
}

/** HistoryRecord { repeated HistoryItem item = 1; HistoryStep step = 2 { num = 1 } }. */
export function historyRecord(num: number, items: readonly Item[], step: number): Uint8Array {
  const m = new ProtoMessage();
  for (const i of items) m.message(1, item(i));
  const s = new ProtoMessage();
  if (step !== 0) s.int(1, step);
  return record(num, F.history, m.message(2, s));
}

export function summaryRecord(num: number, items: readonly Item[]): Uint8Array {
  return record(num, F.summary, updates(items));
}

export function configRecord(num: number, items: readonly Item[]): Uint8Array {
  return record(num, F.config, updates(items));
}

/** FilesRecord { repeated FilesItem files = 1 { path = 1; policy = 2 (END = 1: upload at the end) } }. */
export function filesRecord(num: number, paths: readonly string[]): Uint8Array {
  const m = new ProtoMessage();
  for (const p of paths) m.message(1, new ProtoMessage().string(1, p).int(2, 1));
  return record(num, F.files, m);
}

/** RunExitRecord { exit_code = 1; runtime = 2 (whole seconds) }. */
export function exitRecord(num: number, exitCode: number, runtime: number): Uint8Array {
  const m = new ProtoMessage();
  if (exitCode !== 0) m.int(1, exitCode);
  if (runtime !== 0) m.int(2, runtime);
  return record(num, F.exit, m);
}

/** FinalRecord {}: written after the exit record (wandb's legacy sync sends the exit only once it sees it). */
export function finalRecord(num: number): Uint8Array {
  return record(num, F.final, new ProtoMessage());
}

/** FooterRecord {}: the last record. */
export function footerRecord(num: number): Uint8Array {
  return record(num, F.footer, new ProtoMessage());
}

// --- reading -----------------------------------------------------------------------------------------------

interface Field {
  n: number;
  /** A varint's value. */
  int?: bigint;
  /** A length-delimited field's bytes. */
  bytes?: Uint8Array;
}

/** The fields of one message (fixed32/fixed64 fields are skipped: none of the fields read here has them). */
function fields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; at < bytes.length; shift += 7n) {
      const b = bytes[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    throw new Error('a protobuf varint runs past the end of its message');
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const wire = key & 7;
    if (wire === 0) out.push({ n: key >>> 3, int: varint() });
    else if (wire === 2) {
      const length = Number(varint());
      if (at + length > bytes.length) throw new Error('a protobuf field runs past the end of its message');
      out.push({ n: key >>> 3, bytes: bytes.subarray(at, (at += length)) });
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`protobuf wire type ${wire} is not one this reader knows`);
  }
  return out;
}

const text = (f: Field | undefined): string | undefined =>
  f?.bytes ? Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.length).toString('utf8') : undefined;
const texts = (fs: Field[], n: number): string[] => fs.filter((f) => f.n === n).map((f) => text(f) ?? '');
const one = (fs: Field[], n: number): Field | undefined => fs.find((f) => f.n === n);
const int = (f: Field | undefined): number => Number(BigInt.asIntN(64, f?.int ?? 0n));

function readItem(bytes: Uint8Array): Item {
  const f = fields(bytes);
  const nestedKey = texts(f, 2);
  return { key: text(one(f, 1)) ?? '', ...(nestedKey.length ? { nestedKey } : {}), valueJson: text(one(f, 16)) ?? '' };
}

const readItems = (f: Field[], n: number): Item[] =>
  f.filter((x) => x.n === n && x.bytes).map((x) => readItem(x.bytes!));

export type WandbRecord =
  | { type: 'run'; run: RunInfo }
  | { type: 'history'; items: Item[]; step: number }
  | { type: 'summary'; items: Item[] }
  | { type: 'config'; items: Item[] }
  | { type: 'files'; paths: string[] }
  | { type: 'exit'; exitCode: number; runtime: number }
  | { type: 'other'; field: number };

/** One Record: the kinds `dumbo wandb-sync` uploads, and `other` with its field number for the rest. */
export function readRecord(bytes: Uint8Array): WandbRecord {
  const top = fields(bytes).filter((f) => f.n !== 1);
  const body = top.find((f) => f.bytes);
  if (!body) return { type: 'other', field: top[0]?.n ?? 0 };
  const f = fields(body.bytes!);
  switch (body.n) {
    case F.run: {
      const time = fields(one(f, 17)?.bytes ?? new Uint8Array());
      const run: RunInfo = {
        runId: text(one(f, 1)) ?? '',
        entity: text(one(f, 2)),
        project: text(one(f, 3)),
        displayName: text(one(f, 8)),
        tags: texts(f, 10),
        host: text(one(f, 13)),
        startTime: int(one(time, 1)) + int(one(time, 2)) / 1e9,
        config: readItems(fields(one(f, 4)?.bytes ?? new Uint8Array()), 1),
      };
      return { type: 'run', run };
    }
    case F.history:
      return {
        type: 'history',
        items: readItems(f, 1),
        step: int(one(fields(one(f, 2)?.bytes ?? new Uint8Array()), 1)),
      };
    case F.summary:
      return { type: 'summary', items: readItems(f, 1) };
    case F.config:
      return { type: 'config', items: readItems(f, 1) };
    case F.files:
      return {
        type: 'files',
        paths: f.filter((x) => x.n === 1 && x.bytes).map((x) => text(one(fields(x.bytes!), 1)) ?? ''),
      };
    case F.exit:
      return { type: 'exit', exitCode: int(one(f, 1)), runtime: int(one(f, 2)) };
    default:
      return { type: 'other', field: body.n };
  }
}
