/**
 * A protocol buffers encoder, just enough for the files logging plugins write (TensorBoard's event files,
 * W&B's `.wandb` log): varints (int32/int64/uint64/enum/bool), fixed64 doubles, fixed32 floats and
 * length-delimited strings, bytes and nested messages. Every call writes its field, defaults included (proto3
 * elides default values, but a `oneof` member such as `simple_value = 0` must be written to be present);
 * callers leave out what proto3 would. Part of the SDK (`import { ProtoMessage } from 'dumbo'`), so that
 * plugins share one encoder; imports nothing.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/** The varint bytes of a non-negative integer, or of a negative one as its 64-bit two's complement. */
function varint(value: number | bigint): number[] {
  const out: number[] = [];
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    let v = value;
    // Division, not `>>>`: bitwise operators would cut the value to 32 bits.
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return out;
  }
  if (typeof value === 'number' && !Number.isInteger(value)) throw new RangeError(`varint of a non-integer ${value}`);
  let v = BigInt.asUintN(64, BigInt(value));
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** One message being written; `encode()` gives its bytes. */
export class ProtoMessage {
  private readonly parts: Uint8Array[] = [];

  private key(field: number, wire: number): void {
    this.parts.push(Uint8Array.from(varint(field * 8 + wire)));
  }

  /** int32, int64, uint64, enum (negative values as 64-bit two's complement, as protobuf writes them). */
  int(field: number, value: number | bigint): this {
    this.key(field, WIRE_VARINT);
    this.parts.push(Uint8Array.from(varint(value)));
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.int(field, value ? 1 : 0);
  }

  double(field: number, value: number): this {
    return this.fixed(field, WIRE_FIXED64, 8, (v) => v.setFloat64(0, value, true));
  }

  float(field: number, value: number): this {
    return this.fixed(field, WIRE_FIXED32, 4, (v) => v.setFloat32(0, value, true));
  }

  private fixed(field: number, wire: number, size: number, write: (view: DataView) => void): this {
    this.key(field, wire);
    const b = new Uint8Array(size);
    write(new DataView(b.buffer));
    this.parts.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LENGTH);
    this.parts.push(Uint8Array.from(varint(value.length)), value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, value: ProtoMessage): this {
    return this.bytes(field, value.encode());
  }

  /** The message's encoding. */
  encode(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
