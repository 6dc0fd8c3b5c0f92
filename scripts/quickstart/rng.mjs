// The seeded PRNG of the quickstart generator (mulberry32: 32-bit integer arithmetic, the same numbers on every
// platform), so that scripts/make-quickstart.mjs writes the same bytes on every run. Imported by the story
// modules beside it and re-exported by scripts/make-quickstart.mjs.

export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). @param {number} n */
  int(n) {
    return Math.floor(this.next() * n);
  }
  /** @param {number} p */
  chance(p) {
    return this.next() < p;
  }
  /**
   * @template T
   * @param {readonly T[]} items
   * @returns {T}
   */
  pick(items) {
    if (items.length === 0) throw new Error('pick from an empty list');
    return /** @type {T} */ (items[this.int(items.length)]);
  }
  /**
   * Distinct items (k ≤ items.length), in random order.
   * @template T
   * @param {readonly T[]} items
   * @param {number} k
   * @returns {T[]}
   */
  sample(items, k) {
    const pool = items.slice();
    /** @type {T[]} */
    const out = [];
    for (let i = 0; i < k && pool.length > 0; i++)
      out.push(/** @type {T} */ (pool.splice(this.int(pool.length), 1)[0]));
    return out;
  }
}
