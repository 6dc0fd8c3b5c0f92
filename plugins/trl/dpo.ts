/**
 * DPO's loss, as TRL's DPOTrainer computes it (`loss_type: sigmoid`): for each pair, the policy's and the
 * reference model's summed log-probabilities of the chosen and the rejected completion (prompt tokens masked),
 * and the loss `-logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))`, averaged over the pairs. Both
 * sequences of a batch go through the model in one forward (`[2B, T]`: the chosen rows, then the rejected).
 *
 * The reference is the frozen initial model: with LoRA, the same model with its adapters off (no copy); else
 * a copy of the initial weights made once; or neither, when every row's reference log-probabilities were
 * precomputed before training. The step's rewards (`beta * (pi - ref)`) and log-probabilities are kept as
 * one small tensor per micro-batch and read once, when the trainer logs (`DpoMetrics`).
 */
import { MetricEvent } from 'dumbo';
import {
  createModel,
  crossEntropy,
  IGNORE_INDEX,
  tf,
  type Batch,
  type CausalLM,
  type EngineLossFunction,
} from 'dumbo/engine';
import { isPairRow, type PairRow } from './dpo-data.js';

/** The summed log-probability of each row's predicted tokens (labels != -100): logits [N, T, V] -> [N]. */
export function sequenceLogps(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Tensor1D {
  const [rows, T, V] = logits.shape;
  if (T < 2) return tf.zeros([rows]);
  return tf.tidy(() => {
    // Position t predicts token t + 1; a label of -100 there predicts nothing.
    const next = tf.reshape(tf.slice(labels, [0, 1], [rows, T - 1]), [-1]) as tf.Tensor1D; // (rows·(T-1),)
    const counted = tf.cast(tf.notEqual(next, IGNORE_INDEX), 'float32');
    const predictions = tf.reshape(tf.slice(logits, [0, 0, 0], [rows, T - 1, V]), [-1, V]) as tf.Tensor2D;
    const logp = tf.neg(crossEntropy(predictions, tf.maximum(next, tf.zerosLike(next)))); // (rows·(T-1),)
    return tf.sum(tf.reshape(tf.mul(logp, counted), [rows, T - 1]), 1) as tf.Tensor1D;
  });
}

/** The batch's pairs as one `[2B, T]` batch: every chosen sequence, then every rejected one, padded. */
export function pairBatch(rows: readonly PairRow[]): { ids: tf.Tensor2D; labels: tf.Tensor2D } {
  const seqs = [
    ...rows.map((r) => [r.input_ids, r.labels] as const),
    ...rows.map((r) => [r.rejected_input_ids, r.rejected_labels] as const),
  ];
  const T = Math.max(...seqs.map(([ids]) => ids.length));
  // Padding goes after each sequence: a causal model's earlier positions never see it, and its labels are -100.
  const ids = new Int32Array(seqs.length * T);
  const labels = new Int32Array(seqs.length * T).fill(IGNORE_INDEX);
  seqs.forEach(([i, l], k) => {
    ids.set(i, k * T);
    labels.set(l, k * T);
  });
  return { ids: tf.tensor2d(ids, [seqs.length, T], 'int32'), labels: tf.tensor2d(labels, [seqs.length, T], 'int32') };
}

/** The per-pair quantities of a batch's DPO loss, from the log-probabilities `[2B]` of policy and reference. */
export function dpoLoss(
  policy: tf.Tensor1D,
  reference: tf.Tensor1D,
  beta: number,
): { loss: tf.Scalar; stats: tf.Tensor1D } {
  return tf.tidy(() => {
    const [piC, piR] = tf.split(policy, 2) as [tf.Tensor1D, tf.Tensor1D];
    const [refC, refR] = tf.split(reference, 2) as [tf.Tensor1D, tf.Tensor1D];
    const chosen = tf.mul(tf.sub(piC, refC), beta); // (B,): the implicit rewards
    const rejected = tf.mul(tf.sub(piR, refR), beta);
    const margin = tf.sub(chosen, rejected);
    const loss = tf.mean(tf.neg(tf.logSigmoid(margin))) as tf.Scalar;
    // Sums over the pairs, in METRIC_NAMES order: averaged over every pair of the logging window.
    const won = tf.cast(tf.greater(chosen, rejected), 'float32');
    const stats = tf.stack([chosen, rejected, won, margin, piC, piR].map((x) => tf.sum(x))) as tf.Tensor1D;
    return { loss, stats };
  });
}

/** TRL's names of the DPO metrics, in the order of `dpoLoss`'s stats. */
export const METRIC_NAMES = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/chosen',
  'logps/rejected',
] as const;

/** The reference model's log-probabilities `[2B]` of a pair batch, without gradient. */
export type ReferenceForward = (ids: tf.Tensor2D, labels: tf.Tensor2D) => tf.Tensor1D;

/** The log-probabilities of `lm` with its adapters off (the base model), restoring the switch after. */
export function adaptersOff(lm: CausalLM, lora: { enabled: boolean }): ReferenceForward {
  return (ids, labels) => {
    const was = lora.enabled;
    lora.enabled = false;
    try {
      return tf.tidy(() => sequenceLogps(lm.forward(ids, { training: false }), labels));
    } finally {
      lora.enabled = was;
    }
  };
}

/** A frozen copy of the model's weights as they are now: the same config, the same values, never trained. */
export function frozenCopy(lm: CausalLM): CausalLM {
  const copy = createModel(lm.config, { initialize: false });
  for (const [name, v] of copy.params) {
    const source = lm.params.get(name);
    if (!source) {
      copy.dispose();
      throw new Error(`cannot copy the model for the DPO reference: it has no weight '${name}'`);
    }
    v.assign(source);
    v.trainable = false;
  }
  return copy;
}

export function forwardOf(lm: CausalLM): ReferenceForward {
  return (ids, labels) => tf.tidy(() => sequenceLogps(lm.forward(ids, { training: false }), labels));
}

/**
 * Sets `ref_chosen_logps` and `ref_rejected_logps` on every row: the reference's log-probabilities, in
 * batches of `batchSize` pairs, one read per batch.
 */
export async function precomputeReference(
  rows: readonly PairRow[],
  reference: ReferenceForward,
  batchSize: number,
): Promise<void> {
  for (let start = 0; start < rows.length; start += batchSize) {
    const part = rows.slice(start, start + batchSize);
    const logps = tf.tidy(() => {
      const { ids, labels } = pairBatch(part);
      return reference(ids, labels);
    });
    const values = await logps.data();
    logps.dispose();
    part.forEach((r, k) => {
      r.ref_chosen_logps = values[k]!;
      r.ref_rejected_logps = values[part.length + k]!;
    });
  }
}

/** The precomputed reference log-probabilities of a batch's pairs `[2B]`. */
function precomputed(rows: readonly PairRow[]): tf.Tensor1D {
  const values = [...rows.map((r) => r.ref_chosen_logps), ...rows.map((r) => r.ref_rejected_logps)];
  if (values.some((v) => typeof v !== 'number')) {
    throw new Error('a preference row has no precomputed reference log-probabilities (precompute_ref_log_probs)');
  }
  return tf.tensor1d(values as number[]);
}

/** The batch's rows, each a formatted preference pair. */
function pairRowsOf(batch: Batch): PairRow[] {
  const rows = batch.rows;
  if (!rows || !rows.every(isPairRow)) {
    throw new Error(
      "trl's DPO loss needs preference rows (rejected_input_ids, rejected_labels) in each batch: the dataset " +
        'must be formatted by trl with method: dpo',
    );
  }
  return rows as PairRow[];
}

/** The step's DPO statistics, kept per micro-batch (one small tensor each) until the trainer logs. */
export class DpoMetrics {
  private readonly pending: Record<'train' | 'eval', { stats: tf.Tensor1D; pairs: number }[]> = { train: [], eval: [] };

  add(split: 'train' | 'eval', stats: tf.Tensor1D, pairs: number): void {
    this.pending[split].push({ stats: tf.keep(stats), pairs });
  }

  /** The means over every pair since the last call, as metric events (`prefix` + TRL's name); one read. */
  async take(split: 'train' | 'eval', step: number, prefix = ''): Promise<MetricEvent[]> {
    const items = this.pending[split].splice(0);
    if (items.length === 0) return [];
    const pairs = items.reduce((n, x) => n + x.pairs, 0);
    const sum = tf.addN(items.map((x) => x.stats));
    tf.dispose(items.map((x) => x.stats));
    const values = await sum.data();
    sum.dispose();
    return METRIC_NAMES.map((name, k) => new MetricEvent(prefix + name, values[k]! / pairs, step));
  }

  dispose(): void {
    for (const items of Object.values(this.pending)) tf.dispose(items.splice(0).map((x) => x.stats));
  }
}

/**
 * The DPO loss of a training step: `weight` is the batch's number of pairs, so micro-batches average over
 * pairs. `reference` is undefined when the rows carry precomputed log-probabilities.
 */
export function dpoLossFunction(
  reference: ReferenceForward | undefined,
  o: { beta: number; disable_dropout: boolean },
  metrics: DpoMetrics,
): EngineLossFunction {
  return (lm, batch, options) => {
    const rows = pairRowsOf(batch);
    const { ids, labels } = pairBatch(rows);
    const forward = { ...options, training: options.training && !o.disable_dropout };
    const policy = sequenceLogps(lm.forward(ids, forward), labels);
    const ref = reference ? reference(ids, labels) : precomputed(rows);
    const { loss, stats } = dpoLoss(policy, ref, o.beta);
    metrics.add(options.training ? 'train' : 'eval', stats, rows.length);
    return { loss, weight: rows.length };
  };
}
