/**
 * The data pipeline of training: formatted rows (input_ids + labels) -> shuffled, padded batches, with a
 * position (epoch, batch) that a checkpoint saves, so a resumed run sees exactly the batches an
 * uninterrupted one would. Shuffling is seeded per epoch (seed + epoch), never by Math.random.
 */

import * as tf from '@tensorflow/tfjs-core';
import { seededPermutation, type TokenizedRow } from '../core/index.js';

export interface Batch {
  /** [B, T] int32 */
  inputIds: tf.Tensor2D;
  /** [B, T] int32, -100 where nothing is predicted (padding, masked prompt) */
  labels: tf.Tensor2D;
  /** Tokens that are predicted (labels != -100 after the shift). */
  predictedTokens: number;
  /** Tokens in the batch, padding excluded. */
  tokens: number;
  /**
   * The rows the batch was made from, in batch order: for a loss that reads more of a row than its ids and
   * labels (DPO's rejected sequence and reference log-probabilities). `collate` always sets it.
   */
  rows?: readonly TokenizedRow[];
}

export interface DataPosition {
  epoch: number;
  /** Index of the next batch within the epoch. */
  batch: number;
}

/** Batches in an epoch: the last partial batch is dropped unless it is the only one (tiny datasets still train). */
export function batchesPerEpoch(rows: number, batchSize: number): number {
  return Math.max(1, Math.floor(rows / batchSize));
}

/** Optimizer steps in an epoch: full batches, `accumulation` of them a step (at least one step). */
export function stepsPerEpoch(rows: number, batchSize: number, accumulation: number): number {
  return Math.max(1, Math.floor(batchesPerEpoch(rows, batchSize) / accumulation));
}

export function isTokenizedRow(row: unknown): row is TokenizedRow {
  const r = row as TokenizedRow;
  return typeof r === 'object' && r !== null && Array.isArray(r.input_ids) && Array.isArray(r.labels);
}

/** Pads a list of rows to the longest (capped at `maxLength`) and makes the two tensors. */
export function collate(rows: readonly TokenizedRow[], maxLength: number, padId: number): Batch {
  const T = Math.min(maxLength, Math.max(...rows.map((r) => r.input_ids.length)));
  const ids = new Int32Array(rows.length * T).fill(padId);
  const labels = new Int32Array(rows.length * T).fill(-100);
  let predicted = 0;
  let tokens = 0;
  rows.forEach((r, b) => {
    const n = Math.min(T, r.input_ids.length);
    tokens += n;
    for (let t = 0; t < n; t++) {
      ids[b * T + t] = r.input_ids[t]!;
      const label = r.labels[t] ?? -100;
      labels[b * T + t] = label;
      if (t > 0 && label !== -100) predicted += 1;
    }
  });
  return {
    inputIds: tf.tensor2d(ids, [rows.length, T], 'int32'),
    labels: tf.tensor2d(labels, [rows.length, T], 'int32'),
    predictedTokens: predicted,
    tokens,
    rows,
  };
}

/** Batches of a dataset, epoch after epoch, in a seeded order; resumable from a DataPosition. */
export class BatchStream {
  private order: number[] = [];
  private orderEpoch = -1;
  readonly batchesPerEpoch: number;

  constructor(
    private readonly rows: readonly TokenizedRow[],
    private readonly batchSize: number,
    private readonly maxLength: number,
    private readonly padId: number,
    private readonly seed: number,
    private readonly shuffle = true,
    public position: DataPosition = { epoch: 0, batch: 0 },
  ) {
    if (rows.length === 0) throw new Error('the training set is empty');
    this.batchesPerEpoch = batchesPerEpoch(rows.length, batchSize);
  }

  /** The next batch; the position moves on (to the next epoch after the last batch). */
  next(): Batch {
    const { epoch, batch } = this.position;
    if (this.orderEpoch !== epoch) {
      this.order = this.shuffle ? seededPermutation(this.rows.length, this.seed + epoch) : this.rows.map((_, i) => i);
      this.orderEpoch = epoch;
    }
    const start = batch * this.batchSize;
    const idx = this.order.slice(start, start + this.batchSize);
    const out = collate(
      idx.map((i) => this.rows[i]!),
      this.maxLength,
      this.padId,
    );
    this.position = batch + 1 >= this.batchesPerEpoch ? { epoch: epoch + 1, batch: 0 } : { epoch, batch: batch + 1 };
    return out;
  }
}

/** Every batch of a dataset once, in order (evaluation). */
export function* evalBatches(
  rows: readonly TokenizedRow[],
  batchSize: number,
  maxLength: number,
  padId: number,
  limit = Infinity,
): Generator<Batch> {
  for (let start = 0, n = 0; start < rows.length && n < limit; start += batchSize, n++) {
    yield collate(rows.slice(start, start + batchSize), maxLength, padId);
  }
}
