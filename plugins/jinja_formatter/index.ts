/**
 * jinja_formatter: turns loaded rows (`{text}`, `{prompt, response}` or chat `{messages}`) into the
 * `TokenizedRow`s (`input_ids` + `labels`, -100 = not predicted) that trainers consume (`dataset_formatter`).
 *
 * - `{text}` rows: the text as is.
 * - `{prompt, response}` rows: the prompt rendered by the Jinja `template` (or the prompt field as is), then
 *   the response right after it. Prompt and response are tokenized separately and their ids concatenated,
 *   so the mask boundary is exact; with `mask_prompt` the prompt's labels are -100 (completion-only loss).
 * - chat rows (`template: chat` / `use_chat_template`, or rows with a `messages` field): the tokenizer's
 *   chat template, rendered message prefix by message prefix to find each assistant turn (as TRL and axolotl
 *   do); with `mask_prompt` everything but the assistant turns is masked.
 *
 * Then BOS/EOS, truncation to `max_length` (or dropping), and optional packing into sequences of exactly
 * `max_length` tokens (a long example goes on in the next sequence; the last partial sequence of each split
 * is dropped, not padded). README.md beside this file documents every option.
 *
 * Where each part lives: options.ts (the section's schema and its type), template.ts (Jinja: compiling,
 * rendering a prompt with a row's fields), formatter.ts (rows into masked token ids), packing.ts (examples into
 * output rows, and the statistics of a split).
 */
import { DatasetFormatterPlugin, Err, getLogger, Ok } from 'dumbo';
import type { Dataset, DatasetInfo, PluginConfig, PluginHooks, Result, TokenizedRow, Tokenizer } from 'dumbo';
import { RowFormatter, type SplitStats } from './formatter.js';
import { aboutWhich, formatterSchema, type FormatterOptions } from './options.js';
import { finish, summary } from './packing.js';

export { RowFormatter, type SplitStats } from './formatter.js';
export type { FormatterOptions } from './options.js';
export { pack } from './packing.js';

const log = getLogger('jinja_formatter');

export interface FormattedInfo {
  mode: string[];
  maxLength: number;
  packing: boolean;
  train: SplitStats;
  eval?: SplitStats;
}

/** The whole formatting of a dataset (the hook's body, also usable on its own). */
export function formatDataset(
  dataset: Dataset,
  o: FormatterOptions,
  tokenizer: Tokenizer | undefined,
): Result<Dataset> {
  if (!tokenizer) {
    return Err(
      new Error('jinja_formatter needs a tokenizer: add a tokenizer_loader plugin (transformers) to plugins:'),
    );
  }
  if (!dataset || !Array.isArray(dataset.train)) return Err(new Error('the dataset has no train rows (a list)'));
  const formatter = RowFormatter.create(o, tokenizer);
  if (!formatter.ok) return formatter;
  const f = formatter.value;

  const train = f.format(dataset.train, 'train');
  if (!train.ok) return train;
  const trainRows = finish(train.value.examples, train.value.stats, o, 'train');
  if (!trainRows.ok) return trainRows;
  let evalRows: TokenizedRow[] | undefined;
  let evalStats: SplitStats | undefined;
  if (dataset.eval) {
    const ev = f.format(dataset.eval, 'eval');
    if (!ev.ok) return ev;
    const rows = finish(ev.value.examples, ev.value.stats, o, 'eval');
    if (!rows.ok) return rows;
    evalRows = rows.value;
    evalStats = ev.value.stats;
  }

  const inputInfo: DatasetInfo = dataset.info?.() ?? { rows: dataset.train.length, evalRows: dataset.eval?.length };
  const formatted: FormattedInfo = {
    mode: [...f.kinds],
    maxLength: o.max_length,
    packing: o.packing,
    train: train.value.stats,
    ...(evalStats ? { eval: evalStats } : {}),
  };
  const info: DatasetInfo = { ...inputInfo, formatted };
  log.info(summary('train', train.value.stats));
  if (evalStats) log.info(summary('eval', evalStats));
  const out: Dataset = {
    train: trainRows.value,
    ...(evalRows ? { eval: evalRows } : {}),
    info: () => info,
  };
  return Ok(out);
}

export class JinjaFormatter extends DatasetFormatterPlugin {
  static configKey = 'formatter';
  static description =
    'Formats text, prompt/response and chat rows with Jinja templates into token ids and labels ' +
    '(completion-only masking, truncation, packing).';
  static version = '1.0.0';
  static configSchema = formatterSchema;

  /**
   * The formatting, with a message about an option said as `formatter.OPTION: ...`: the run and `dumbo
   * validate` point at that option's line of the config, not at the section.
   */
  formatDataset(dataset: Dataset, config: PluginConfig, tokenizer: Tokenizer | undefined): Result<Dataset> {
    // Checked against formatterSchema, with its defaults, before any hook runs (validatePluginSections).
    const r = formatDataset(dataset, config as FormatterOptions, tokenizer);
    if (r.ok) return r;
    const m = aboutWhich(r.error.message);
    if (!m) return r;
    const key = (this.constructor as typeof JinjaFormatter).configKey;
    return Err(new Error(`${key}.${m.key}: ${m.text}`, { cause: r.error }));
  }

  hooks(): PluginHooks {
    return {
      ...super.hooks(),
      // The estimate's sequence length: no formatted row is longer than max_length.
      estimate: (facts, config) => {
        const { max_length } = config as FormatterOptions;
        return Ok(max_length === undefined ? facts : { ...facts, maxLength: max_length });
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [JinjaFormatter];
