/**
 * A small seeded random number generator for everything the engine draws: weight initialization, dropout
 * masks and sampling during generation. It runs on the host (plain JS), so the numbers depend only on the
 * seed — not on the tfjs backend or its version — and a resumed run draws exactly what an uninterrupted one
 * would have drawn.
 */

import { mulberry32 } from '../core/index.js';

/** SplitMix32-style mixing of a seed (any finite number) into a 32-bit state. */
function mix(seed: number): number {
  let h = (Math.floor(Math.abs(seed)) % 4294967296) ^ (seed < 0 ? 0x9e3779b9 : 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Mulberry32: fast, 32-bit state, good enough for initialization, dropout and sampling. */
export class Rng {
  private readonly next: () => number;
  private spare: number | undefined;

  constructor(seed = 0) {
    this.next = mulberry32(mix(seed));
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.uniform(); // (0, 1]: log(u) is finite
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `n` draws from normal(mean, std). */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** A new generator whose stream depends on this one's seed and `key` (for independent sub-streams). */
  fork(key: number): Rng {
    return new Rng(Math.floor(this.uniform() * 4294967296) ^ mix(key));
  }
}
