/**
 * The data path outside a run: tokenizer, dataset loader and formatter run on a prepared config, as a run
 * would run them. Used by validate (a dry run on the first rows), the dataset preview and the estimate
 * (steps follow from the rows).
 *
 * Runs only in the forked worker. May import core; imported by the task files of this folder.
 */

import {
  DumboError,
  type ActivePlugin,
  type DatasetInfo,
  type PreparedRun,
  type Tokenizer,
  type TokenizedRow,
} from '../../core/index.js';
import { workerBus } from './shared.js';

function section(prepared: PreparedRun, p: ActivePlugin): Record<string, unknown> {
  return prepared.config.section(p.meta.configKey);
}

/** Rows `dumbo validate` runs through the data path. */
export const DRY_RUN_ROWS = 64;

/**
 * Runs tokenizer_loader (model_loader only when the tokenizer needs the model), dataset_loader, formatter.
 * A failure points at the field its message names (`dataset.path: no file matches ...`).
 */
export async function formattedDataset(
  prepared: PreparedRun,
  options: { dryRunRows?: number } = {},
): Promise<{
  rows: readonly TokenizedRow[];
  tokenizer?: Tokenizer;
  evalRows: number;
  /** The training rows as the dataset loader gave them, before any formatter. */
  raw: readonly Record<string, unknown>[];
  /** What the formatted dataset says of itself (jinja_formatter's `formatted` counts). */
  info?: DatasetInfo;
}> {
  const bus = workerBus(prepared, { dryRunRows: options.dryRunRows });
  let tokenizer: Tokenizer | undefined;
  try {
    tokenizer = (await bus.first('tokenizer_loader', (p) => [section(prepared, p), undefined]))?.value;
  } catch (error) {
    // A tokenizer that comes with the model (no folder of its own): load the model first. If that fails too,
    // the tokenizer's own error is the one to show (it names the tokenizer's field).
    const model = await bus
      .first('model_loader', (p) => [section(prepared, p)])
      .then((r) => r?.value)
      .catch(() => undefined);
    if (!model) throw error;
    try {
      tokenizer = (await bus.first('tokenizer_loader', (p) => [section(prepared, p), model]))?.value;
    } finally {
      // Only the tokenizer was wanted: the worker lives on, its weights must not.
      (model as { lm?: { dispose?: () => void } }).lm?.dispose?.();
    }
  }
  let dataset = (await bus.first('dataset_loader', (p) => [section(prepared, p), tokenizer]))?.value;
  if (!dataset) throw new DumboError('no plugin provides a dataset_loader: there is no dataset to preview');
  const raw = dataset.train;
  dataset = await bus.pipe('dataset_formatter', dataset, (p, d) => [d, section(prepared, p), tokenizer]);
  const rows = dataset.train as readonly TokenizedRow[];
  const first = rows[0];
  if (!first || !Array.isArray(first.input_ids) || !Array.isArray(first.labels)) {
    throw new DumboError(
      rows.length === 0
        ? 'the training set is empty'
        : 'the dataset rows have no input_ids/labels: add a dataset_formatter (jinja_formatter) to plugins:',
    );
  }
  return { rows, tokenizer, evalRows: dataset.eval?.length ?? 0, raw, info: dataset.info?.() };
}
