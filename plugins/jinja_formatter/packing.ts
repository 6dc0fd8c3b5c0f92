/**
 * The formatter's output: examples packed into sequences of exactly `max_length` tokens (with `packing`) or
 * one row each, the split's statistics completed, and the one-line summary logged per split.
 */
import { Err, Ok, type Result, type TokenizedRow } from 'dumbo';
import type { SplitStats, Tokenized } from './formatter.js';
import type { FormatterOptions } from './options.js';

/** Concatenates the examples and cuts them into sequences of exactly `length`; the partial tail is dropped. */
export function pack(examples: readonly Tokenized[], length: number): { rows: TokenizedRow[]; droppedTokens: number } {
  const rows: TokenizedRow[] = [];
  let ids: number[] = [];
  let labels: number[] = [];
  for (const ex of examples) {
    for (let k = 0; k < ex.ids.length; k++) {
      ids.push(ex.ids[k]!);
      labels.push(ex.labels[k]!);
      if (ids.length === length) {
        rows.push({ input_ids: ids, labels });
        ids = [];
        labels = [];
      }
    }
  }
  return { rows, droppedTokens: ids.length };
}

/** A split's output rows (packed, or one per example), completing its `stats`. */
export function finish(
  examples: Tokenized[],
  stats: SplitStats,
  o: FormatterOptions,
  split: string,
): Result<TokenizedRow[]> {
  let rows: TokenizedRow[];
  if (o.packing) {
    const packed = pack(examples, o.max_length);
    rows = packed.rows;
    stats.packingDroppedTokens = packed.droppedTokens;
    stats.packedSequences = rows.length;
    if (rows.length === 0 && packed.droppedTokens > 0) {
      return Err(
        new Error(
          `packing: the ${split} split has ${packed.droppedTokens} tokens in all, fewer than max_length ` +
            `${o.max_length}, so no full sequence; lower max_length or set packing: false`,
        ),
      );
    }
  } else {
    rows = examples.map((e) => ({ input_ids: e.ids, labels: e.labels }));
  }
  let masked = 0;
  for (const r of rows) {
    stats.tokens += r.input_ids.length;
    for (const l of r.labels) if (l === -100) masked++;
  }
  stats.sequences = rows.length;
  stats.maskedFraction = stats.tokens ? masked / stats.tokens : 0;
  return Ok(rows);
}

/** The line logged for a split: `train: 120 examples, 30412 tokens, ...`. */
export function summary(split: string, s: SplitStats): string {
  const parts = [`${s.examples} examples`, `${s.tokens} tokens`];
  if (s.packedSequences) parts.push(`${s.packedSequences} packed sequences`);
  if (s.truncated) parts.push(`${s.truncated} truncated`);
  if (s.dropped) parts.push(`${s.dropped} dropped as too long`);
  if (s.empty) parts.push(`${s.empty} empty`);
  parts.push(`${(100 * s.maskedFraction).toFixed(1)}% of labels masked`);
  return `${split}: ${parts.join(', ')}`;
}
