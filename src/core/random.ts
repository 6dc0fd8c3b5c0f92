/**
 * Seeded randomness for plugins and the engine: the same seed gives the same numbers on every machine and
 * backend, so shuffles, splits and samples are reproducible and a resumed run sees what an uninterrupted
 * one would.
 */

/** mulberry32: a small, fast, seedable PRNG (32-bit state); floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded permutation of 0..n-1: Fisher-Yates (Durstenfeld, from the end) driven by mulberry32(seed). */
export function seededPermutation(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
