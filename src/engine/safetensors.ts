/**
 * Hugging Face safetensors files, read and written here: one file (`readSafetensors`, `writeSafetensors`), a
 * model folder with one file or shards plus `model.safetensors.index.json` (`readSafetensorsFolder`,
 * `writeSafetensorsSharded`), and the in-memory form (`encodeSafetensors`, `decodeSafetensors`).
 *
 * The format (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N, then N bytes of
 * UTF-8 JSON `{ "<name>": { "dtype", "shape", "data_offsets": [begin, end] }, "__metadata__": { str: str } }`,
 * then the data buffer, which the offsets index. Every header is validated before any data is trusted, and
 * each error names the file and, where there is one, the tensor.
 *
 * The engine computes in float32, so reading converts every supported dtype to a Float32Array (exactly for
 * F16 and BF16) and writing always writes F32. Writes are atomic: a temporary file in the same folder,
 * fsynced, then renamed over the target, so a crash leaves either the old file or the new one.
 */

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { writeAll, writeFileAtomic } from '../core/index.js';
import type { HostTensor } from './models/types.js';
import { describeJson, isNonNegativeInteger, isPlainObject } from './json-values.js';

/** A file (or folder) that is not a valid safetensors file (or model folder); `tensor` names the culprit. */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor?: string;

  constructor(file: string, message: string, tensor?: string, options?: ErrorOptions) {
    super(`${file}: ${message}`, options);
    this.name = 'SafetensorsError';
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

/** Bytes per element of the dtypes this reader converts to float32. */
const DTYPE_SIZES = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  U16: 2,
  U32: 4,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/** The dtypes `readSafetensors` accepts (the FP8 ones and anything else are refused by name). */
export const SAFETENSORS_DTYPES = Object.keys(DTYPE_SIZES) as SafetensorsDtype[];

/** The file names of a Hugging Face model folder. */
export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

/** Whether a folder holds weights the engine loads (one file, an index, or shards): not only config and tokenizer. */
export function hasSafetensorsWeights(folder: string): boolean {
  try {
    return readdirSync(folder).some(
      (n) => n === SAFETENSORS_FILE || n === SAFETENSORS_INDEX_FILE || SHARD_NAME.test(n),
    );
  } catch {
    return false;
  }
}

/** The reference implementation refuses headers above 100 MB; so do we, before allocating one. */
const MAX_HEADER_BYTES = 100_000_000;

/** Single read/write calls stay under Node's 2 GiB I/O limit; larger tensors go in several calls. */
const IO_CHUNK = 1 << 30;

/** Typed-array views are in host byte order and the file is little-endian: big-endian hosts swap bytes. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface SafetensorsContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** One validated header entry; `begin`/`end` are offsets into the data buffer. */
interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

// ---------------------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------------------

/**
 * Reads a safetensors file into float32 host tensors. Tensors are read one at a time straight from the file
 * (F32 directly into the Float32Array that is returned), so memory holds the result plus at most one
 * tensor's raw bytes, and files over Node's 2 GiB single-read limit work.
 */
export async function readSafetensors(file: string): Promise<SafetensorsContents> {
  const handle = await open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const prefix = new Uint8Array(Math.min(8, fileSize));
    await readExactly(handle, prefix, 0, file);
    const headerBytes = new Uint8Array(headerLength(prefix, fileSize, file));
    await readExactly(handle, headerBytes, 8, file);
    const dataStart = 8 + headerBytes.length;
    const { entries, metadata } = parseHeader(headerBytes, fileSize - dataStart, file);

    const tensors = new Map<string, HostTensor>();
    for (const e of entries) {
      let data: Float32Array;
      if (e.dtype === 'F32') {
        data = allocate(e, file);
        await readExactly(handle, new Uint8Array(data.buffer), dataStart + e.begin, file, e.name);
        if (!HOST_IS_LITTLE_ENDIAN) swapBytes(new Uint8Array(data.buffer), 4);
      } else {
        // A fresh buffer is 8-aligned, so the typed-array views in toFloat32 need no further copy.
        const raw = new Uint8Array(e.end - e.begin);
        await readExactly(handle, raw, dataStart + e.begin, file, e.name);
        if (!HOST_IS_LITTLE_ENDIAN) swapBytes(raw, DTYPE_SIZES[e.dtype]);
        data = toFloat32(e, raw, file);
      }
      tensors.set(e.name, { shape: e.shape, data });
    }
    return { tensors, metadata };
  } finally {
    await handle.close();
  }
}

/**
 * Decodes a whole safetensors file held in memory. F32 tensors whose bytes are 4-aligned in `buffer` are
 * returned as views on it (no copy), so they share memory with `buffer`; other tensors are fresh arrays.
 */
export function decodeSafetensors(buffer: Uint8Array, fileNameForErrors = '<buffer>'): SafetensorsContents {
  const file = fileNameForErrors;
  const headerEnd = 8 + headerLength(buffer.subarray(0, 8), buffer.byteLength, file);
  const { entries, metadata } = parseHeader(buffer.subarray(8, headerEnd), buffer.byteLength - headerEnd, file);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const raw = buffer.subarray(headerEnd + e.begin, headerEnd + e.end);
    let data: Float32Array;
    if (e.dtype === 'F32' && HOST_IS_LITTLE_ENDIAN && raw.byteOffset % 4 === 0) {
      data = new Float32Array(raw.buffer, raw.byteOffset, e.count);
    } else {
      // Copy into a fresh, 8-aligned buffer in host byte order, so typed-array views can read it
      // (new Uint8Array copies; a Buffer's slice() would only make another view).
      const copy = new Uint8Array(raw);
      if (!HOST_IS_LITTLE_ENDIAN) swapBytes(copy, DTYPE_SIZES[e.dtype]);
      data = e.dtype === 'F32' ? new Float32Array(copy.buffer, 0, e.count) : toFloat32(e, copy, file);
    }
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/**
 * Reads a Hugging Face model folder's weights: `model.safetensors`, or else the shards listed by
 * `model.safetensors.index.json` (the index is the source of truth: exactly its tensors are returned, each
 * from the shard it names). Metadata is the shards' `__metadata__`, merged.
 */
export async function readSafetensorsFolder(dir: string): Promise<SafetensorsContents> {
  const single = path.join(dir, SAFETENSORS_FILE);
  // Hugging Face's loader also prefers the single file when both are present.
  if (existsSync(single)) return readSafetensors(single);
  const indexFile = path.join(dir, SAFETENSORS_INDEX_FILE);
  if (!existsSync(indexFile)) {
    throw new SafetensorsError(
      dir,
      `no weights: looked for ${SAFETENSORS_FILE} and ${SAFETENSORS_INDEX_FILE} (sharded), found neither`,
    );
  }

  const shards = parseIndex(await readFile(indexFile, 'utf8'), indexFile);
  const tensors = new Map<string, HostTensor>();
  const metadata: Record<string, string> = {};
  for (const [shard, names] of shards) {
    const shardFile = path.join(dir, shard);
    if (!existsSync(shardFile)) {
      const others = names.length > 1 ? ` and ${names.length - 1} other tensor(s)` : '';
      throw new SafetensorsError(
        indexFile,
        `shard '${shard}' (listed in weight_map for '${names[0]}'${others}) does not exist in ${dir}`,
        names[0],
      );
    }
    const contents = await readSafetensors(shardFile);
    for (const name of names) {
      const t = contents.tensors.get(name);
      if (!t) {
        throw new SafetensorsError(
          shardFile,
          `tensor '${name}' is listed in ${SAFETENSORS_INDEX_FILE}'s weight_map but this shard does not contain it`,
          name,
        );
      }
      tensors.set(name, t);
    }
    Object.assign(metadata, contents.metadata);
  }
  return { tensors, metadata };
}

/** The weight_map of an index, grouped by shard file (shards in name order, so reading is deterministic). */
function parseIndex(text: string, indexFile: string): Map<string, string[]> {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(indexFile, `not valid JSON (${(error as Error).message})`, undefined, { cause: error });
  }
  const weightMap = isPlainObject(index) ? index.weight_map : undefined;
  if (!isPlainObject(weightMap)) throw new SafetensorsError(indexFile, 'has no "weight_map" object');
  const shards = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    // Shards are plain file names in the folder: an index must not point the reader anywhere else.
    if (typeof shard !== 'string' || shard !== path.basename(shard) || shard === '.' || shard === '..' || !shard) {
      throw new SafetensorsError(
        indexFile,
        `weight_map maps tensor '${name}' to ${JSON.stringify(shard)}, not a file name in the folder`,
        name,
      );
    }
    const names = shards.get(shard) ?? [];
    names.push(name);
    shards.set(shard, names);
  }
  return new Map([...shards].sort(([a], [b]) => compareNames(a, b)));
}

/** Validates the 8-byte prefix against the file size and returns the header length N. */
function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(
      file,
      `file is ${fileSize} bytes, shorter than the 8-byte header length (not a safetensors file?)`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  // Compared as bigints: a garbage prefix can exceed Number's exact range.
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      file,
      `header length ${n} is larger than the file (${fileSize - 8} bytes follow the 8-byte length; not a safetensors file, or truncated?)`,
    );
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${n} exceeds the format's limit of ${MAX_HEADER_BYTES} bytes`);
  }
  return Number(n);
}

/**
 * Parses and validates the JSON header against a data buffer of `dataSize` bytes. Entries come back
 * sorted by offset, so reading walks the file forwards.
 */
function parseHeader(
  bytes: Uint8Array,
  dataSize: number,
  file: string,
): { entries: Entry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new SafetensorsError(file, 'header is not valid UTF-8', undefined, { cause: error });
  }
  let header: unknown;
  try {
    // Writers pad with trailing spaces, which JSON.parse ignores.
    header = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(file, `header is not valid JSON (${(error as Error).message})`, undefined, {
      cause: error,
    });
  }
  if (!isPlainObject(header)) {
    throw new SafetensorsError(file, `header is not a JSON object (got ${describeJson(header)})`);
  }

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, file);
    } else {
      entries.push(parseEntry(name, value, dataSize, file));
    }
  }

  // Two tensors sharing bytes would alias each other's data: refuse, as the reference implementation does.
  // Empty tensors occupy no bytes and cannot overlap anything.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: Entry | undefined;
  for (const e of entries) {
    if (e.begin === e.end) continue;
    if (previous && e.begin < previous.end) {
      throw new SafetensorsError(
        file,
        `tensors '${previous.name}' (data bytes ${previous.begin}-${previous.end}) and '${e.name}' (data bytes ${e.begin}-${e.end}) overlap`,
        e.name,
      );
    }
    previous = e;
  }
  return { entries, metadata };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(file, `__metadata__ is not an object of strings (got ${describeJson(value)})`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(file, `__metadata__ value '${key}' is ${describeJson(v)}, not a string`);
    }
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function parseEntry(name: string, value: unknown, dataSize: number, file: string): Entry {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(file, `tensor '${name}' is ${describeJson(value)}, not an object`, name);
  }
  const { dtype, shape, data_offsets: offsets } = value;

  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    throw new SafetensorsError(
      file,
      `tensor '${name}' has unknown dtype ${typeof dtype === 'string' ? `'${dtype}'` : describeJson(dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`,
      name,
    );
  }
  const dt = dtype as SafetensorsDtype;

  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      file,
      `tensor '${name}' has shape ${describeJson(shape)}; expected an array of non-negative integers`,
      name,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      file,
      `tensor '${name}' has data_offsets ${describeJson(offsets)}; expected [begin, end] of non-negative integers`,
      name,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw new SafetensorsError(
      file,
      `tensor '${name}' has data_offsets [${begin},${end}]; expected [begin, end] with begin <= end`,
      name,
    );
  }

  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = count * DTYPE_SIZES[dt];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw new SafetensorsError(
      file,
      `tensor '${name}': header says shape [${shape.join(',')}] of ${dt} = ${expected} bytes but data_offsets [${begin},${end}] span ${end - begin}`,
      name,
    );
  }
  if (end > dataSize) {
    throw new SafetensorsError(
      file,
      `truncated: tensor '${name}' needs bytes up to ${end} but the file's data has ${dataSize}`,
      name,
    );
  }
  return { name, dtype: dt, shape: [...(shape as number[])], count, begin, end };
}

/**
 * Converts one tensor's raw bytes (host byte order, in a buffer aligned for the dtype) to float32. Integers
 * beyond 2^24 round to the nearest float32, as a cast would.
 */
function toFloat32(e: Entry, raw: Uint8Array, file: string): Float32Array {
  const out = allocate(e, file);
  const n = e.count;
  const { buffer, byteOffset } = raw;
  switch (e.dtype) {
    case 'F32':
      out.set(new Float32Array(buffer, byteOffset, n));
      break;
    case 'F16': {
      const table = f16Table();
      const half = new Uint16Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = table[half[i]!]!;
      break;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shifting the bits back is exact, NaN payloads included.
      const half = new Uint16Array(buffer, byteOffset, n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = half[i]! << 16;
      break;
    }
    case 'F64':
      out.set(new Float64Array(buffer, byteOffset, n));
      break;
    case 'I64': {
      const v = new BigInt64Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = Number(v[i]!);
      break;
    }
    case 'U64': {
      const v = new BigUint64Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = Number(v[i]!);
      break;
    }
    case 'I32':
      out.set(new Int32Array(buffer, byteOffset, n));
      break;
    case 'U32':
      out.set(new Uint32Array(buffer, byteOffset, n));
      break;
    case 'I16':
      out.set(new Int16Array(buffer, byteOffset, n));
      break;
    case 'U16':
      out.set(new Uint16Array(buffer, byteOffset, n));
      break;
    case 'I8':
      out.set(new Int8Array(buffer, byteOffset, n));
      break;
    case 'U8':
      out.set(raw);
      break;
    case 'BOOL':
      // Stored as one byte, 0 or 1; any other non-zero byte still means true.
      for (let i = 0; i < n; i++) out[i] = raw[i] !== 0 ? 1 : 0;
      break;
  }
  return out;
}

let f16Values: Float32Array | undefined;

/** All 65536 float16 values as float32 (each is exactly representable): decoding is one lookup. */
function f16Table(): Float32Array {
  if (!f16Values) {
    f16Values = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Values[h] = halfToNumber(h);
  }
  return f16Values;
}

/** IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals: no implicit leading 1
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (0x400 + mantissa) * 2 ** (exponent - 25);
}

/** A Float32Array for a tensor, or an error naming it when it is too large for one. */
function allocate(e: Entry, file: string): Float32Array {
  try {
    return new Float32Array(e.count);
  } catch (error) {
    throw new SafetensorsError(
      file,
      `tensor '${e.name}' has ${e.count} elements, too many for one Float32Array`,
      e.name,
      { cause: error },
    );
  }
}

/** Fills `target` from the file at `position`, looping over short reads; end of file here means truncation. */
async function readExactly(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  file: string,
  tensor?: string,
): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const length = Math.min(target.byteLength - done, IO_CHUNK);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) {
      const what = tensor === undefined ? 'header' : `tensor '${tensor}'`;
      throw new SafetensorsError(file, `truncated while reading ${what} (the file shrank while being read?)`, tensor);
    }
    done += bytesRead;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------------------

/** A file's header, and its tensors in the order their data follows it. */
interface Layout {
  /** The 8-byte length plus the space-padded JSON header. */
  head: Buffer;
  tensors: { name: string; tensor: HostTensor }[];
  dataBytes: number;
}

/** Lays out F32 tensors sorted by name (so the same tensors always give the same bytes). */
function layout(tensors: Map<string, HostTensor>, metadata: Record<string, string>, file: string): Layout {
  // A null-prototype object, so a tensor named '__proto__' is an ordinary key.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(file, `metadata value '${key}' is ${describeJson(value)}, not a string`);
    }
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;

  const sorted = [...tensors].sort(([a], [b]) => compareNames(a, b));
  let offset = 0;
  for (const [name, tensor] of sorted) {
    if (name === '__metadata__') throw new SafetensorsError(file, `'__metadata__' cannot name a tensor`, name);
    if (!(tensor.data instanceof Float32Array)) {
      throw new SafetensorsError(file, `tensor '${name}' data is not a Float32Array`, name);
    }
    if (!Array.isArray(tensor.shape) || !tensor.shape.every(isNonNegativeInteger)) {
      throw new SafetensorsError(
        file,
        `tensor '${name}' has shape ${describeJson(tensor.shape)}; expected non-negative integers`,
        name,
      );
    }
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new SafetensorsError(
        file,
        `tensor '${name}' has shape [${tensor.shape.join(',')}] (${count} values) but ${tensor.data.length} values`,
        name,
      );
    }
    header[name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // Spaces pad the header to a multiple of 8, so the data starts 8-aligned and readers can view it in place.
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return { head, tensors: sorted.map(([name, tensor]) => ({ name, tensor })), dataBytes: offset };
}

/** A tensor's bytes in the file's little-endian order (a view, no copy, on little-endian hosts). */
function littleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, 4);
  return copy;
}

/** Encodes tensors as a complete safetensors file in memory (F32, sorted by name). */
export function encodeSafetensors(
  tensors: Map<string, HostTensor>,
  metadata: Record<string, string> = { format: 'pt' },
): Buffer {
  const { head, tensors: ordered } = layout(tensors, metadata, '<buffer>');
  return Buffer.concat([head, ...ordered.map((t) => littleEndianBytes(t.tensor.data))]);
}

/**
 * Writes tensors as one F32 safetensors file, atomically. The header and each tensor's bytes are written
 * straight to the file (no whole-file buffer). Synchronous, so callers can rename a folder right after.
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, HostTensor>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const { head, tensors: ordered } = layout(tensors, metadata, file);
  writeAtomically(file, (fd) => {
    writeAll(fd, head);
    for (const t of ordered) writeAll(fd, littleEndianBytes(t.tensor.data));
  });
}

/**
 * Writes a model folder's weights as Hugging Face does: one `model.safetensors` when the tensor data fits
 * in `maxShardBytes`, otherwise `model-0000i-of-0000n.safetensors` shards (filled in name order; a tensor
 * larger than the limit gets a shard of its own) plus `model.safetensors.index.json`. Each file is written
 * atomically; weight files of an earlier save that the new layout does not use are removed afterwards, so
 * the reader cannot pick up stale weights. Returns the file names written.
 */
export function writeSafetensorsSharded(
  dir: string,
  tensors: Map<string, HostTensor>,
  maxShardBytes: number,
  metadata: Record<string, string> = { format: 'pt' },
): string[] {
  if (!(maxShardBytes > 0)) throw new SafetensorsError(dir, `maxShardBytes must be positive, got ${maxShardBytes}`);
  mkdirSync(dir, { recursive: true });

  const shards: Map<string, HostTensor>[] = [];
  let current = new Map<string, HostTensor>();
  let currentBytes = 0;
  let totalSize = 0;
  for (const [name, tensor] of [...tensors].sort(([a], [b]) => compareNames(a, b))) {
    const bytes = tensor.data.byteLength;
    if (current.size > 0 && currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, tensor);
    currentBytes += bytes;
    totalSize += bytes;
  }
  shards.push(current);

  let written: string[];
  if (shards.length === 1) {
    writeSafetensors(path.join(dir, SAFETENSORS_FILE), tensors, metadata);
    written = [SAFETENSORS_FILE];
  } else {
    const n = shards.length;
    const pad = (i: number) => String(i).padStart(5, '0');
    const weightMap: Record<string, string> = {};
    written = shards.map((shard, i) => {
      const name = `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
      writeSafetensors(path.join(dir, name), shard, metadata);
      for (const tensorName of shard.keys()) weightMap[tensorName] = name;
      return name;
    });
    // The index goes last: until it exists, a reader does not know about the new shards.
    const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    const indexBytes = Buffer.from(JSON.stringify(index, null, 2) + '\n', 'utf8');
    writeAtomically(path.join(dir, SAFETENSORS_INDEX_FILE), (fd) => writeAll(fd, indexBytes));
    written.push(SAFETENSORS_INDEX_FILE);
  }

  for (const name of readdirSync(dir)) {
    const isWeights = name === SAFETENSORS_FILE || name === SAFETENSORS_INDEX_FILE || SHARD_NAME.test(name);
    if (isWeights && !written.includes(name)) rmSync(path.join(dir, name), { force: true });
  }
  return written;
}

/**
 * Writes `file` atomically (core's writeFileAtomic: a temporary file in the same folder, fsynced, renamed);
 * on any failure `file` is untouched and the error is a SafetensorsError naming it.
 */
function writeAtomically(file: string, fill: (fd: number) => void): void {
  try {
    writeFileAtomic(file, fill);
  } catch (error) {
    const why = error instanceof Error ? error.message.replace(/^cannot write: /, '') : String(error);
    throw new SafetensorsError(file, `could not write: ${why}`, undefined, { cause: (error as Error).cause ?? error });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/** Reverses the bytes of each `size`-byte element in place (little-endian file <-> big-endian host). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** Code-unit order: the same on every machine and locale (unlike localeCompare). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
