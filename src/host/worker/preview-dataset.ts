/**
 * The worker's `previewDataset` task: the first batch as the trainer would see it, token by token, with the
 * label positions the loss ignores marked, cut at the trainer's sequence length; beside it the dataset's
 * first rows as the loader read them, and how many examples were cut or left out as too long.
 *
 * Runs only in the forked worker. May import core; imported by index.ts.
 */

import { DumboError, type DatasetInfo } from '../../core/index.js';
import type { DatasetPreview } from '../../shared/api.js';
import type { WorkerCalls } from '../protocol.js';
import { formattedDataset } from './formatted-dataset.js';
import { askEstimate } from './estimate-facts.js';
import { prepareText, type LoadedSet } from './shared.js';

/** A raw field longer than this is cut: the preview is for reading, and it crosses two process boundaries. */
export const RAW_FIELD_CHARS = 2000;

/** A loaded field as text: a string as it is, anything else as JSON (a bigint as its digits). */
function fieldText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value); // a cycle: what String() says of it is all there is to show
  }
}

/** One loaded row as text per field, each cut at RAW_FIELD_CHARS. */
export function rawRowText(row: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(row)) {
    const text = fieldText(value);
    out[key] = text.length > RAW_FIELD_CHARS ? `${text.slice(0, RAW_FIELD_CHARS)}…` : text;
  }
  return out;
}

/** A count the formatter reported for the training split (jinja_formatter's `formatted.train`), if any. */
function formatterCount(info: DatasetInfo | undefined, key: 'examples' | 'truncated' | 'dropped'): number | undefined {
  const train = (info?.formatted as { train?: Record<string, unknown> } | undefined)?.train;
  const n = train?.[key];
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

export async function previewDataset(
  p: WorkerCalls['previewDataset']['params'],
  loaded: LoadedSet,
): Promise<DatasetPreview> {
  const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
  const { rows, tokenizer, raw, info } = await formattedDataset(prepared);
  if (!tokenizer) throw new DumboError('no tokenizer: add a tokenizer_loader plugin (transformers) to plugins:');
  // The batch size and sequence length are the trainer's to say (no trainer: 8 rows, as formatted).
  const { facts } = await askEstimate(prepared, { model: false, rows: rows.length });
  const batch = Math.min(facts.batchSize ?? 8, p.maxRows ?? 8);
  const maxLength = facts.seqLen ?? Infinity;
  // Rows the trainer cuts: longer than its sequence length after the formatter's own truncation.
  const cutByTrainer = rows.filter((row) => row.input_ids.length > maxLength).length;
  return {
    rows: rows.slice(0, batch).map((row) => {
      const n = Math.min(row.input_ids.length, maxLength);
      const tokens: { text: string; masked: boolean }[] = [];
      for (let t = 0; t < n; t++) {
        tokens.push({ text: tokenizer.decode([row.input_ids[t]!]), masked: (row.labels[t] ?? -100) === -100 });
      }
      return { tokens };
    }),
    rawRows: raw.slice(0, batch).map(rawRowText),
    examples: formatterCount(info, 'examples') ?? rows.length,
    // The larger of the two: an example the formatter cut may be cut again by the trainer, and counts once.
    truncated: Math.max(formatterCount(info, 'truncated') ?? 0, cutByTrainer),
    dropped: formatterCount(info, 'dropped') ?? 0,
  };
}
