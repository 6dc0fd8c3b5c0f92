/**
 * Fused LayerNorm and RMSNorm for the kernel table (registry.ts): the forward normalizes each row over the
 * last axis and saves only its statistics, (mean, rstd) for LayerNorm and rstd for RMSNorm, as [rows, k];
 * the backward recomputes x̂ = (x - mean)·rstd from them and gives dx (one pass per row) and the weight and
 * bias gradients (sums over rows). A plain-loop kernel on `cpu`; on `webgpu` WGSL programs (a tfjs-webgpu
 * program writes one output: forward = row statistics + normalize, backward = dx + one column sum per
 * parameter); on any other backend the default composition of ops.ts.
 */

import * as tf from '@tensorflow/tfjs-core';
import { layerNorm, rmsNorm } from '../kernels/ops.js';
import { ElementwiseProgram } from './activations.js';
import { fusedBackend, makeF32, once, readF32, registerKernel, runProgram } from './kernel-support.js';

export const LAYER_NORM_KERNEL = 'DumboLayerNorm';
export const RMS_NORM_KERNEL = 'DumboRmsNorm';

/** LayerNorm subtracts the row mean and has a bias; RMSNorm neither. */
interface NormKind {
  name: string;
  centered: boolean;
}

const LAYER: NormKind = { name: LAYER_NORM_KERNEL, centered: true };
const RMS: NormKind = { name: RMS_NORM_KERNEL, centered: false };

/** Statistics per row: (mean, rstd) or (rstd). */
const statsPerRow = (kind: NormKind) => (kind.centered ? 2 : 1);

function rowsAndCols(x: tf.TensorInfo): [number, number] {
  const cols = x.shape[x.shape.length - 1]!;
  return [tf.util.sizeFromShape(x.shape) / cols, cols];
}

/** The cpu forward: y and the statistics, each row in two passes (mean, then the centered second moment). */
function forwardCpu(kind: NormKind, x: Float32Array, w: Float32Array, b: Float32Array | undefined, eps: number) {
  const cols = w.length;
  const rows = x.length / cols;
  const k = statsPerRow(kind);
  const [y, stats] = [new Float32Array(x.length), new Float32Array(rows * k)];
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let mean = 0;
    if (kind.centered) {
      for (let c = 0; c < cols; c++) mean += x[o + c]!;
      mean /= cols;
    }
    let q = 0;
    for (let c = 0; c < cols; c++) q += (x[o + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(q / cols + eps);
    for (let c = 0; c < cols; c++) y[o + c] = (x[o + c]! - mean) * rstd * w[c]! + (b ? b[c]! : 0);
    if (kind.centered) stats[r * k] = mean;
    stats[r * k + k - 1] = rstd;
  }
  return [y, stats];
}

/**
 * The cpu backward. With g = dy·w and x̂ = (x - mean)·rstd: dx = rstd·(g - mean(g) - x̂·mean(g·x̂)) (RMSNorm:
 * without the mean(g) term), dw = Σ_rows dy·x̂, db = Σ_rows dy.
 */
function backwardCpu(kind: NormKind, dy: Float32Array, x: Float32Array, w: Float32Array, stats: Float32Array) {
  const cols = w.length;
  const rows = x.length / cols;
  const k = statsPerRow(kind);
  const dx = new Float32Array(x.length);
  const [dw, db] = [new Float64Array(cols), new Float64Array(cols)];
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const mean = kind.centered ? stats[r * k]! : 0;
    const rstd = stats[r * k + k - 1]!;
    let [sg, sgx] = [0, 0];
    for (let c = 0; c < cols; c++) {
      const g = dy[o + c]! * w[c]!;
      const xh = (x[o + c]! - mean) * rstd;
      sg += g;
      sgx += g * xh;
      dw[c] = dw[c]! + dy[o + c]! * xh;
      db[c] = db[c]! + dy[o + c]!;
    }
    const mg = kind.centered ? sg / cols : 0;
    const mgx = sgx / cols;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c]! - mean) * rstd;
      dx[o + c] = rstd * (dy[o + c]! * w[c]! - mg - xh * mgx);
    }
  }
  return { dx, dw: Float32Array.from(dw), db: Float32Array.from(db) };
}

/** WGSL: `mean` and `rstd` of row `r` from the statistics buffer, for a program that binds `stats`. */
function wgslStats(kind: NormKind, r: string): string {
  const k = statsPerRow(kind);
  return `let mean = ${kind.centered ? `stats[(${r}) * ${k}]` : '0.0'};
        let rstd = stats[(${r}) * ${k} + ${k - 1}];`;
}

/** The tree sum over a 64-thread workgroup; every thread gets the total (call from uniform control flow). */
const WGSL_ROW_SUM = `
  var<workgroup> partial : array<f32, 64>;
  fn rowSum(tid : i32, v : f32) -> f32 {
    partial[tid] = v;
    workgroupBarrier();
    for (var s = 32; s > 0; s = s >> 1u) {
      if (tid < s) {
        partial[tid] = partial[tid] + partial[tid + s];
      }
      workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
  }
`;

/**
 * One 64-thread workgroup per row. The rows of a dispatch that tfjs-webgpu split past the per-dimension
 * limit may overshoot: those threads read row `rows - 1` and write nothing (barriers stay in uniform flow).
 */
abstract class RowProgram {
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly dispatchLayout = { x: [0] };
  readonly uniforms = 'rows : i32, cols : i32, eps : f32,';
  dispatch: [number, number, number];
  abstract readonly variableNames: string[];
  abstract shaderKey: string;

  constructor(
    readonly kind: NormKind,
    readonly outputShape: number[],
    rows: number,
  ) {
    this.dispatch = [rows, 1, 1];
  }

  protected rowCode(body: string): string {
    return `
      ${WGSL_ROW_SUM}
      fn main(index : i32) {
        let tid = i32(localId.x);
        let valid = index / 64 < uniforms.rows;
        let row = min(index / 64, uniforms.rows - 1);
        let cols = uniforms.cols;
        let base = row * cols;
        ${body}
      }
    `;
  }
}

/** Each row's statistics, [rows, k]: the mean, then the centered second moment (as tf.moments). */
class NormStatsProgram extends RowProgram {
  readonly variableNames = ['x'];
  shaderKey: string;

  constructor(kind: NormKind, rows: number) {
    super(kind, [rows, statsPerRow(kind)], rows);
    this.shaderKey = `${kind.name}_stats`;
  }

  getUserCode(): string {
    const k = statsPerRow(this.kind);
    return this.rowCode(`
        var s = 0.0;
        for (var c = tid; c < cols; c += 64) {
          s += x[base + c];
        }
        let mean = ${this.kind.centered ? 'rowSum(tid, s) / f32(cols)' : '0.0'};
        var q = 0.0;
        for (var c = tid; c < cols; c += 64) {
          let d = x[base + c] - mean;
          q += d * d;
        }
        let rstd = inverseSqrt(rowSum(tid, q) / f32(cols) + uniforms.eps);
        if (valid && tid == 0) {
          ${this.kind.centered ? `setOutputAtIndex(row * ${k}, mean);` : ''}
          setOutputAtIndex(row * ${k} + ${k - 1}, rstd);
        }`);
  }
}

/** dx, one row per workgroup: the two row sums mean(g) and mean(g·x̂), then dx for each element. */
class NormGradProgram extends RowProgram {
  readonly variableNames = ['dy', 'x', 'weight', 'stats'];
  shaderKey: string;

  constructor(kind: NormKind, shape: number[], rows: number) {
    super(kind, shape, rows);
    this.shaderKey = `${kind.name}_dx`;
  }

  getUserCode(): string {
    return this.rowCode(`
        ${wgslStats(this.kind, 'row')}
        var sg = 0.0;
        var sgx = 0.0;
        for (var c = tid; c < cols; c += 64) {
          let g = dy[base + c] * weight[c];
          sg += g;
          sgx += g * (x[base + c] - mean) * rstd;
        }
        let mg = ${this.kind.centered ? 'rowSum(tid, sg) / f32(cols)' : '0.0'};
        let mgx = rowSum(tid, sgx) / f32(cols);
        if (valid) {
          for (var c = tid; c < cols; c += 64) {
            let xh = (x[base + c] - mean) * rstd;
            setOutputAtIndex(base + c, rstd * (dy[base + c] * weight[c] - mg - xh * mgx));
          }
        }`);
  }
}

/**
 * Σ over rows of dy·x̂ (the weight's gradient) or of dy (the bias's), [cols]: a workgroup of 16 columns × 16
 * lanes, each lane summing every 16th row, then the lanes summed in shared memory.
 */
class ColumnSumProgram {
  readonly workgroupSize: [number, number, number] = [256, 1, 1];
  readonly dispatchLayout = { x: [0] };
  readonly uniforms = 'rows : i32, cols : i32,';
  readonly outputShape: number[];
  readonly variableNames: string[];
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    private readonly kind: NormKind,
    cols: number,
    private readonly weighted: boolean,
  ) {
    this.outputShape = [cols];
    this.variableNames = weighted ? ['dy', 'x', 'stats'] : ['dy'];
    this.dispatch = [Math.ceil(cols / 16), 1, 1];
    this.shaderKey = `${kind.name}_${weighted ? 'dweight' : 'dbias'}`;
  }

  getUserCode(): string {
    const term = this.weighted ? `dy[r * cols + c] * (x[r * cols + c] - mean) * rstd` : 'dy[r * cols + c]';
    return `
      var<workgroup> lanes : array<f32, 256>;
      fn main(index : i32) {
        let tid = i32(localId.x);
        let c = (index / 256) * 16 + tid % 16;
        let lane = tid / 16;
        let cols = uniforms.cols;
        var acc = 0.0;
        if (c < cols) {
          for (var r = lane; r < uniforms.rows; r += 16) {
            ${this.weighted ? wgslStats(this.kind, 'r') : ''}
            acc += ${term};
          }
        }
        lanes[tid] = acc;
        workgroupBarrier();
        for (var s = 8; s > 0; s = s >> 1u) {
          if (lane < s) {
            lanes[tid] = lanes[tid] + lanes[tid + s * 16];
          }
          workgroupBarrier();
        }
        if (lane == 0 && c < cols) {
          setOutputAtIndex(c, lanes[tid]);
        }
      }
    `;
  }
}

/** y from x and the statistics, one thread per element. */
function normalizeProgram(kind: NormKind, shape: number[]): ElementwiseProgram {
  const k = statsPerRow(kind);
  const r = 'index / uniforms.cols';
  const c = 'index % uniforms.cols';
  const centered = kind.centered ? `(x[index] - stats[(${r}) * 2])` : 'x[index]';
  const expr = `${centered} * stats[(${r}) * ${k} + ${k - 1}] * weight[${c}]${kind.centered ? ` + bias[${c}]` : ''}`;
  const vars = kind.centered ? ['x', 'stats', 'weight', 'bias'] : ['x', 'stats', 'weight'];
  return new ElementwiseProgram(`${kind.name}_y`, shape, vars, expr, 'cols : i32,');
}

const int = (v: number) => ({ type: 'int32' as const, data: [v] });

function registerNorm(kind: NormKind): void {
  const k = statsPerRow(kind);
  registerKernel(
    kind.name,
    ({ inputs: { x, weight, bias }, backend, attrs }) => {
      const b = bias && readF32(backend, bias);
      const [y, stats] = forwardCpu(kind, readF32(backend, x!), readF32(backend, weight!), b, attrs!.eps as number);
      return [makeF32(backend, x!.shape, y!), makeF32(backend, [stats!.length / k, k], stats!)];
    },
    ({ inputs: { x, weight, bias }, backend, attrs }) => {
      const [rows, cols] = rowsAndCols(x!);
      const eps = { type: 'float32' as const, data: [attrs!.eps as number] };
      const stats = runProgram(backend, new NormStatsProgram(kind, rows), [x!], [int(rows), int(cols), eps]);
      const params = kind.centered ? [weight!, bias!] : [weight!];
      const y = runProgram(backend, normalizeProgram(kind, x!.shape), [x!, stats, ...params], [int(cols)]);
      return [y, stats];
    },
  );
  registerKernel(
    `${kind.name}Grad`,
    ({ inputs: { dy, x, weight, stats }, backend }) => {
      const read = (t: tf.TensorInfo | undefined) => readF32(backend, t!);
      const g = backwardCpu(kind, read(dy), read(x), read(weight), read(stats));
      const [dx, dw] = [makeF32(backend, x!.shape, g.dx), makeF32(backend, weight!.shape, g.dw)];
      return kind.centered ? [dx, dw, makeF32(backend, weight!.shape, g.db)] : [dx, dw];
    },
    ({ inputs: { dy, x, weight, stats }, backend }) => {
      const [rows, cols] = rowsAndCols(x!);
      const dims = [int(rows), int(cols)];
      const noEps = { type: 'float32' as const, data: [0] };
      const program = new NormGradProgram(kind, x!.shape, rows);
      const dx = runProgram(backend, program, [dy!, x!, weight!, stats!], [...dims, noEps]);
      const dw = runProgram(backend, new ColumnSumProgram(kind, cols, true), [dy!, x!, stats!], dims);
      if (!kind.centered) return [dx, dw];
      return [dx, dw, runProgram(backend, new ColumnSumProgram(kind, cols, false), [dy!], dims)];
    },
  );
}

/** Registers the norm kernels (cpu, webgpu), forward and backward; idempotent. */
export const registerNormKernels = once(() => {
  registerNorm(LAYER);
  registerNorm(RMS);
});

/** x of rank ≥ 1 and parameters of shape [last axis of x], all float32 on a backend with the kernels. */
function fusable(x: tf.Tensor, ...params: tf.Tensor[]): boolean {
  const cols = x.shape[x.rank - 1];
  return (
    fusedBackend() !== undefined &&
    x.rank >= 1 &&
    [x, ...params].every((t) => t.dtype === 'float32') &&
    params.every((p) => p.rank === 1 && p.shape[0] === cols)
  );
}

/**
 * The fused norm as a tfjs op: the forward kernel's statistics are saved for the backward (customGrad
 * disposes them when no gradient is recorded), and the backward kernel gives every input's gradient.
 */
function normOp(kind: NormKind, eps: number) {
  const run = (name: string, inputs: tf.NamedTensorMap, attrs = {}) =>
    tf.engine().runKernel(name, inputs, attrs) as tf.Tensor[];
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [x, weight, bias] = args as tf.Tensor[];
    const [y, stats] = run(kind.name, { x: x!, weight: weight!, ...(bias && { bias }) }, { eps });
    save([x!, weight!, stats!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sstats] = saved;
        return run(`${kind.name}Grad`, { dy, x: sx!, weight: sw!, stats: sstats! });
      },
    };
  });
}

/** `layer_norm` (registry.ts): one row kernel forward saving (mean, rstd), one backward for dx, dweight, dbias. */
export function fusedLayerNorm(x: tf.Tensor3D, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor3D {
  if (!fusable(x, weight, bias)) return layerNorm(x, weight, bias, eps);
  registerNormKernels();
  return normOp(LAYER, eps)(x, weight, bias) as tf.Tensor3D;
}

/** `rms_norm` (registry.ts): one row kernel forward saving rstd, one backward for dx and dweight. */
export function fusedRmsNorm(x: tf.Tensor3D, weight: tf.Tensor, eps: number): tf.Tensor3D {
  if (!fusable(x, weight)) return rmsNorm(x, weight, eps);
  registerNormKernels();
  return normOp(RMS, eps)(x, weight) as tf.Tensor3D;
}
