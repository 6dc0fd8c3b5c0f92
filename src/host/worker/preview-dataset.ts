/**
 * The worker's `previewDataset` task: the first batch as the trainer would see it, token by token, with the
 * label positions the loss ignores marked, cut at the trainer's sequence length.
 *
 * Runs only in the forked worker. May import core; imported by index.ts.
 */

import { DumboError } from '../../core/index.js';
import type { DatasetPreview } from '../../shared/api.js';
import type { WorkerCalls } from '../protocol.js';
import { formattedDataset } from './formatted-dataset.js';
import { askEstimate } from './estimate-facts.js';
import { prepareText, type LoadedSet } from './shared.js';

export async function previewDataset(
  p: WorkerCalls['previewDataset']['params'],
  loaded: LoadedSet,
): Promise<DatasetPreview> {
  const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
  const { rows, tokenizer } = await formattedDataset(prepared);
  if (!tokenizer) throw new DumboError('no tokenizer: add a tokenizer_loader plugin (transformers) to plugins:');
  // The batch size and sequence length are the trainer's to say (no trainer: 8 rows, as formatted).
  const { facts } = await askEstimate(prepared, { model: false, rows: rows.length });
  const batch = Math.min(facts.batchSize ?? 8, p.maxRows ?? 8);
  const maxLength = facts.seqLen ?? Infinity;
  return {
    rows: rows.slice(0, batch).map((row) => {
      const n = Math.min(row.input_ids.length, maxLength);
      const tokens: { text: string; masked: boolean }[] = [];
      for (let t = 0; t < n; t++) {
        tokens.push({ text: tokenizer.decode([row.input_ids[t]!]), masked: (row.labels[t] ?? -100) === -100 });
      }
      return { tokens };
    }),
  };
}
