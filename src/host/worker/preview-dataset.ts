/**
 * The worker's `previewDataset` task: the first batch as the trainer would see it, token by token, with the
 * label positions the loss ignores marked.
 *
 * Runs only in the forked worker. May import core; imported by index.ts.
 */

import { DumboError } from '../../core/index.js';
import type { DatasetPreview } from '../../shared/api.js';
import type { WorkerCalls } from '../protocol.js';
import { formattedDataset } from './formatted-dataset.js';
import { int, prepareText, trainerSection, type LoadedSet } from './shared.js';

export async function previewDataset(
  p: WorkerCalls['previewDataset']['params'],
  loaded: LoadedSet,
): Promise<DatasetPreview> {
  const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
  const { rows, tokenizer } = await formattedDataset(prepared);
  if (!tokenizer) throw new DumboError('no tokenizer: add a tokenizer_loader plugin (transformers) to plugins:');
  const training = trainerSection(prepared) ?? {};
  const batch = Math.min(int(training.batch_size, 8), p.maxRows ?? 8);
  const maxLength = int(training.max_length, Infinity);
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
