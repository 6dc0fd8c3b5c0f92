/**
 * CRC-32C (Castagnoli; reflected polynomial 0x82F63B78), as TensorFlow's record files check each length and
 * payload, and the "masked" form they store: a CRC of data that itself holds CRCs is a weak check, so
 * TensorFlow rotates and offsets the value before writing it. Imported by events.ts only.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** The CRC-32C of `data` (a uint32). */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masked CRC: `((crc >>> 15) | (crc << 17)) + 0xa282ead8`, in uint32 arithmetic. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
