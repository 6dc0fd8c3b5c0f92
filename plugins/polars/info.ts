/**
 * The dataset's `info()` (given to `log_dataset`): rows, evalRows, columns, the source files, and length
 * statistics of the training rows: `chars` always, `tokens` when the loader was given a tokenizer
 * (`tokenizer.encode`), over the first `stats_rows` rows. The text measured is `text`, `prompt + response`,
 * or the messages' contents joined by newlines; percentiles are nearest-rank.
 */
import { getLogger, type DatasetInfo, type Tokenizer } from 'dumbo';
import type { FileFormat, Options } from './options.js';
import { columnsOf, type DatasetRow } from './rows.js';

/** Statistics of a length per row; percentiles are nearest-rank, `mean` is rounded to 2 decimals. */
export interface LengthStats {
  /** Rows measured (the first `stats_rows` training rows). */
  rows: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
  total: number;
}

/** What the loader read, for the info. */
export interface Loaded {
  train: readonly DatasetRow[];
  eval: readonly DatasetRow[];
  files: string[];
  evalFiles: string[];
  formats: FileFormat[];
  /** Rows left out for a null value. */
  skipped: number;
}

const log = getLogger('polars');

/** The text a row stands for, for length statistics. */
export function rowText(row: DatasetRow): string {
  if ('text' in row) return row.text;
  if ('prompt' in row) return row.prompt + row.response;
  return row.messages.map((m) => m.content).join('\n');
}

/** min/mean/p50/p95/max/total of `values` (nearest-rank percentiles); undefined when there are none. */
export function lengthStats(values: readonly number[]): LengthStats | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const total = sorted.reduce((s, v) => s + v, 0);
  return {
    rows: sorted.length,
    min: sorted[0]!,
    mean: Math.round((total / sorted.length) * 100) / 100,
    p50: rank(50),
    p95: rank(95),
    max: sorted[sorted.length - 1]!,
    total,
  };
}

export function datasetInfo(loaded: Loaded, options: Options, tokenizer: Tokenizer | undefined): DatasetInfo {
  const fields = columnsOf(options.fields);
  // Text files have no columns: their rows' text comes from no field of the config.
  if (options.fields.kind === 'text' && loaded.formats.every((f) => f === 'text')) fields.text = 'text';
  const measured = loaded.train.slice(0, options.stats_rows).map(rowText);
  const info: DatasetInfo = {
    rows: loaded.train.length,
    evalRows: loaded.eval.length,
    columns: Object.keys(fields),
    fields,
    formats: loaded.formats,
    files: loaded.files,
    ...(loaded.evalFiles.length > 0 ? { evalFiles: loaded.evalFiles } : {}),
    shuffled: options.shuffle,
    seed: options.seed,
    ...(loaded.skipped > 0 ? { skippedRows: loaded.skipped } : {}),
    chars: lengthStats(measured.map((t) => t.length)),
  };
  if (tokenizer) {
    try {
      info.tokens = lengthStats(measured.map((t) => tokenizer.encode(t).length));
    } catch (error) {
      log.warn(`token statistics left out: the tokenizer failed (${(error as Error).message})`);
    }
  }
  return info;
}
