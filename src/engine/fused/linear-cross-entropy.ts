/**
 * Fused linear cross-entropy (Liger-Kernel's algorithm), the kernel table's `linear_cross_entropy` without the
 * [N, V] logits: the rows of `hidden` go through the LM head in chunks; per chunk the logits, their row
 * log-sum-exp and the NLL, and in the backward the same chunk's logits again, their gradient
 * g = (softmax − onehot)·dy, then grad_hidden_c = g·W and grad_W += gᵀ·h_c. At most one chunk's logits exist
 * at a time: besides the [V, D] and [N, D] gradients, memory is O(chunk·V) where the default's is O(N·V).
 * The price is launches: about 7 per chunk (forward and backward) where the default takes about 20 in all.
 *
 * Liger computes the gradients already in the forward, assuming the upstream gradient is a scalar applied in
 * its backward. Here the op returns per-row NLLs and the caller's upstream dy is per row (the ignore mask over
 * the token count), and gᵀ·h summed over rows cannot be rescaled per row afterwards; so the forward keeps only
 * each row's log-sum-exp and the backward recomputes the chunk's logits: one more matmul per chunk, exact for
 * any dy.
 *
 * The chunk's row statistics and its logits gradient are one kernel each: WGSL programs on `webgpu`, the tfjs
 * composition elsewhere, the matmuls tfjs's own. On `cpu` a whole weight takes linear-cross-entropy-cpu.ts
 * instead: two plain-loop kernels that do the matmuls too (tfjs-cpu's matmul is what bounds a small model's
 * step there); row parts and a backend without those kernels take the chunks.
 */

import * as tf from '@tensorflow/tfjs-core';
import {
  fusedBackend,
  makeF32,
  once,
  readF32,
  registerKernel,
  runProgram,
  type CpuBackendLike,
  type Uniform,
} from './kernel-support.js';
import { cpuLceKernels, cpuLinearCrossEntropy } from './linear-cross-entropy-cpu.js';

export const LCE_ROW_STATS_KERNEL = 'DumboLceRowStats';
export const LCE_LOGITS_GRAD_KERNEL = 'DumboLceLogitsGrad';

/** Logits this small are one chunk whatever the other rules say: memory they would not save, launches they cost. */
const SMALL_LOGITS_BYTES = 8 * 2 ** 20;
/** The most chunks: on a GPU each costs about seven launches. */
const MAX_CHUNKS = 16;

const pow2Up = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * Rows per chunk, a power of two: at least Liger's (about V/D chunks, so that a chunk's logits [chunk, V] are
 * about the size of the hidden states [N, D]), grown to at most 16 chunks (a chunk's logits are then at most
 * 1/8 of the [N, V] the default makes: the memory order Liger saves, at a bounded launch count) and to as
 * many rows as 8 MiB of logits hold (rounded down); never more than N needs.
 */
export function lceChunkRows(N: number, V: number, D: number): number {
  const liger = Math.ceil(N / Math.max(1, Math.ceil(V / D)));
  const fewest = Math.ceil(N / MAX_CHUNKS);
  const small = Math.floor(SMALL_LOGITS_BYTES / (4 * V));
  const rows = Math.max(pow2Up(Math.max(liger, fewest)), small >= 1 ? 2 ** Math.floor(Math.log2(small)) : 1);
  return Math.min(rows, pow2Up(N));
}

// ------------------------------------------------------------------------------------- cpu: plain loops

/** [lse; nll] of each row r of the chunk's logits [C, V], whose target is t[offset + r]: two rows of C. */
function rowStatsHost(x: Float32Array, t: Int32Array, offset: number, C: number, V: number): Float32Array {
  const out = new Float32Array(2 * C);
  for (let r = 0; r < C; r++) {
    const base = r * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (x[base + v]! > max) max = x[base + v]!;
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(x[base + v]! - max);
    const lse = max + Math.log(sum);
    out[r] = lse;
    out[C + r] = lse - x[base + t[offset + r]!]!;
  }
  return out;
}

/** (softmax − onehot(target)) · dy of each row r of the chunk's logits [C, V]; lse, t and dy at offset + r. */
function logitsGradHost(
  x: Float32Array,
  lse: Float32Array,
  t: Int32Array,
  dy: Float32Array,
  offset: number,
  V: number,
) {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / V; r++) {
    const [base, l, d] = [r * V, lse[offset + r]!, dy[offset + r]!];
    for (let v = 0; v < V; v++) out[base + v] = Math.exp(x[base + v]! - l) * d;
    out[base + t[offset + r]!]! -= d;
  }
  return out;
}

// --------------------------------------------------------------------------------------- webgpu: WGSL

/**
 * One workgroup per row of the chunk: max, then Σexp, each reduced in workgroup memory; writes lse at [0, r]
 * and nll at [1, r]. The targets are all N of them, the chunk's from `offset` (no slice launched per chunk).
 */
class RowStatsProgram {
  readonly variableNames = ['logits', 'targets'];
  readonly uniforms = 'offset : i32,';
  readonly outputShape: number[];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'dumbo_lce_row_stats';

  constructor(rows: number) {
    this.outputShape = [2, rows];
    this.dispatchLayout = { x: [0, 1] };
    this.dispatch = [rows, 1, 1];
  }

  getUserCode(): string {
    return `
      const block = ${this.workgroupSize[0]};
      var<workgroup> buf : array<f32, ${this.workgroupSize[0]}>;
      fn reduceMax(tid : i32) -> f32 {
        for (var s = block / 2; s > 0; s = s / 2) {
          if (tid < s) { buf[tid] = max(buf[tid], buf[tid + s]); }
          workgroupBarrier();
        }
        return buf[0];
      }
      fn reduceSum(tid : i32) -> f32 {
        for (var s = block / 2; s > 0; s = s / 2) {
          if (tid < s) { buf[tid] = buf[tid] + buf[tid + s]; }
          workgroupBarrier();
        }
        return buf[0];
      }
      fn main(index : i32) {
        let row = index / block;
        let tid = i32(localId.x);
        let V = uniforms.logitsShape[1];
        let base = row * V;
        var m = -3.402823e+38;
        for (var v = tid; v < V; v = v + block) { m = max(m, logits[base + v]); }
        buf[tid] = m;
        workgroupBarrier();
        let rowMax = reduceMax(tid);
        workgroupBarrier();
        var s = 0.0;
        for (var v = tid; v < V; v = v + block) { s = s + exp(logits[base + v] - rowMax); }
        buf[tid] = s;
        workgroupBarrier();
        let lse = rowMax + log(reduceSum(tid));
        if (tid == 0) {
          let C = uniforms.outShape[1];
          setOutputAtIndex(row, lse);
          setOutputAtIndex(C + row, lse - logits[base + targets[uniforms.offset + row]]);
        }
      }
    `;
  }
}

/**
 * One thread per logit of the chunk: exp(x − lse)·dy, minus dy at the row's target; lse (row 0 of the saved
 * [2, N] statistics), the targets and dy are all N rows', the chunk's from `offset`.
 */
class LogitsGradProgram {
  readonly variableNames = ['logits', 'stats', 'targets', 'dy'];
  readonly uniforms = 'offset : i32,';
  readonly outputShape: number[];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'dumbo_lce_logits_grad';

  constructor(shape: [number, number]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: [0, 1] };
    this.dispatch = [Math.ceil((shape[0] * shape[1]) / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let V = uniforms.outShape[1];
          let row = index / V;
          let at = uniforms.offset + row;
          let d = dy[at];
          var g = exp(logits[index] - stats[at]) * d;
          if (index - row * V == targets[at]) { g = g - d; }
          setOutputAtIndex(index, g);
        }
      }
    `;
  }
}

// ------------------------------------------------------------------------------------------- kernels

interface OffsetAttrs {
  /** The chunk's first row among all N (of the targets, statistics and dy). */
  offset: number;
}

/** Registers the two chunk kernels for cpu and webgpu; idempotent. */
export const registerLceKernels = once(() => {
  // The chunk's first row among all N: the one uniform of both WGSL programs.
  const offsetOf = (attrs: unknown): Uniform[] => [{ type: 'int32', data: [(attrs as OffsetAttrs).offset] }];
  const read = (b: object, t: tf.TensorInfo) => (b as CpuBackendLike).readSync(t.dataId);
  registerKernel(
    LCE_ROW_STATS_KERNEL,
    ({ inputs, backend, attrs }) => {
      const { logits, targets } = inputs as Record<'logits' | 'targets', tf.TensorInfo>;
      const [C, V] = logits.shape as [number, number];
      const [x, t] = [readF32(backend, logits), read(backend, targets) as Int32Array];
      return makeF32(backend, [2, C], rowStatsHost(x, t, (attrs as unknown as OffsetAttrs).offset, C, V));
    },
    ({ inputs, backend, attrs }) => {
      const { logits, targets } = inputs as Record<'logits' | 'targets', tf.TensorInfo>;
      return runProgram(backend, new RowStatsProgram(logits.shape[0]!), [logits, targets], offsetOf(attrs));
    },
  );
  registerKernel(
    LCE_LOGITS_GRAD_KERNEL,
    ({ inputs, backend, attrs }) => {
      const { logits, stats, targets, dy } = inputs as Record<'logits' | 'stats' | 'targets' | 'dy', tf.TensorInfo>;
      const { offset } = attrs as unknown as OffsetAttrs;
      const V = logits.shape[1]!;
      const t = read(backend, targets) as Int32Array;
      const out = logitsGradHost(readF32(backend, logits), readF32(backend, stats), t, readF32(backend, dy), offset, V);
      return makeF32(backend, logits.shape, out);
    },
    ({ inputs, backend, attrs }) => {
      const { logits, stats, targets, dy } = inputs as Record<'logits' | 'stats' | 'targets' | 'dy', tf.TensorInfo>;
      const program = new LogitsGradProgram(logits.shape as [number, number]);
      return runProgram(backend, program, [logits, stats, targets, dy], offsetOf(attrs));
    },
  );
});

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** (row, target) of each row, for gatherND and tensorScatterUpdate. */
function targetIndices(targets: tf.Tensor1D): tf.Tensor2D {
  return tf.stack([tf.range(0, targets.shape[0], 1, 'int32'), targets], 1) as tf.Tensor2D;
}

/** [lse; nll] [2, C] of the chunk's logits [C, V], whose targets are targets[offset, offset + C). */
function rowStats(logits: tf.Tensor2D, targets: tf.Tensor1D, offset: number): tf.Tensor2D {
  if (hasKernel(LCE_ROW_STATS_KERNEL)) {
    return tf.engine().runKernel(LCE_ROW_STATS_KERNEL, { logits, targets }, { offset } as never) as tf.Tensor2D;
  }
  const lse = tf.logSumExp(logits, 1) as tf.Tensor1D;
  const picked = tf.gatherND(logits, targetIndices(rowsOf(targets, offset, logits.shape[0])));
  return tf.stack([lse, tf.sub(lse, picked)]) as tf.Tensor2D;
}

/**
 * d Σ dy·nll / d logits for the chunk's logits [C, V]: (softmax − onehot)·dy, the softmax from the saved lse
 * (row 0 of stats [2, N]); stats, targets and dy are all N rows', the chunk's from `offset`.
 */
function logitsGrad(
  logits: tf.Tensor2D,
  stats: tf.Tensor2D,
  targets: tf.Tensor1D,
  dy: tf.Tensor1D,
  offset: number,
): tf.Tensor2D {
  if (hasKernel(LCE_LOGITS_GRAD_KERNEL)) {
    const inputs = { logits, stats, targets, dy };
    return tf.engine().runKernel(LCE_LOGITS_GRAD_KERNEL, inputs, { offset } as never) as tf.Tensor2D;
  }
  const C = logits.shape[0];
  const [lse, d] = [tf.slice(stats, [0, offset], [1, C]), tf.reshape(rowsOf(dy, offset, C), [C, 1])];
  const g = tf.mul(tf.exp(tf.sub(logits, tf.reshape(lse, [C, 1]))), d);
  const at = targetIndices(rowsOf(targets, offset, C)); // the C target entries rewritten, never a one-hot
  return tf.tensorScatterUpdate(g, at, tf.sub(tf.gatherND(g, at), tf.reshape(d, [C]))) as tf.Tensor2D;
}

/** Rows [start, start + rows) of a tensor, without a copy when that is all of it. */
function rowsOf<T extends tf.Tensor>(x: T, start: number, rows: number): T {
  if (start === 0 && rows === x.shape[0]) return x;
  return tf.slice(x, start, rows);
}

/**
 * The kernel table's `linear_cross_entropy`: per-row NLL [N] of `targets` (int32, all in [0, V)) under the
 * logits hidden [N, D] · weight [V, D]ᵀ, computed chunk by chunk so the [N, V] logits never exist (forward
 * or backward). The weight may come as its row parts (a weight past a GPU's binding limit): each chunk's
 * logits are then one matmul per part, and each part gets its own gradient. Gradients for hidden and weight;
 * none for the targets.
 */
export function fusedLinearCrossEntropy(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D | readonly tf.Tensor2D[],
  targets: tf.Tensor1D,
): tf.Tensor1D {
  const parts = Array.isArray(weight) ? [...(weight as readonly tf.Tensor2D[])] : [weight as tf.Tensor2D];
  const [N, D] = hidden.shape;
  const V = parts.reduce((sum, w) => sum + w.shape[0], 0);
  const shapes = parts.map((w) => `[${w.shape.join(', ')}]`).join(' + ');
  if (
    hidden.rank !== 2 ||
    parts.length === 0 ||
    parts.some((w) => w.rank !== 2 || w.shape[1] !== D) ||
    targets.rank !== 1 ||
    targets.shape[0] !== N
  ) {
    throw new Error(
      `linear_cross_entropy: expected hidden [N, D], weight [V, D] and targets [N], got [${hidden.shape.join(', ')}], ` +
        `${shapes || 'no weight'} and [${targets.shape.join(', ')}]`,
    );
  }
  if (targets.dtype !== 'int32') throw new Error(`linear_cross_entropy: targets must be int32, got ${targets.dtype}`);
  if (N === 0) return tf.zeros([0]);
  // On cpu, a whole float32 weight goes through the plain-loop kernels: no tfjs matmul (linear-cross-entropy-cpu.ts).
  const whole = parts.length === 1 && [hidden, parts[0]!].every((x) => x.dtype === 'float32');
  if (fusedBackend() === 'cpu' && whole && cpuLceKernels()) {
    return cpuLinearCrossEntropy(hidden, parts[0]!, targets);
  }
  registerLceKernels();
  const chunk = lceChunkRows(N, V, D);
  const spans: [number, number][] = [];
  for (let s = 0; s < N; s += chunk) spans.push([s, Math.min(chunk, N - s)]);
  // Where each part's columns start in a chunk's logits.
  const starts = parts.map((_, p) => parts.slice(0, p).reduce((sum, w) => sum + w.shape[0], 0));
  const logitsOf = (hc: tf.Tensor2D, ws: tf.Tensor2D[]): tf.Tensor2D =>
    ws.length === 1
      ? tf.matMul(hc, ws[0]!, false, true)
      : tf.concat2d(
          ws.map((w) => tf.matMul(hc, w, false, true) as tf.Tensor2D),
          1,
        ); // (c, V)

  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [h, t, ...w] = args as [tf.Tensor2D, tf.Tensor1D, ...tf.Tensor2D[]];
    // Each chunk's rows, sliced once and kept for the backward (N·D in all): one launch fewer per chunk there.
    const rows = spans.map(([s, c]) => rowsOf(h, s, c)); // (c, D) each
    const chunkStats = rows.map((hc, i) => tf.tidy(() => rowStats(logitsOf(hc, w), t, spans[i]![0])));
    const stats = tf.concat(chunkStats, 1); // (2, N): lse; nll
    tf.dispose(chunkStats);
    save([t, stats, ...w, ...rows]);
    return {
      value: tf.reshape(tf.slice(stats, [1, 0], [1, N]), [N]),
      gradFunc: (dy, saved) => {
        const [ts, st] = saved as [tf.Tensor1D, tf.Tensor2D];
        const ws = saved.slice(2, 2 + parts.length) as tf.Tensor2D[];
        const hcs = saved.slice(2 + parts.length) as tf.Tensor2D[];
        const gradHidden: tf.Tensor2D[] = [];
        let gradWeights: tf.Tensor2D[] | undefined;
        for (const [i, [s, c]] of spans.entries()) {
          const [gh, ...gw] = tf.tidy(() => {
            const hc = hcs[i]!;
            const g = logitsGrad(logitsOf(hc, ws), st, ts, dy as tf.Tensor1D, s); // (c, V): the only logits alive
            // Per part: its columns of g; gᵀ·h_c plus the part's running sum in one kernel (the sum as the
            // matmul's bias), and g·W summed over the parts the same way.
            let gradH: tf.Tensor2D | undefined;
            const sums = ws.map((w, p): tf.Tensor2D => {
              const gp = ws.length === 1 ? g : (tf.slice(g, [0, starts[p]!], [c, w.shape[0]]) as tf.Tensor2D);
              // (tfjs-webgpu's fused matmul adds a launch for the bias even without one: plain matMul first)
              gradH = (gradH ? tf.fused.matMul({ a: gp, b: w, bias: gradH }) : tf.matMul(gp, w)) as tf.Tensor2D;
              return tf.fused.matMul({ a: gp, b: hc, transposeA: true, bias: gradWeights?.[p] }) as tf.Tensor2D;
            });
            return [gradH!, ...sums] as tf.Tensor2D[];
          });
          tf.dispose(gradWeights); // only the newest sums are kept
          gradWeights = gw;
          gradHidden.push(gh!);
        }
        const gh = tf.concat(gradHidden);
        tf.dispose(gradHidden);
        return [gh, tf.zerosLike(ts), ...gradWeights!];
      },
    };
  });
  return f(hidden, targets, ...parts) as tf.Tensor1D;
}
