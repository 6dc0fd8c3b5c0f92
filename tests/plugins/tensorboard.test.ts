// The tensorboard plugin, read back by a reader written here and independent of the plugin's code: a bitwise
// CRC-32C (the plugin's is table-driven), the record framing and a protobuf decoder. A real short run's event
// file has every record's CRCs right, the file version first, one scalar per metric the run's collectors got
// (tag, step, value as float32, wall time), the HParams summaries and the samples as text; a file cut inside
// its last record still reads back every complete one; bad options name the field.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MetricEvent,
  MetricsCollector,
  prepareRun,
  runLifecycle,
  setConsoleLogLevel,
  standaloneContext,
  getMetricsRegistry,
  type RunLink,
} from '../../src/core/index.js';
import { initBackend } from '../../src/engine/index.js';
import { crc32c, maskedCrc32c } from '../../plugins/tensorboard/crc32c.js';
import { ProtoMessage } from '../../src/core/index.js';
import { TensorBoardPlugin } from '../../plugins/tensorboard/index.js';
import { engineConfig } from '../fixtures/configs.js';
import { tempDir } from '../helpers.js';

// --- the independent reader -------------------------------------------------------------------------------

/** CRC-32C bit by bit (Castagnoli, reflected 0x82F63B78). */
function crcBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

function masked(bytes: Uint8Array): number {
  const crc = crcBitwise(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

interface RecordRead {
  offset: number;
  data: Uint8Array;
  lengthCrcOk: boolean;
  dataCrcOk: boolean;
}

/** Every complete record; `truncated` when bytes are left that do not make a whole record. */
function readRecords(bytes: Uint8Array): { records: RecordRead[]; truncated: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: RecordRead[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const length = Number(view.getBigUint64(at, true));
    if (at + 12 + length + 4 > bytes.length) break;
    const data = bytes.subarray(at + 12, at + 12 + length);
    records.push({
      offset: at,
      data,
      lengthCrcOk: view.getUint32(at + 8, true) === masked(bytes.subarray(at, at + 8)),
      dataCrcOk: view.getUint32(at + 12 + length, true) === masked(data),
    });
    at += 12 + length + 4;
  }
  return { records, truncated: at < bytes.length };
}

interface Field {
  n: number;
  int?: bigint;
  f64?: number;
  f32?: number;
  bytes?: Uint8Array;
}

function decode(bytes: Uint8Array): Field[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = bytes[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const n = key >>> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ n, int: varint() });
    else if (wire === 1) fields.push({ n, f64: view.getFloat64((at += 8) - 8, true) });
    else if (wire === 5) fields.push({ n, f32: view.getFloat32((at += 4) - 4, true) });
    else if (wire === 2) {
      const length = Number(varint());
      fields.push({ n, bytes: bytes.subarray(at, (at += length)) });
    } else throw new Error(`wire type ${wire} at ${at}`);
  }
  return fields;
}

const all = (fields: Field[], n: number) => fields.filter((f) => f.n === n);
const one = (fields: Field[], n: number) => all(fields, n)[0];
const text = (f: Field | undefined) => (f?.bytes ? new TextDecoder().decode(f.bytes) : undefined);
const sub = (f: Field | undefined) => (f?.bytes ? decode(f.bytes) : []);

interface ValueRead {
  tag: string;
  simple?: number;
  plugin?: string;
  content?: Uint8Array;
  tensor: Field[];
}

interface EventRead {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: ValueRead[];
}

/** Event { wall_time 1; step 2; file_version 3; summary 5 { value 1 { tag 1; simple_value 2; tensor 8; metadata 9 } } } */
function readEvent(data: Uint8Array): EventRead {
  const e = decode(data);
  const values = all(sub(one(e, 5)), 1).map((v): ValueRead => {
    const value = sub(v);
    const pluginData = sub(one(sub(one(value, 9)), 1));
    return {
      tag: text(one(value, 1))!,
      simple: one(value, 2)?.f32,
      plugin: text(one(pluginData, 1)),
      content: one(pluginData, 2)?.bytes ?? new Uint8Array(),
      tensor: sub(one(value, 8)),
    };
  });
  return {
    wallTime: one(e, 1)!.f64!,
    step: Number(BigInt.asIntN(64, one(e, 2)?.int ?? 0n)),
    fileVersion: text(one(e, 3)),
    values,
  };
}

/** google.protobuf.Value { number_value 2; string_value 3; bool_value 4 } */
function protoValue(fields: Field[]): unknown {
  const f = fields[0]!;
  return f.n === 2 ? f.f64 : f.n === 3 ? text(f) : f.int === 1n;
}

// --- the tests ----------------------------------------------------------------------------------------------

class Recorder extends MetricsCollector {
  events: MetricEvent[] = [];
  hparams: Record<string, unknown> = {};
  links: RunLink[] = [];
  logMetric(e: MetricEvent): void {
    this.events.push(e);
  }
  logLink(link: RunLink): void {
    this.links.push(link);
  }
  logHyperparameters(params: Record<string, unknown>): void {
    this.hparams = params;
  }
}

function eventFiles(dir: string): string[] {
  return readdirSync(dir).map((f) => path.join(dir, f));
}

describe('CRC-32C', () => {
  it('gives the known answers, table-driven in the plugin and bit by bit here', () => {
    const digits = new TextEncoder().encode('123456789');
    expect(crc32c(digits)).toBe(0xe3069283);
    expect(crcBitwise(digits)).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crcBitwise(new Uint8Array(32))).toBe(0x8a9136aa);
    const random = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) % 256);
    expect(maskedCrc32c(random)).toBe(masked(random));
  });
});

describe('protobuf encoder', () => {
  it('writes varints of large and negative int64s, doubles, floats and nested messages as protobuf reads them', () => {
    const inner = new ProtoMessage().string(1, 'héllo');
    const bytes = new ProtoMessage()
      .int(1, 300)
      .int(2, -1)
      .int(3, 2 ** 40 + 5)
      .double(4, 0.1)
      .float(5, 0.1)
      .bool(6, false)
      .message(7, inner)
      .encode();
    expect([...bytes.subarray(0, 3)]).toEqual([0x08, 0xac, 0x02]);
    const f = decode(bytes);
    expect(f.map((x) => x.n)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(BigInt.asIntN(64, f[1]!.int!)).toBe(-1n);
    expect(f[2]!.int).toBe(2n ** 40n + 5n);
    expect(f[3]!.f64).toBe(0.1);
    expect(f[4]!.f32).toBe(Math.fround(0.1));
    expect(f[5]!.int).toBe(0n);
    expect(text(one(sub(f[6]), 1))).toBe('héllo');
  });
});

describe('tensorboard', () => {
  beforeAll(async () => {
    await initBackend('cpu');
    setConsoleLogLevel('off');
  });

  it("writes a real run's metrics, hyperparameters and samples as TensorBoard reads them", async () => {
    const dir = tempDir();
    const yaml = engineConfig({ plugins: ['tensorboard'], extra: 'tensorboard:\n  flush_secs: 0.2\n' }).replace(
      /\s+- console_logger\n/,
      '\n',
    );
    writeFileSync(path.join(dir, 'run.yaml'), yaml);
    const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    // Registered before the run: it receives exactly what the plugin's collector receives.
    const recorder = new Recorder();
    getMetricsRegistry().register(recorder);
    const outcome = await runLifecycle(prepared, { runFolder: dir });
    expect(outcome.error).toBeUndefined();
    expect(outcome.failures).toEqual([]);

    // The folder is published for the app's run panel, with the command that opens it.
    const logDir = path.join(dir, 'tensorboard');
    expect(recorder.links).toEqual([{ label: 'TensorBoard', path: logDir, hint: `tensorboard --logdir ${logDir}` }]);

    const files = eventFiles(path.join(dir, 'tensorboard'));
    expect(files.map((f) => path.basename(f))).toEqual([
      expect.stringMatching(
        new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${os.hostname().replace(/\W/g, '\\$&')}$`),
      ),
    ]);
    const { records, truncated } = readRecords(readFileSync(files[0]!));
    expect(truncated).toBe(false);
    expect(records.every((r) => r.lengthCrcOk && r.dataCrcOk)).toBe(true);
    const events = records.map((r) => readEvent(r.data));
    expect(events[0]).toMatchObject({ fileVersion: 'brain.Event:2', step: 0, values: [] });

    const scalars = events.flatMap((e) =>
      e.values.filter((v) => v.simple !== undefined).map((v) => [v.tag, e.step, v.simple, e.wallTime]),
    );
    expect(recorder.events.length).toBeGreaterThan(30);
    expect(scalars).toEqual(recorder.events.map((e) => [e.name, e.step, Math.fround(e.value), e.timestamp]));
    expect(new Set(scalars.map((s) => s[0]))).toContain('eval/loss');

    const byTag = (tag: string) => events.flatMap((e) => e.values.filter((v) => v.tag === tag).map((v) => ({ e, v })));
    const [start] = byTag('_hparams_/session_start_info');
    expect(start!.v.plugin).toBe('hparams');
    // HParamsPluginData { version 1 = 0; session_start_info 3 { hparams 1 (map entries) } }
    const startInfo = sub(one(decode(start!.v.content!), 3));
    const hparams = Object.fromEntries(
      all(startInfo, 1).map((entry) => [text(one(sub(entry), 1)), protoValue(sub(one(sub(entry), 2)))]),
    );
    expect(hparams).toEqual(recorder.hparams);
    expect(hparams).toMatchObject({ 'training.learning_rate': 0.01, name: 'e2e', 'formatter.packing': true });
    // The HParams plugin's null tensor: DT_FLOAT, shape [0].
    expect(one(start!.v.tensor, 1)!.int).toBe(1n);

    const [experiment] = byTag('_hparams_/experiment');
    const exp = sub(one(decode(experiment!.v.content!), 2));
    const infos = all(exp, 4).map((i) => [text(one(sub(i), 1)), Number(one(sub(i), 4)!.int)]);
    expect(infos).toContainEqual(['training.learning_rate', 3]);
    expect(infos).toContainEqual(['name', 1]);
    expect(infos).toContainEqual(['formatter.packing', 2]);
    expect(infos.map((i) => i[0])).toEqual(Object.keys(recorder.hparams));
    const metricTags = all(exp, 5).map((m) => text(one(sub(one(sub(m), 1)), 2)));
    expect(metricTags.sort()).toEqual([...new Set(recorder.events.map((e) => e.name))].sort());
    const [end] = byTag('_hparams_/session_end_info');
    expect(one(sub(one(decode(end!.v.content!), 4)), 1)!.int).toBe(1n); // STATUS_SUCCESS

    // The samples (steps 6 and 12): text plugin, DT_STRING scalar tensor, the prompt and what followed.
    const samples = readFileSync(path.join(dir, 'samples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; prompt: string; text: string });
    expect(samples.map((s) => s.step)).toEqual([6, 12]);
    const texts = byTag('samples').map(({ e, v }) => {
      expect(v.plugin).toBe('text');
      expect(one(v.tensor, 1)!.int).toBe(7n);
      return [e.step, text(one(v.tensor, 8))];
    });
    expect(texts).toEqual(samples.map((s) => [s.step, s.prompt + s.text]));
  });

  /** The plugin's hooks called by hand, writing in a new run folder's `tb/`: its collector and event file. */
  async function byHand(flushSecs: number) {
    const ctx = standaloneContext('tensorboard', { runFolder: tempDir() });
    const hooks = new TensorBoardPlugin().hooks();
    expect((await hooks.log_init!({ log_dir: 'tb', flush_secs: flushSecs }, ctx)).ok).toBe(true);
    const collector = (await hooks.metrics_collector!(ctx)).unwrap();
    const [file] = eventFiles(path.join(ctx.runFolder!, 'tb'));
    return {
      collector,
      finish: async () => expect((await hooks.finish!(ctx)).ok).toBe(true),
      read: () => readRecords(readFileSync(file!)),
      bytes: () => readFileSync(file!),
    };
  }

  it('buffers records and appends them whole every flush_secs, and at finish', async () => {
    const { collector, finish, read } = await byHand(0.05);
    expect(read().records).toHaveLength(1);
    await collector.logMetrics([new MetricEvent('loss', 2.5, 1), new MetricEvent('lr', 0.001, 1)]);
    expect(read().records).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(read()).toMatchObject({ records: { length: 3 }, truncated: false });
    await collector.logMetrics([new MetricEvent('loss', 2.4, 2)]);
    await finish();
    const { records } = read();
    expect(records.map((r) => readEvent(r.data).values[0]?.simple)).toEqual([
      undefined,
      2.5,
      Math.fround(0.001),
      Math.fround(2.4),
    ]);
  });

  it('keeps records for a flush_secs longer than a timer can wait, instead of writing them at once', async () => {
    const { collector, finish, read } = await byHand(1e7);
    await collector.logMetrics([new MetricEvent('loss', 2.5, 1)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(read().records).toHaveLength(1);
    await finish();
    expect(read().records).toHaveLength(2);
  });

  it('reads back every complete record of a file cut inside its last record, and tells a corrupt one', async () => {
    const { collector, finish, bytes } = await byHand(5);
    await collector.logMetrics([1, 2, 3, 4].map((step) => new MetricEvent('loss', 1 / step, step)));
    await finish();
    const whole = bytes();
    const { records } = readRecords(whole);
    expect(records).toHaveLength(5);
    const last = records.at(-1)!;
    const cut = whole.subarray(0, last.offset + Math.floor((whole.length - last.offset) / 2));
    const read = readRecords(cut);
    expect(read.truncated).toBe(true);
    expect(read.records.map((r) => [r.lengthCrcOk, r.dataCrcOk])).toEqual(Array(4).fill([true, true]));
    expect(read.records.map((r) => readEvent(r.data).step)).toEqual([0, 1, 2, 3]);

    const corrupt = Uint8Array.from(whole);
    corrupt[last.offset + 14]! ^= 0x01;
    expect(readRecords(corrupt).records.at(-1)).toMatchObject({ lengthCrcOk: true, dataCrcOk: false });
  });

  it.each([
    ['flush_secs: 0', /tensorboard\.flush_secs/],
    ['flush_secs: soon', /tensorboard\.flush_secs/],
    ["log_dir: ''", /tensorboard\.log_dir/],
    ['logdir: runs', /tensorboard.*logdir/],
  ])('refuses `%s`, naming the field', async (option, message) => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'run.yaml'), `plugins: [tensorboard]\ntensorboard:\n  ${option}\n`);
    await expect(prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') })).rejects.toThrow(
      message,
    );
  });

  it('reports a log_dir it cannot write in as an Err naming tensorboard.log_dir', async () => {
    const runFolder = tempDir();
    writeFileSync(path.join(runFolder, 'taken'), 'a file, not a folder');
    const result = await new TensorBoardPlugin().hooks().log_init!(
      { log_dir: 'taken', flush_secs: 5 },
      standaloneContext('tensorboard', { runFolder }),
    );
    expect(result.ok).toBe(false);
    expect(String(!result.ok && result.error.message)).toMatch(/^tensorboard\.log_dir: cannot write an event file in /);
  });
});
