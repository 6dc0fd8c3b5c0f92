// Safetensors read/write: round trips, exact dtype conversion, one test per malformed-header error, sharded
// model folders, atomic writes, and a cross-check against files written and read by numpy (when present).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { HostTensor } from '../../src/engine/models/types.js';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsFolder,
  writeSafetensors,
  writeSafetensorsSharded,
} from '../../src/engine/safetensors.js';
import { tempDir } from '../helpers.js';

// Fault injection for the atomic-write tests: `writeSync` fails with ENOSPC once this many calls succeeded.
const fault = vi.hoisted(() => ({ writesBeforeFailure: Infinity }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (fault.writesBeforeFailure-- <= 0) {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return fs.writeSync(...args);
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

function tensor(shape: number[], values: number[]): HostTensor {
  return { shape, data: Float32Array.from(values) };
}

/** Plain arrays, so NaN, -0 and exact values compare with Object.is semantics. */
function plain(tensors: Map<string, HostTensor>): Record<string, { shape: number[]; data: number[] }> {
  return Object.fromEntries([...tensors].map(([name, t]) => [name, { shape: t.shape, data: Array.from(t.data) }]));
}

/**
 * A safetensors file assembled by hand, not by the encoder under test: the header as given (unpadded, so
 * the data is usually misaligned) and the raw data bytes.
 */
function handMade(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Buffer {
  const json = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

/** A hand-made file holding the given tensors one after another. */
function handMadeTensors(specs: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[]): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const s of specs) {
    header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + s.bytes.length] };
    offset += s.bytes.length;
  }
  return handMade(header, Buffer.concat(specs.map((s) => s.bytes)));
}

function u16le(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
}

/** Asserts that `fn` throws a SafetensorsError with exactly this message, file and tensor. */
function expectError(fn: () => unknown, message: string, file: string, tensorName?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const error = caught as SafetensorsError;
  expect(error.message).toBe(message);
  expect(error.file).toBe(file);
  expect(error.tensor).toBe(tensorName);
}

const F = 'model.safetensors';

describe('writing and reading safetensors files', () => {
  it('round-trips tensors through a file with identical names, shapes, float32 values and metadata', async () => {
    const dir = tempDir('dumbo-st-');
    const file = path.join(dir, 'model.safetensors');
    const tensors = new Map<string, HostTensor>([
      ['transformer.wte.weight', tensor([2, 3], [0.1, -2.5, 3e-38, 1e-45, 65504.5, -0])],
      ['special', tensor([4], [NaN, Infinity, -Infinity, 1 / 3])],
      ['scalar', tensor([], [42])],
      ['empty', tensor([0, 3], [])],
      ['ünïcode.名前', tensor([1, 1, 1], [7])],
    ]);
    writeSafetensors(file, tensors, { format: 'pt', step: '12' });

    const read = await readSafetensors(file);
    expect(plain(read.tensors)).toEqual(plain(tensors));
    expect(Object.is(read.tensors.get('transformer.wte.weight')!.data[5], -0)).toBe(true);
    expect(read.metadata).toEqual({ format: 'pt', step: '12' });
    expect(plain(decodeSafetensors(readFileSync(file)).tensors)).toEqual(plain(tensors));
  });

  it('writes tensors as F32 sorted by name after a space-padded header of a multiple of 8 bytes', () => {
    const a = new Map([
      ['b', tensor([1], [2])],
      ['a', tensor([2], [1, 1])],
    ]);
    const b = new Map([...a].reverse());
    const bytes = encodeSafetensors(a);
    expect(encodeSafetensors(b).equals(bytes)).toBe(true);

    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const headerText = bytes.subarray(8, 8 + n).toString('utf8');
    expect(headerText).toMatch(/^\{.*\} *$/);
    expect(JSON.parse(headerText)).toEqual({
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    });
    expect(Object.keys(JSON.parse(headerText))).toEqual(['__metadata__', 'a', 'b']);
    expect(bytes.length).toBe(8 + n + 12);
  });

  it('refuses to write a tensor whose shape does not match its data', () => {
    expectError(
      () => encodeSafetensors(new Map([['w', tensor([2, 2], [1, 2, 3])]])),
      "<buffer>: tensor 'w' has shape [2,2] (4 values) but 3 values",
      '<buffer>',
      'w',
    );
  });

  it('returns aligned F32 data as a view on the buffer instead of a copy', () => {
    const bytes = encodeSafetensors(new Map([['w', tensor([2], [1, 2])]]));
    const aligned = new Uint8Array(new ArrayBuffer(bytes.length));
    aligned.set(bytes);
    expect(decodeSafetensors(aligned).tensors.get('w')!.data.buffer).toBe(aligned.buffer);

    const misaligned = handMadeTensors([
      { name: 'w', dtype: 'F32', shape: [2], bytes: Buffer.from(new Float32Array([1, 2]).buffer) },
    ]);
    expect((8 + misaligned.readUInt32LE(0)) % 4).not.toBe(0);
    const copied = decodeSafetensors(misaligned).tensors.get('w')!.data;
    expect(Array.from(copied)).toEqual([1, 2]);
    expect(copied.buffer).not.toBe(misaligned.buffer);
  });
});

describe('converting stored dtypes to float32', () => {
  it('decodes F16 exactly: normals, negatives, subnormals, zeros, infinities and NaN', async () => {
    const bits = [
      0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00,
    ];
    const expected = [
      1,
      -2,
      0.333251953125, // 0x155 / 1024 + 1, times 2^-2
      65504, // largest finite half
      2 ** -14, // smallest normal
      2 ** -24, // smallest subnormal
      1023 * 2 ** -24, // largest subnormal
      -(2 ** -24),
      0,
      -0,
      Infinity,
      -Infinity,
      NaN,
    ];
    const file = handMadeTensors([{ name: 'h', dtype: 'F16', shape: [bits.length], bytes: u16le(bits) }]);
    expect(Array.from(decodeSafetensors(file).tensors.get('h')!.data)).toEqual(expected);

    const onDisk = path.join(tempDir('dumbo-st-'), F);
    writeFileSync(onDisk, file);
    expect(Array.from((await readSafetensors(onDisk)).tensors.get('h')!.data)).toEqual(expected);
  });

  it('decodes BF16 exactly: normals, negatives, float32 subnormals, infinities and NaN', async () => {
    const bits = [0x3f80, 0xc040, 0x3eab, 0x7f7f, 0x0080, 0x0001, 0x8001, 0x8000, 0x7f80, 0xff80, 0x7fc0];
    const expected = [
      1,
      -3,
      0.333984375, // (1 + 0x2b/128) * 2^-2
      255 * 2 ** 120, // largest finite bfloat16
      2 ** -126, // smallest normal
      2 ** -133, // smallest bfloat16 subnormal
      -(2 ** -133),
      -0,
      Infinity,
      -Infinity,
      NaN,
    ];
    const file = handMadeTensors([{ name: 'b', dtype: 'BF16', shape: [bits.length], bytes: u16le(bits) }]);
    expect(Array.from(decodeSafetensors(file).tensors.get('b')!.data)).toEqual(expected);

    const onDisk = path.join(tempDir('dumbo-st-'), F);
    writeFileSync(onDisk, file);
    expect(Array.from((await readSafetensors(onDisk)).tensors.get('b')!.data)).toEqual(expected);
  });

  it('converts F64 and integer dtypes, rounding to the nearest float32 and reading BOOL bytes as 0 or 1', async () => {
    const f64 = Buffer.from(new Float64Array([0.1, -1e300, 2.5]).buffer);
    const i64 = Buffer.from(new BigInt64Array([-3n, 2n ** 40n, 0n]).buffer);
    const u64 = Buffer.from(new BigUint64Array([2n ** 63n, 5n]).buffer);
    const i32 = Buffer.from(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 16777217]).buffer);
    const u32 = Buffer.from(new Uint32Array([2 ** 32 - 1]).buffer);
    const i16 = Buffer.from(new Int16Array([-32768, 32767]).buffer);
    const u16 = Buffer.from(new Uint16Array([65535]).buffer);
    const file = handMadeTensors([
      { name: 'f64', dtype: 'F64', shape: [3], bytes: f64 },
      { name: 'i64', dtype: 'I64', shape: [3], bytes: i64 },
      { name: 'u64', dtype: 'U64', shape: [2], bytes: u64 },
      { name: 'i32', dtype: 'I32', shape: [3], bytes: i32 },
      { name: 'u32', dtype: 'U32', shape: [1], bytes: u32 },
      { name: 'i16', dtype: 'I16', shape: [2], bytes: i16 },
      { name: 'u16', dtype: 'U16', shape: [1], bytes: u16 },
      { name: 'i8', dtype: 'I8', shape: [2], bytes: Buffer.from([0x80, 0x7f]) },
      { name: 'u8', dtype: 'U8', shape: [2], bytes: Buffer.from([0, 255]) },
      { name: 'bool', dtype: 'BOOL', shape: [3], bytes: Buffer.from([0, 1, 2]) },
    ]);
    const expected = {
      f64: { shape: [3], data: [Math.fround(0.1), -Infinity, 2.5] },
      i64: { shape: [3], data: [-3, 2 ** 40, 0] },
      u64: { shape: [2], data: [2 ** 63, 5] },
      i32: { shape: [3], data: [-(2 ** 31), 2 ** 31, 16777216] },
      u32: { shape: [1], data: [2 ** 32] },
      i16: { shape: [2], data: [-32768, 32767] },
      u16: { shape: [1], data: [65535] },
      i8: { shape: [2], data: [-128, 127] },
      u8: { shape: [2], data: [0, 255] },
      bool: { shape: [3], data: [0, 1, 1] },
    };
    expect(plain(decodeSafetensors(file).tensors)).toEqual(expected);

    const onDisk = path.join(tempDir('dumbo-st-'), F);
    writeFileSync(onDisk, file);
    expect(plain((await readSafetensors(onDisk)).tensors)).toEqual(expected);
  });
});

describe('validating safetensors headers', () => {
  const w = (entry: unknown, data = new Uint8Array(24)) => handMade({ w: entry }, data);
  const decode = (bytes: Uint8Array) => () => decodeSafetensors(bytes, F);

  it('names a file shorter than the 8-byte header length', () => {
    expectError(
      decode(Buffer.from([1, 2, 3])),
      'model.safetensors: file is 3 bytes, shorter than the 8-byte header length (not a safetensors file?)',
      F,
    );
  });

  it('names a header length larger than the file', () => {
    const bytes = Buffer.alloc(18);
    bytes.writeBigUInt64LE(1000n);
    expectError(
      decode(bytes),
      'model.safetensors: header length 1000 is larger than the file (10 bytes follow the 8-byte length; not a safetensors file, or truncated?)',
      F,
    );
    bytes.writeBigUInt64LE(2n ** 64n - 1n);
    expect(decode(bytes)).toThrow(/header length 18446744073709551615 is larger than the file/);
  });

  it('names a header that is not valid JSON, not UTF-8, or not an object', () => {
    expect(decode(handMade(null, undefined, '{"w": {'))).toThrow(
      /^model\.safetensors: header is not valid JSON \(.+\)$/,
    );
    const notUtf8 = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0xfe])]);
    expectError(decode(notUtf8), 'model.safetensors: header is not valid UTF-8', F);
    expectError(decode(handMade([1, 2])), 'model.safetensors: header is not a JSON object (got [1,2])', F);
    expectError(decode(handMade(null)), 'model.safetensors: header is not a JSON object (got null)', F);
  });

  it('names the tensor and the dtype when the dtype is unknown', () => {
    const expectedDtypes = 'F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, U16, U32, U64';
    const header = { 'h.0.attn.bias': { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } };
    expectError(
      decode(handMade(header, new Uint8Array(1))),
      `model.safetensors: tensor 'h.0.attn.bias' has unknown dtype 'Q4' (expected one of ${expectedDtypes})`,
      F,
      'h.0.attn.bias',
    );
    expectError(
      decode(w({ dtype: 'F8_E4M3', shape: [24], data_offsets: [0, 24] })),
      `model.safetensors: tensor 'w' has unknown dtype 'F8_E4M3' (expected one of ${expectedDtypes})`,
      F,
      'w',
    );
  });

  it('names a tensor whose entry or shape is malformed', () => {
    expectError(decode(w('F32')), 'model.safetensors: tensor \'w\' is "F32", not an object', F, 'w');
    for (const [shape, shown] of [
      [[-1, 2], '[-1,2]'],
      [[1.5], '[1.5]'],
      ['6', '"6"'],
      [undefined, 'missing'],
    ] as const) {
      expectError(
        decode(w({ dtype: 'F32', shape, data_offsets: [0, 24] })),
        `model.safetensors: tensor 'w' has shape ${shown}; expected an array of non-negative integers`,
        F,
        'w',
      );
    }
  });

  it('names a tensor whose data_offsets are not [begin, end] with begin <= end', () => {
    for (const [offsets, shown] of [
      [[0], '[0]'],
      [[0, 24, 48], '[0,24,48]'],
      [[-8, 16], '[-8,16]'],
      [undefined, 'missing'],
    ] as const) {
      expectError(
        decode(w({ dtype: 'F32', shape: [6], data_offsets: offsets })),
        `model.safetensors: tensor 'w' has data_offsets ${shown}; expected [begin, end] of non-negative integers`,
        F,
        'w',
      );
    }
    expectError(
      decode(w({ dtype: 'F32', shape: [0], data_offsets: [24, 0] })),
      "model.safetensors: tensor 'w' has data_offsets [24,0]; expected [begin, end] with begin <= end",
      F,
      'w',
    );
  });

  it('names a tensor whose byte span disagrees with its shape and dtype', () => {
    expectError(
      decode(w({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] })),
      "model.safetensors: tensor 'w': header says shape [2,3] of F32 = 24 bytes but data_offsets [0,20] span 20",
      F,
      'w',
    );
  });

  it('names a tensor that needs bytes past the end of the file', async () => {
    const truncated = handMade({ w: { dtype: 'F32', shape: [250], data_offsets: [0, 1000] } }, new Uint8Array(800));
    expectError(
      decode(truncated),
      "model.safetensors: truncated: tensor 'w' needs bytes up to 1000 but the file's data has 800",
      F,
      'w',
    );

    const onDisk = path.join(tempDir('dumbo-st-'), F);
    writeFileSync(onDisk, truncated);
    const error = await readSafetensors(onDisk).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect(error).toMatchObject({
      file: onDisk,
      tensor: 'w',
      message: `${onDisk}: truncated: tensor 'w' needs bytes up to 1000 but the file's data has 800`,
    });
  });

  it('names both tensors when their bytes overlap, but accepts empty tensors anywhere', () => {
    const header = {
      a: { dtype: 'F32', shape: [6], data_offsets: [0, 24] },
      b: { dtype: 'F32', shape: [6], data_offsets: [16, 40] },
    };
    expectError(
      decode(handMade(header, new Uint8Array(40))),
      "model.safetensors: tensors 'a' (data bytes 0-24) and 'b' (data bytes 16-40) overlap",
      F,
      'b',
    );
    const withEmpty = { ...header, b: { dtype: 'F32', shape: [0, 6], data_offsets: [8, 8] } };
    expect(decodeSafetensors(handMade(withEmpty, new Uint8Array(24))).tensors.get('b')).toEqual({
      shape: [0, 6],
      data: new Float32Array(0),
    });
  });

  it('names metadata that is not a map of strings', () => {
    expectError(
      decode(handMade({ __metadata__: { format: 'pt', step: 3 } })),
      "model.safetensors: __metadata__ value 'step' is 3, not a string",
      F,
    );
  });
});

describe('model folders', () => {
  const weights = new Map<string, HostTensor>([
    ['a.weight', tensor([2, 2], [1, 2, 3, 4])], // 16 bytes
    ['b.weight', tensor([3], [5, 6, 7])], // 12 bytes
    ['c.bias', tensor([1], [8])], // 4 bytes
    ['d.weight', tensor([5], [9, 10, 11, 12, 13])], // 20 bytes
  ]);

  it('writes one model.safetensors when the weights fit in a shard and reads it back', async () => {
    const dir = tempDir('dumbo-st-');
    expect(writeSafetensorsSharded(dir, weights, 1000)).toEqual(['model.safetensors']);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(plain((await readSafetensorsFolder(dir)).tensors)).toEqual(plain(weights));
  });

  it('writes shards plus an index when the weights do not fit, and reads all shards back merged', async () => {
    const dir = tempDir('dumbo-st-');
    const written = writeSafetensorsSharded(dir, weights, 30);
    // 16+12 fit in 30; +4 would not. 4+20 fit.
    expect(written).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    expect(readdirSync(dir).sort()).toEqual([...written].sort());
    expect(JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'))).toEqual({
      metadata: { total_size: 52 },
      weight_map: {
        'a.weight': 'model-00001-of-00002.safetensors',
        'b.weight': 'model-00001-of-00002.safetensors',
        'c.bias': 'model-00002-of-00002.safetensors',
        'd.weight': 'model-00002-of-00002.safetensors',
      },
    });
    const read = await readSafetensorsFolder(dir);
    expect(plain(read.tensors)).toEqual(plain(weights));
    expect(read.metadata).toEqual({ format: 'pt' });
  });

  it('gives a tensor larger than the shard limit a shard of its own', () => {
    const dir = tempDir('dumbo-st-');
    expect(writeSafetensorsSharded(dir, weights, 8)).toHaveLength(5);
  });

  it('removes the weight files of an earlier save that the new layout does not use', async () => {
    const dir = tempDir('dumbo-st-');
    writeSafetensorsSharded(dir, weights, 1000);
    writeSafetensorsSharded(dir, weights, 8);
    expect(readdirSync(dir)).not.toContain('model.safetensors');
    writeSafetensorsSharded(dir, new Map([['only', tensor([1], [1])]]), 1000);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect([...(await readSafetensorsFolder(dir)).tensors.keys()]).toEqual(['only']);
  });

  it('names a shard that the index lists but the folder lacks', async () => {
    const dir = tempDir('dumbo-st-');
    writeSafetensorsSharded(dir, weights, 30);
    rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    const index = path.join(dir, 'model.safetensors.index.json');
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({
      name: 'SafetensorsError',
      file: index,
      tensor: 'c.bias',
      message: `${index}: shard 'model-00002-of-00002.safetensors' (listed in weight_map for 'c.bias' and 1 other tensor(s)) does not exist in ${dir}`,
    });
  });

  it('names a tensor that the index maps to a shard which does not contain it', async () => {
    const dir = tempDir('dumbo-st-');
    writeSafetensorsSharded(dir, weights, 30);
    const index = path.join(dir, 'model.safetensors.index.json');
    const parsed = JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> };
    parsed.weight_map['c.bias'] = 'model-00001-of-00002.safetensors';
    writeFileSync(index, JSON.stringify(parsed));
    const shard = path.join(dir, 'model-00001-of-00002.safetensors');
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({
      file: shard,
      tensor: 'c.bias',
      message: `${shard}: tensor 'c.bias' is listed in model.safetensors.index.json's weight_map but this shard does not contain it`,
    });
  });

  it('refuses an index that points outside the folder', async () => {
    const dir = tempDir('dumbo-st-');
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../x' } }));
    await expect(readSafetensorsFolder(dir)).rejects.toThrow(
      `weight_map maps tensor 'w' to "../x", not a file name in the folder`,
    );
  });

  it('says what it looked for when the folder holds neither file', async () => {
    const dir = tempDir('dumbo-st-');
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({
      file: dir,
      message: `${dir}: no weights: looked for model.safetensors and model.safetensors.index.json (sharded), found neither`,
    });
  });
});

describe('atomic writes', () => {
  const old = new Map([['w', tensor([2], [1, 2])]]);
  const next = new Map([
    ['w', tensor([2], [3, 4])],
    ['v', tensor([1], [5])],
  ]);

  it('replaces the file and leaves no temporary file behind', async () => {
    const dir = tempDir('dumbo-st-');
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, old);
    writeSafetensors(file, next);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(plain((await readSafetensors(file)).tensors)).toEqual(plain(next));
  });

  it('keeps the old file intact and removes the temporary file when a write fails midway', async () => {
    const dir = tempDir('dumbo-st-');
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, old);
    const before = readFileSync(file);

    fault.writesBeforeFailure = 1; // the header is written, then the disk is "full"
    try {
      expect(() => writeSafetensors(file, next)).toThrow(`${file}: could not write: no space left on device (ENOSPC)`);
    } finally {
      fault.writesBeforeFailure = Infinity;
    }
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(plain((await readSafetensors(file)).tensors)).toEqual(plain(old));
  });

  it('fails naming the file, and creates nothing, when the target folder is gone', () => {
    const dir = tempDir('dumbo-st-');
    const gone = path.join(dir, 'removed');
    const file = path.join(gone, 'model.safetensors');
    let caught: unknown;
    try {
      writeSafetensors(file, next);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SafetensorsError);
    expect((caught as SafetensorsError).message).toMatch(`${file}: could not write: no such file or folder (ENOENT`);
    expect(existsSync(gone)).toBe(false);
  });

  // Root ignores permissions, so a read-only folder cannot make the write fail there.
  it.skipIf(process.platform === 'win32' || process.getuid?.() === 0)(
    'keeps the old file when the folder is read-only',
    async () => {
      const dir = tempDir('dumbo-st-');
      const file = path.join(dir, 'model.safetensors');
      writeSafetensors(file, old);
      chmodSync(dir, 0o555);
      try {
        expect(() => writeSafetensors(file, next)).toThrow(/could not write: permission denied \(EACCES/);
      } finally {
        chmodSync(dir, 0o755);
      }
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      expect(plain((await readSafetensors(file)).tensors)).toEqual(plain(old));
    },
  );
});

// An independent implementation: numpy writes a file (its own float16 conversion included) that we read,
// and reads the file we write. Skipped where python3 with numpy is not installed.
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasNumpy)('compatibility with an independent writer and reader (numpy)', () => {
  const python = (script: string, ...args: string[]): string => {
    const result = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return result.stdout;
  };

  it('reads a file that numpy wrote and writes one that numpy reads', async () => {
    const dir = tempDir('dumbo-st-');
    const theirs = path.join(dir, 'theirs.safetensors');
    const expected = JSON.parse(
      python(
        `
import json, struct, sys
import numpy as np
arrays = {
  "f32": np.array([[0.1, -2.0], [3.5, 1e-40]], dtype="<f4"),
  "f16": np.array([0.1, -65504, 6e-8, 1e-5], dtype="<f2"),
  "i64": np.array([-7, 123456789], dtype="<i8"),
  "bool": np.array([True, False, True], dtype="bool"),
}
names = {"float32": "F32", "float16": "F16", "int64": "I64", "bool": "BOOL"}
header, data = {"__metadata__": {"format": "np"}}, b""
for name, a in arrays.items():
    raw = a.tobytes()
    header[name] = {"dtype": names[a.dtype.name], "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
print(json.dumps({k: {"shape": list(a.shape), "data": a.astype("f4").astype(float).ravel().tolist()} for k, a in arrays.items()}))
`,
        theirs,
      ),
    ) as unknown;
    const read = await readSafetensors(theirs);
    expect(plain(read.tensors)).toEqual(expected);
    expect(read.metadata).toEqual({ format: 'np' });

    const ours = path.join(dir, 'ours.safetensors');
    const tensors = new Map([
      ['x', tensor([2, 3], [1, -2, 0.25, 1e-30, 3e38, 7])],
      ['y', tensor([1], [Math.PI])],
    ]);
    writeSafetensors(ours, tensors, { format: 'pt' });
    const theirRead = JSON.parse(
      python(
        `
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
header = json.loads(b[8:8 + n])
meta = header.pop("__metadata__")
out = {}
for name, t in header.items():
    s, e = t["data_offsets"]
    a = np.frombuffer(b[8 + n + s:8 + n + e], dtype="<f4").reshape(t["shape"])
    out[name] = {"shape": list(a.shape), "data": a.astype(float).ravel().tolist()}
print(json.dumps({"meta": meta, "tensors": out, "aligned": (8 + n) % 8 == 0}))
`,
        ours,
      ),
    ) as unknown;
    expect(theirRead).toEqual({ meta: { format: 'pt' }, tensors: plain(tensors), aligned: true });
  });
});
