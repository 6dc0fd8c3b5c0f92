// The wandb plugin's files, read back by a reader written in the tests (wandb-helpers.ts) and independent of
// the plugin's code: the `.wandb` framing gives wandb's own 48-byte test vector, cuts records across 32 KiB
// blocks as datastore.py does with every CRC right, and reads back to the last whole record after a cut; an
// offline run leaves the folder `wandb sync` reads (records, files/, history.jsonl), flushed on a timer; the
// key comes from the environment or the netrc (by host and port), never from the YAML; mode disabled writes
// nothing.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DumboError, MetricEvent, prepareRun } from '../../src/core/index.js';
import { KEY_IN_CONFIG } from '../../plugins/wandb/index.js';
import { jsonNumber, parseJson } from '../../plugins/wandb/history.js';
import { FILE_HEADER, frameRecord, readLog } from '../../plugins/wandb/leveldb.js';
import { WandbRunFolder } from '../../plugins/wandb/runfolder.js';
import { findApiKey, netrcPassword, resolveMode } from '../../plugins/wandb/settings.js';
import { tempDir } from '../helpers.js';
import {
  byHand,
  FakeWandb,
  protoInt,
  protoItems,
  protoSub,
  protoText,
  readWandbFile,
  steps,
  until,
  wandbRecord,
} from './wandb-helpers.js';

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).map((b) => parseInt(b, 16)));

/** wandb's test vector (research notes §3): `Record{num:1, header{}}`, `Record{num:2, history{loss 0.5, step 1}}`. */
const VECTOR = hex(
  '3a 57 26 42 e1 be 00 55 b7 a6 3f 05 00 01 08 01 aa 01 00 2d c0 0d 7a 16 00 01 08 02 12 12 0a 0c 0a 04 6c 6f ' +
    '73 73 82 01 03 30 2e 35 12 02 08 01',
);

/** A `.wandb` file of the given records, framed by the plugin's writer. */
function logOf(records: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [FILE_HEADER];
  let end = FILE_HEADER.length;
  for (const r of records) {
    for (const p of frameRecord(r, end)) {
      parts.push(p);
      end += p.length;
    }
  }
  return Buffer.concat(parts);
}

const payload = (n: number, seed: number) =>
  Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251));
/** Records as Buffers, to compare contents whatever view a reader returns. */
const buffers = (records: Uint8Array[]) => records.map((r) => Buffer.from(r));

describe('the .wandb framing', () => {
  it("writes wandb's 48-byte test vector: the file header, then two FULL chunks with zlib CRC-32s", () => {
    const folder = new WandbRunFolder(tempDir(), false, 'abcd1234', Date.now() / 1000);
    folder.history([{ key: 'loss', valueJson: '0.5' }], 1, '{"loss":0.5}');
    folder.close();
    const bytes = readFileSync(folder.logFile);
    expect([...bytes]).toEqual([...VECTOR]);
    const read = readWandbFile(bytes);
    expect(read.chunks.map((c) => [c.type, c.crcOk])).toEqual([
      [1, true],
      [1, true],
    ]);
  });

  it.each([
    ['fills a block exactly with one FULL chunk', 32761, [1]],
    ['goes on in the next block with FIRST and LAST', 32762, [2, 4]],
    ['spans four blocks as FIRST, MIDDLE, MIDDLE, LAST', 100_000, [2, 3, 3, 4]],
  ])('a record at the start of a block %s (%i bytes)', (_what, size, types) => {
    // The first record ends block 0 exactly (7 + 7 + 32754 = 32768), so the second starts block 1.
    const records = [payload(32754, 1), payload(size, 2)];
    const bytes = logOf(records);
    const read = readWandbFile(bytes);
    expect(read.chunks[1]!.offset).toBe(32768);
    expect(read.chunks.slice(1).map((c) => c.type)).toEqual(types);
    expect(read.chunks.every((c) => c.crcOk && (c.offset % 32768) + 7 + c.length <= 32768)).toBe(true);
    expect(buffers(read.records)).toEqual(records);
    expect(readLog(bytes).problem).toBeUndefined();
    expect(buffers(readLog(bytes).records)).toEqual(records);
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7])('leaves a block tail of %i bytes as datastore.py does', (tail) => {
    // The first record leaves `tail` bytes in block 0; 0-6 are zero padding, 7 take a FIRST chunk of no data.
    const records = [payload(32768 - 14 - tail, 3), payload(100, 4), payload(50, 5)];
    const bytes = logOf(records);
    const read = readWandbFile(bytes);
    expect(read.paddingOk).toBe(true);
    expect(read.chunks.every((c) => c.crcOk)).toBe(true);
    if (tail < 7) expect(read.chunks[1]).toMatchObject({ offset: 32768, type: 1, length: 100 });
    else expect(read.chunks.slice(1, 3)).toMatchObject([{ offset: 32761, type: 2, length: 0 }, { type: 4 }]);
    expect(buffers(read.records)).toEqual(records);
    expect(buffers(readLog(bytes).records)).toEqual(records);
  });

  it('reads back every record before a cut, and stops at a corrupt one saying where', () => {
    const records = [payload(40_000, 6), payload(10, 7), payload(20, 8)];
    const bytes = logOf(records);
    const lastStart = bytes.length - 27;
    const cut = readLog(bytes.subarray(0, lastStart + 10));
    expect(buffers(cut.records)).toEqual(records.slice(0, 2));
    expect(cut.problem).toBe(`a cut record at byte ${lastStart}`);
    // Cut inside the first record's LAST chunk: nothing whole is left, and the reader says so.
    expect(readLog(bytes.subarray(0, 33_000)).records).toEqual([]);
    expect(readWandbFile(bytes.subarray(0, 33_000)).cut).toBe(true);
    const corrupt = Uint8Array.from(bytes);
    corrupt[lastStart - 3]! ^= 1;
    expect(readLog(corrupt)).toMatchObject({
      records: [records[0]],
      problem: expect.stringMatching(/^a bad checksum/),
    });
  });
});

describe('an offline run', () => {
  it('leaves the folder wandb sync reads: records in order, files/, history.jsonl', async () => {
    const run = await byHand({ env: { WANDB_MODE: 'offline' } }, { project: 'proj', tags: ['a', 'b'] });
    run.collector.logHyperparameters({ 'training.learning_rate': 0.01, name: 'e2e', 'formatter.packing': true });
    run.collector.logMetrics(steps(1, 2));
    run.collector.logMetrics([new MetricEvent('eval/loss', 2.5, 2), new MetricEvent('loss', NaN, 3)]);
    await run.endTraining();
    await run.finish();

    const dir = run.dir();
    const id = /^offline-run-\d{8}_\d{6}-([a-z0-9]{8})$/.exec(path.basename(dir))![1]!;
    expect(path.dirname(dir)).toBe(path.join(run.runFolder, 'wandb'));
    expect(readdirSync(dir).sort()).toEqual(['files', 'history.jsonl', `run-${id}.wandb`]);
    const files = path.join(dir, 'files');
    expect(readdirSync(files).sort()).toEqual([
      'config.yaml',
      'output.log',
      'wandb-metadata.json',
      'wandb-summary.json',
    ]);

    const read = readWandbFile(readFileSync(path.join(dir, `run-${id}.wandb`)));
    expect(read).toMatchObject({ paddingOk: true, cut: false });
    expect(read.chunks.every((c) => c.crcOk)).toBe(true);
    const records = read.records.map(wandbRecord);
    expect(records.map((r) => r.num)).toEqual(records.map((_, i) => i + 1));
    expect(records.map((r) => r.kind)).toEqual([
      'header',
      'run',
      ...['history', 'summary', 'history', 'summary', 'history', 'summary'],
      'files',
      'exit',
      'final',
      'footer',
    ]);
    const runRecord = records[1]!.body;
    expect(protoText(runRecord, 1)).toBe(id);
    expect(protoText(runRecord, 3)).toBe('proj');
    expect(protoText(runRecord, 8)).toBe(path.basename(run.runFolder));
    expect([protoText(runRecord, 10, 0), protoText(runRecord, 10, 1)]).toEqual(['a', 'b']);
    expect(Math.abs(protoInt(protoSub(runRecord, 17), 1) - Date.now() / 1000)).toBeLessThan(60);
    expect(protoItems(protoSub(runRecord, 4))).toEqual([
      ['training.learning_rate', '0.01'],
      ['name', '"e2e"'],
      ['formatter.packing', 'true'],
    ]);

    const history = records.filter((r) => r.kind === 'history');
    expect(history.map((h) => protoInt(protoSub(h.body, 2), 1))).toEqual([1, 2, 3]);
    const keys = history.map((h) => protoItems(h.body).map(([k]) => k));
    expect(keys).toEqual([
      ['loss', 'lr', '_step', '_runtime', '_timestamp'],
      ['loss', 'lr', 'eval/loss', '_step', '_runtime', '_timestamp'],
      ['loss', '_step', '_runtime', '_timestamp'],
    ]);
    // history.jsonl holds the same rows as JSON lines; NaN is written bare, as wandb writes it.
    const lines = readFileSync(path.join(dir, 'history.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => parseJson(l))).toEqual(
      history.map((h) => Object.fromEntries(protoItems(h.body).map(([k, v]) => [k, parseJson(v)]))),
    );
    expect(lines[2]).toMatch(/^\{"loss":NaN,"_step":3,/);
    expect(parseJson(lines[1]!)).toMatchObject({ loss: 0.5, lr: 0.002, 'eval/loss': 2.5, _step: 2 });

    const summary = parseJson(readFileSync(path.join(files, 'wandb-summary.json'), 'utf8')) as Record<string, unknown>;
    expect(summary).toMatchObject({ loss: NaN, lr: 0.002, 'eval/loss': 2.5, _step: 3, _wandb: { runtime: 0 } });
    expect(protoItems(records.at(-5)!.body).map(([k]) => k)).toContain('_wandb.runtime');
    expect(readFileSync(path.join(files, 'config.yaml'), 'utf8')).toBe(
      'wandb_version: 1\n\ntraining.learning_rate:\n  desc: null\n  value: 0.01\nname:\n  desc: null\n' +
        '  value: "e2e"\nformatter.packing:\n  desc: null\n  value: true\n',
    );
    expect(JSON.parse(readFileSync(path.join(files, 'wandb-metadata.json'), 'utf8'))).toMatchObject({
      program: 'dumbo',
      startedAt: expect.any(String),
    });
    const filesRecord = records.find((r) => r.kind === 'files')!.body;
    expect((filesRecord.get(1) ?? []).length).toBe(4);
    expect(protoInt(records.find((r) => r.kind === 'exit')!.body, 1)).toBe(0);

    expect(run.links).toEqual([{ label: 'W&B', path: dir, hint: `dumbo wandb-sync ${dir}` }]);
    expect(run.logs).toContainEqual(['info', `W&B offline run in ${dir}: upload it with dumbo wandb-sync ${dir}`]);
    expect(run.warnings()).toEqual([]);
  });

  it('writes its records on a timer, whole, so that a crash leaves a log that reads back; exit code 1 without a training end', async () => {
    const run = await byHand({ env: { WANDB_MODE: 'offline' }, flushSecs: 0.05 });
    const log = () =>
      readFileSync(
        path.join(
          run.dir(),
          readdirSync(run.dir()).find((f) => f.endsWith('.wandb'))!,
        ),
      );
    expect(readWandbFile(log()).records.map((r) => wandbRecord(r).kind)).toEqual(['header']);
    run.collector.logMetrics(steps(1, 3));
    // Steps 1 and 2 are closed rows (step 3's row is open until another step or the end).
    await until(() => readWandbFile(log()).records.length === 6);
    const prefix = readWandbFile(log());
    expect(prefix.cut).toBe(false);
    expect(prefix.records.map((r) => wandbRecord(r).kind)).toEqual([
      'header',
      'run',
      'history',
      'summary',
      'history',
      'summary',
    ]);
    await run.finish();
    const records = readWandbFile(log()).records.map(wandbRecord);
    expect(records.filter((r) => r.kind === 'history')).toHaveLength(3);
    expect(protoInt(records.find((r) => r.kind === 'exit')!.body, 1)).toBe(1);
  });
});

describe('settings', () => {
  it('finds the key for the server by host and port in the netrc, after WANDB_API_KEY', () => {
    const netrc = path.join(tempDir(), 'netrc');
    writeFileSync(
      netrc,
      '# W&B keys\nmachine 127.0.0.1:8080\n  login user\n  password "key for 8080"\n' +
        'macdef init\n  machine 127.0.0.1:9090 password not-a-machine\n\n' +
        'machine 127.0.0.1 login user password key-without-port\nmachine api.wandb.ai login user password cloud-key\n' +
        'default login anyone password default-key\n',
    );
    const env = { NETRC: netrc };
    expect(findApiKey('http://127.0.0.1:8080', env)).toEqual({ key: 'key for 8080', source: netrc });
    expect(findApiKey('http://127.0.0.1', env)?.key).toBe('key-without-port');
    expect(findApiKey('https://api.wandb.ai', env)?.key).toBe('cloud-key');
    expect(findApiKey('http://127.0.0.1:9090', env)?.key).toBe('default-key');
    expect(findApiKey('http://127.0.0.1:8080', { ...env, WANDB_API_KEY: 'from-env' })).toEqual({
      key: 'from-env',
      source: 'WANDB_API_KEY',
    });
    expect(findApiKey('http://127.0.0.1:8080', { NETRC: path.join(tempDir(), 'none') })).toBeUndefined();
    expect(netrcPassword('machine a password x\nmachine b', 'b')).toBeUndefined();
  });

  it('takes the mode from the YAML, else WANDB_MODE (with its old names), else online', () => {
    expect(resolveMode(undefined, {})).toBe('online');
    expect(resolveMode(undefined, { WANDB_MODE: 'dryrun' })).toBe('offline');
    expect(resolveMode(undefined, { WANDB_MODE: 'Disabled' })).toBe('disabled');
    expect(resolveMode('online', { WANDB_MODE: 'offline' })).toBe('online');
    expect(() => resolveMode(undefined, { WANDB_MODE: 'sometimes' })).toThrow(
      'WANDB_MODE=sometimes is not a mode: expected online, offline or disabled',
    );
  });

  it('writes NaN and infinities as wandb does, and reads them back', () => {
    expect([NaN, Infinity, -Infinity, 0.1].map(jsonNumber)).toEqual(['NaN', 'Infinity', '-Infinity', '0.1']);
    expect(parseJson('{"a":NaN,"b":[-Infinity],"c":"NaN"}')).toEqual({ a: NaN, b: [-Infinity], c: 'NaN' });
  });

  it.each(['api_key', 'key'])('refuses `%s:` in the YAML, saying where keys go', async (field) => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'run.yaml'), `plugins: [wandb]\nwandb:\n  project: p\n  ${field}: 0123456789abcdef\n`);
    const error = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DumboError);
    expect((error as DumboError).message).toBe(`wandb.${field}: ${KEY_IN_CONFIG}`);
    expect((error as DumboError).location).toMatchObject({ line: 4, column: field.length + 5 }); // at the value
  });

  it('in mode disabled, writes nothing and sends nothing', async () => {
    const server = await new FakeWandb().start();
    try {
      const env = { WANDB_MODE: 'disabled', WANDB_BASE_URL: server.url, WANDB_API_KEY: 'k'.repeat(40) };
      const run = await byHand({ env, flushSecs: 0.01 });
      run.collector.logHyperparameters({ lr: 1 });
      run.collector.logMetrics(steps(1, 5));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await run.endTraining();
      await run.finish();
      expect(readdirSync(run.runFolder)).toEqual([]);
      expect(server.requests).toEqual([]);
      expect(run.links).toEqual([]);
      expect(existsSync(path.join(run.runFolder, 'wandb'))).toBe(false);
    } finally {
      await server.close();
    }
  });
});
