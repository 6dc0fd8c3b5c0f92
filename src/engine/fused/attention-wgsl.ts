/**
 * The WGSL programs of fused attention (attention.ts), in tfjs-backend-webgpu's program interface. Each tiled
 * program runs one workgroup per (batch, head, tile of ROWS rows), one thread per row, and stages the other
 * side's rows (keys for a query tile, queries for a key tile) through workgroup memory a tile at a time; rows
 * are read and multiplied as vec4 where the head size is a multiple of 4 (else as floats):
 * - forward (`flashForwardProgram`): per query row an online softmax over key tiles; writes out and the row's
 *   log-sum-exp packed in one buffer (a program writes one output), which `copyProgram` splits;
 * - backward: D = rowsum(dO·O) (`deltaProgram`); dq per query row over key tiles (`dqProgram`); dk and dv per
 *   key row over the query tiles of every query head sharing its kv head (`dkvProgram`, packed: dk then dv),
 *   so no two threads add into one row and no atomics are needed.
 * With dropout, each program redraws the mask factor of (query row, key) from its flat index in the default's
 * [B, nh, T, S] probabilities (`kept`, the same mixer as kernels/dropout.ts), so the mask is never stored.
 * Part of attention.ts: only it imports this file.
 */

import * as tf from '@tensorflow/tfjs-core';
import { MIX32_WGSL } from '../kernels/dropout.js';
import type { Uniform } from './kernel-support.js';
import type { AttentionDims, FlashAttrs } from './attention.js';

/** Rows (threads) per workgroup of the tiled programs. */
const ROWS = 32;

/** Rows per tile staged in workgroup memory: two tiles of tile × hs floats stay within 8 KiB. */
function tileRows(hs: number): number {
  return Math.max(1, Math.min(32, Math.floor(1024 / hs)));
}

const UNIFORMS =
  'T : i32, S : i32, nh : i32, nkv : i32, rep : i32, window : i32, rows : i32, kvRows : i32, scale : f32, ' +
  'drop : i32, key : u32, threshold : u32, dropScale : f32,';

/** The values of UNIFORMS for one call (window 0: every earlier key; drop 0: no dropout). */
export function attentionUniforms(d: AttentionDims, a: FlashAttrs): Uniform[] {
  const ints = [d.T, d.S, d.nh, d.nkv, d.rep, a.window, d.B * d.nh * d.T, d.B * d.nkv * d.S];
  return [
    ...ints.map((n): Uniform => ({ type: 'int32', data: [n] })),
    { type: 'float32', data: [a.scale] },
    { type: 'int32', data: [a.drop] },
    { type: 'uint32', data: [a.key] },
    { type: 'uint32', data: [a.threshold] },
    { type: 'float32', data: [a.dropScale] },
  ];
}

/** Floats per vector: rows of q, k, v and dO are read, staged and multiplied as vec4 where hs allows. */
function widthOf(hs: number): 1 | 4 {
  return hs % 4 === 0 ? 4 : 1;
}

/**
 * Constants, the row vector type V (HV of them per row) with its dot product and store, and the visibility
 * rule: query i sits at position S - T + i and sees keys firstKey(i)..that.
 */
function prelude(hs: number): string {
  const w = widthOf(hs);
  return `
    const HS = ${hs};
    const HV = ${hs / w};
    alias V = ${w === 4 ? 'vec4<f32>' : 'f32'};
    fn vdot(a : V, b : V) -> f32 {
      return ${w === 4 ? 'dot(a, b)' : 'a * b'};
    }
    // Writes x as the floats of the output from index at on.
    fn store(at : i32, x : V) {
      ${w === 4 ? [0, 1, 2, 3].map((c) => `setOutputAtIndex(at + ${c}, x[${c}]);`).join(' ') : 'setOutputAtIndex(at, x);'}
    }
    const TILE = ${tileRows(hs)};
    const ROWS = ${ROWS};
    const LOW = -3.0e38;
    fn firstKey(i : i32) -> i32 {
      if (uniforms.window > 0) {
        return max(0, uniforms.S - uniforms.T + i - uniforms.window + 1);
      }
      return 0;
    }
    fn sees(i : i32, j : i32) -> bool {
      return j >= firstKey(i) && j <= uniforms.S - uniforms.T + i;
    }
    ${MIX32_WGSL}
    // Dropout's factor on the probability of query row "row" (flat in B, nh, T) and key j: 0, or 1/keep where
    // kept. Its flat index row·S + j wraps as u32, as the host's does.
    fn kept(row : i32, j : i32) -> f32 {
      if (uniforms.drop == 0) {
        return 1.0;
      }
      if (mix32((u32(row) * u32(uniforms.S) + u32(j)) ^ uniforms.key) < uniforms.threshold) {
        return uniforms.dropScale;
      }
      return 0.0;
    }
    var<workgroup> span : vec2<i32>;
  `;
}

/** The start of main: batch b, then the workgroup's head, its first row and this thread's row, named. */
function mainStart(head: string, first: string, row: string): string {
  return `fn main(index : i32) {
    let b = i32(workgroupId.z);
    let ${head} = i32(workgroupId.y);
    let ${first} = i32(workgroupId.x) * ROWS;
    let ${row} = ${first} + i32(localId.x);`;
}

/**
 * The start of a query-tile program's main: its batch b, head h, query row i (valid: i < T), the row's flat
 * index, its kv head's offset, and `keys`, the first and last key any row of the tile sees (one value for
 * the whole workgroup: the loop over key tiles holds barriers). Then per tile, LOAD_KEY_TILE stages keys
 * j0..j0+TILE-1 in kt and vt (zeros past keys.y).
 */
const QUERY_TILE = `
  var<workgroup> kt : array<V, TILE * HV>;
  var<workgroup> vt : array<V, TILE * HV>;
  ${mainStart('h', 'i0', 'i')}
    let valid = i < uniforms.T;
    let row = (b * uniforms.nh + h) * uniforms.T + i;
    let kv = (b * uniforms.nkv + h / uniforms.rep) * uniforms.S;
    if (localIndex == 0u) {
      span = vec2<i32>(firstKey(i0), uniforms.S - uniforms.T + min(i0 + ROWS, uniforms.T) - 1);
    }
    let keys = workgroupUniformLoad(&span);
`;

/**
 * Stages rows first..first+TILE-1 of two inputs (zeros past row `last`; row r is row `start(r)` of the input) in
 * workgroup memory, `also` staging more, between barriers: the previous tile's readers are done, and the
 * next tile's find it all written.
 */
function stageRows(
  first: string,
  last: string,
  start: (row: string) => string,
  [[a, at], [b, bt]]: [[string, string], [string, string]],
  also = '',
): string {
  return `
    workgroupBarrier();
    for (var e = i32(localIndex); e < TILE * HV; e += ROWS) {
      let r = ${first} + e / HV;
      var ax = V(0.0);
      var bx = V(0.0);
      if (r <= ${last}) {
        ax = ${a}[(${start('r')}) * HV + e % HV];
        bx = ${b}[(${start('r')}) * HV + e % HV];
      }
      ${at}[e] = ax;
      ${bt}[e] = bx;
    }
    ${also}
    workgroupBarrier();
  `;
}

const LOAD_KEY_TILE = stageRows('j0', 'keys.y', (r) => `kv + ${r}`, [
  ['k', 'kt'],
  ['v', 'vt'],
]);

/**
 * A tiled program: one workgroup of ROWS threads per (tile of ROWS rows, head, batch) — of `rows` rows and
 * `heads` heads — running the prelude and `main`, one build per head size.
 */
class TiledProgram {
  readonly uniforms = UNIFORMS;
  readonly workgroupSize: [number, number, number] = [ROWS, 1, 1];
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly shaderKey: string;
  /** q, k, v and dy are bound as arrays of V, the row statistics as floats. */
  readonly variableComponents: number[];

  constructor(
    key: string,
    readonly outputShape: number[],
    readonly variableNames: string[],
    private readonly hs: number,
    [rows, heads, batch]: [number, number, number],
    private readonly main: string,
  ) {
    this.shaderKey = `dumbo_flash_${key}_${hs}`;
    this.variableComponents = variableNames.map((n) => (['q', 'k', 'v', 'dy'].includes(n) ? widthOf(hs) : 1));
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(rows / ROWS), heads, batch];
  }

  getUserCode(): string {
    return prelude(this.hs) + this.main;
  }
}

const BACKWARD_INPUTS = ['q', 'k', 'v', 'dy', 'lse', 'delta'];

/**
 * Forward: the keys of the workgroup's query rows, a tile at a time into workgroup memory; per row the tile's
 * scores, then the running max m, sum l and output rescaled by e^(m_old - m_new) when the max grows.
 */
const FORWARD = `
  ${QUERY_TILE}
    var qr : array<V, HV>;
    var acc : array<V, HV>;
    var sc : array<f32, TILE>;
    for (var e = 0; valid && e < HV; e++) {
      qr[e] = q[row * HV + e];
    }
    var m = LOW;
    var l = 0.0;
    for (var j0 = keys.x; j0 <= keys.y; j0 += TILE) {
      ${LOAD_KEY_TILE}
      if (valid) {
        var tileMax = LOW;
        for (var t = 0; t < TILE; t++) {
          var s = LOW;
          if (sees(i, j0 + t)) {
            var dotp = 0.0;
            for (var e = 0; e < HV; e++) {
              dotp += vdot(qr[e], kt[t * HV + e]);
            }
            s = dotp * uniforms.scale;
          }
          sc[t] = s;
          tileMax = max(tileMax, s);
        }
        if (tileMax > m) {
          let c = exp(m - tileMax);
          l *= c;
          for (var e = 0; e < HV; e++) {
            acc[e] *= c;
          }
          m = tileMax;
        }
        for (var t = 0; t < TILE; t++) {
          if (sc[t] > LOW) {
            // The sum takes every probability; the output only the kept ones, scaled.
            let p = exp(sc[t] - m);
            l += p;
            let zp = p * kept(row, j0 + t);
            for (var e = 0; e < HV; e++) {
              acc[e] += zp * vt[t * HV + e];
            }
          }
        }
      }
    }
    if (valid) {
      for (var e = 0; e < HV; e++) {
        store((row * HV + e) * (HS / HV), acc[e] / l);
      }
      setOutputAtIndex(uniforms.rows * HS + row, m + log(l));
    }
  }
`;

/** Out and the row log-sum-exp, packed: (B, nh, T, hs) then (B, nh, T). */
export function flashForwardProgram(d: AttentionDims): TiledProgram {
  const shape = [d.B * d.nh * d.T * (d.hs + 1)];
  return new TiledProgram('fwd', shape, ['q', 'k', 'v'], d.hs, [d.T, d.nh, d.B], FORWARD);
}

/** dq = scale · Σ_j P·(Z·dO·v_j - D)·k_j per query row, over key tiles staged as in the forward. */
const DQ = `
  ${QUERY_TILE}
    var qr : array<V, HV>;
    var gr : array<V, HV>;
    var acc : array<V, HV>;
    var L = 0.0;
    var D = 0.0;
    if (valid) {
      for (var e = 0; e < HV; e++) {
        qr[e] = q[row * HV + e];
        gr[e] = dy[row * HV + e];
      }
      L = lse[row];
      D = delta[row];
    }
    for (var j0 = keys.x; j0 <= keys.y; j0 += TILE) {
      ${LOAD_KEY_TILE}
      if (valid) {
        for (var t = 0; t < TILE; t++) {
          if (sees(i, j0 + t)) {
            var s = 0.0;
            var dp = 0.0;
            for (var e = 0; e < HV; e++) {
              s += vdot(qr[e], kt[t * HV + e]);
              dp += vdot(gr[e], vt[t * HV + e]);
            }
            let ds = exp(s * uniforms.scale - L) * (kept(row, j0 + t) * dp - D);
            for (var e = 0; e < HV; e++) {
              acc[e] += ds * kt[t * HV + e];
            }
          }
        }
      }
    }
    if (valid) {
      for (var e = 0; e < HV; e++) {
        store((row * HV + e) * (HS / HV), acc[e] * uniforms.scale);
      }
    }
  }
`;

export function dqProgram(d: AttentionDims): TiledProgram {
  return new TiledProgram('dq', [d.B, d.nh, d.T, d.hs], BACKWARD_INPUTS, d.hs, [d.T, d.nh, d.B], DQ);
}

/** Queries i0..i0+TILE-1 of head row block rows0: q, dO, and their lse and D. */
const LOAD_QUERY_TILE = stageRows(
  'i0',
  'queries.y',
  (r) => `rows0 + ${r}`,
  [
    ['q', 'qt'],
    ['dy', 'gt'],
  ],
  `for (var t = i32(localIndex); t < TILE; t += ROWS) {
    if (i0 + t <= queries.y) {
      lt[t] = lse[rows0 + i0 + t];
      dt[t] = delta[rows0 + i0 + t];
    }
  }`,
);

/**
 * dk = scale · Σ_i P·(Z·dO_i·v - D_i)·q_i and dv = Σ_i Z·P·dO_i per key row, over the query tiles (q, dO, lse, D
 * staged in workgroup memory) of each query head that reads this kv head. Output: dk, then dv.
 */
const DKV = `
  var<workgroup> qt : array<V, TILE * HV>;
  var<workgroup> gt : array<V, TILE * HV>;
  var<workgroup> lt : array<f32, TILE>;
  var<workgroup> dt : array<f32, TILE>;
  ${mainStart('g', 'j0', 'j')}
    let valid = j < uniforms.S;
    let past = uniforms.S - uniforms.T;
    let krow = (b * uniforms.nkv + g) * uniforms.S + j;
    if (localIndex == 0u) {
      // The queries that see any key of this tile: position >= j0, and within the window of the last.
      var last = uniforms.T - 1;
      if (uniforms.window > 0) {
        last = min(last, min(j0 + ROWS, uniforms.S) - 1 + uniforms.window - 1 - past);
      }
      span = vec2<i32>(max(0, j0 - past), last);
    }
    let queries = workgroupUniformLoad(&span);
    var kr : array<V, HV>;
    var vr : array<V, HV>;
    var dk : array<V, HV>;
    var dv : array<V, HV>;
    for (var e = 0; valid && e < HV; e++) {
      kr[e] = k[krow * HV + e];
      vr[e] = v[krow * HV + e];
    }
    for (var hh = 0; hh < uniforms.rep; hh++) {
      let rows0 = (b * uniforms.nh + g * uniforms.rep + hh) * uniforms.T;
      for (var i0 = queries.x; i0 <= queries.y; i0 += TILE) {
        ${LOAD_QUERY_TILE}
        if (valid) {
          for (var t = 0; t < TILE; t++) {
            if (i0 + t <= queries.y && sees(i0 + t, j)) {
              var s = 0.0;
              var dp = 0.0;
              for (var e = 0; e < HV; e++) {
                s += vdot(qt[t * HV + e], kr[e]);
                dp += vdot(gt[t * HV + e], vr[e]);
              }
              let p = exp(s * uniforms.scale - lt[t]);
              let z = kept(rows0 + i0 + t, j);
              let ds = p * (z * dp - dt[t]);
              for (var e = 0; e < HV; e++) {
                dv[e] += z * p * gt[t * HV + e];
                dk[e] += ds * qt[t * HV + e];
              }
            }
          }
        }
      }
    }
    if (valid) {
      for (var e = 0; e < HV; e++) {
        store((krow * HV + e) * (HS / HV), dk[e] * uniforms.scale);
        store(((uniforms.kvRows + krow) * HV + e) * (HS / HV), dv[e]);
      }
    }
  }
`;

export function dkvProgram(d: AttentionDims): TiledProgram {
  const shape = [2 * d.B * d.nkv * d.S * d.hs];
  return new TiledProgram('dkv', shape, BACKWARD_INPUTS, d.hs, [d.S, d.nkv, d.B], DKV);
}

/** A program over a flat output, one thread per element; `body` writes element `index`. */
class FlatProgram {
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(
    readonly shaderKey: string,
    readonly outputShape: number[],
    readonly variableNames: string[],
    readonly uniforms: string,
    private readonly body: string,
  ) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(outputShape) / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${this.body}
        }
      }
    `;
  }
}

/** D = rowsum(dO·O) (B, nh, T), one thread per row; uniform: hs. */
export function deltaProgram(shape: number[]): FlatProgram {
  const body = `
    var s = 0.0;
    for (var e = 0; e < uniforms.hs; e++) {
      s += dy[index * uniforms.hs + e] * o[index * uniforms.hs + e];
    }
    setOutputAtIndex(index, s);
  `;
  // Not 'out': tfjs names the uniforms after the inputs, and outShape is the output's.
  return new FlatProgram('dumbo_flash_delta', shape, ['dy', 'o'], 'hs : i32,', body);
}

/** The part of a packed buffer from `offset` on, as a tensor of `shape`; uniform: offset. */
export function copyProgram(shape: number[]): FlatProgram {
  const body = 'setOutputAtIndex(index, x[index + uniforms.offset]);';
  return new FlatProgram('dumbo_flash_copy', shape, ['x'], 'offset : i32,', body);
}
