/**
 * The framing of W&B's `.wandb` transaction log, as wandb's `sdk/internal/datastore.py` and wandb-core's
 * `core/pkg/leveldb` write it: a 7-byte file header (`:W&B`, magic 0xBEE1 little-endian, version 0), then
 * records in LevelDB log format: 32 KiB blocks counted from the start of the file, each record cut into chunks
 * `crc32 (uint32 LE) | length (uint16 LE) | type (1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST) | data`, where the CRC is
 * plain CRC-32 (zlib's, not CRC-32C, not masked) of the type byte followed by the data, and a block's last
 * 1-6 bytes, too few for a chunk header, are zeros. Imported by runfolder.ts and sync.ts.
 */
import { crc32 } from 'node:zlib';

export const BLOCK_SIZE = 32768;
export const CHUNK_HEADER = 7;
export const FILE_HEADER = Uint8Array.of(0x3a, 0x57, 0x26, 0x42, 0xe1, 0xbe, 0x00);

const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

function chunk(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, crc32(data, crc32(Uint8Array.of(type))), true);
  view.setUint16(4, data.length, true);
  out[6] = type;
  out.set(data, CHUNK_HEADER);
  return out;
}

/**
 * The bytes that append one record at file offset `offset` (which must be past the file header): chunks and
 * block padding, cut as datastore.py's `_write_data` cuts them.
 */
export function frameRecord(data: Uint8Array, offset: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = offset;
  let rest = data;
  for (let first = true; ; first = false) {
    let space = BLOCK_SIZE - (at % BLOCK_SIZE);
    if (space < CHUNK_HEADER) {
      parts.push(new Uint8Array(space));
      at += space;
      space = BLOCK_SIZE;
    }
    if (rest.length + CHUNK_HEADER <= space) {
      parts.push(chunk(first ? FULL : LAST, rest));
      return parts;
    }
    // The record goes on in the next block: this chunk fills the block (a FIRST chunk may hold no data).
    const room = space - CHUNK_HEADER;
    parts.push(chunk(first ? FIRST : MIDDLE, rest.subarray(0, room)));
    rest = rest.subarray(room);
    at += space;
  }
}

export interface LogRead {
  /** Every complete record's data, in order. */
  records: Uint8Array[];
  /** Why reading stopped before the end of the bytes: a cut or corrupt record (what follows is not read). */
  problem?: string;
}

/**
 * Reads a `.wandb` file's records. A file cut short (a crash while writing) gives every record before the
 * cut; a bad checksum or chunk order stops there, with `problem` saying where.
 */
export function readLog(bytes: Uint8Array): LogRead {
  if (bytes.length < FILE_HEADER.length || FILE_HEADER.some((b, i) => bytes[i] !== b)) {
    throw new Error('not a .wandb file: it does not start with the W&B header (:W&B, 0xBEE1, version 0)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let pieces: Uint8Array[] | undefined;
  let at = FILE_HEADER.length;
  const stop = (problem: string): LogRead => ({ records, problem: `${problem} at byte ${at}` });
  while (at < bytes.length) {
    const space = BLOCK_SIZE - (at % BLOCK_SIZE);
    if (space < CHUNK_HEADER) {
      at += space;
      continue;
    }
    if (at + CHUNK_HEADER > bytes.length) return stop('a cut chunk header');
    const sum = view.getUint32(at, true);
    const length = view.getUint16(at + 4, true);
    const type = bytes[at + 6]!;
    const end = at + CHUNK_HEADER + length;
    if (end > bytes.length) return stop('a cut record');
    if (end - (at - (at % BLOCK_SIZE)) > BLOCK_SIZE) return stop('a chunk longer than its block');
    const data = bytes.subarray(at + CHUNK_HEADER, end);
    if (crc32(data, crc32(Uint8Array.of(type))) !== sum) return stop('a bad checksum');
    if (type === FULL && !pieces) records.push(data);
    else if (type === FIRST && !pieces) pieces = [data];
    else if (type === MIDDLE && pieces) pieces.push(data);
    else if (type === LAST && pieces) {
      records.push(Buffer.concat([...pieces, data]));
      pieces = undefined;
    } else return stop(`a chunk of type ${type} out of order`);
    at = end;
  }
  return pieces ? { records, problem: 'a record cut after its first chunks at the end of the file' } : { records };
}
