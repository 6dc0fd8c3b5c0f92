/**
 * polars: the dataset loader. Reads JSONL, JSON, CSV/TSV and Parquet files with nodejs-polars (plain text
 * files with node:fs), keeps only the columns a run needs, and splits off an evaluation set.
 *
 * Rows come out in a fixed shape, whatever the file's column names, so that a formatter needs no field names
 * of its own:
 *   - `{ text }`                 from `text_field` (default `text`), and from `format: text`;
 *   - `{ prompt, response }`     from `prompt_field` + `response_field`;
 *   - `{ messages }`             from `messages_field`: a list of `{ role, content }` (or a JSON string of one).
 * Text values are strings (numbers and booleans are turned into strings). A null or missing value is an error
 * naming the file and its line (JSONL) or row, unless `null_rows: skip`, which drops such rows with a warning.
 *
 * `path` and `eval_path` are a file or a glob (`*`, `?`, `**`; hidden names only match a pattern starting with
 * `.`), or a list of them, relative to the config file's folder (the context's `configDir`). Matches are taken
 * in sorted order, so a run reads its files in the same order everywhere.
 *
 * Where each part lives: options.ts (the section's schema and the options that go together), files.ts (globs),
 * read.ts (a file into a table), rows.ts (tables into rows), split.ts (seeded order, limit and evaluation
 * split), info.ts (the dataset's info and length statistics).
 */
import { DatasetLoaderPlugin, Err, getLogger, Ok } from 'dumbo';
import type { Dataset, DatasetInfo, PluginConfig, PluginContext, Result, Tokenizer } from 'dumbo';
import { resolveFiles } from './files.js';
import { datasetInfo, type Loaded } from './info.js';
import { datasetSchema, readOptions } from './options.js';
import { noRows, readAll } from './rows.js';
import { orderAndSplit } from './split.js';

export { globFiles } from './files.js';
export { lengthStats, rowText, type LengthStats } from './info.js';
export type { FileFormat, NullRows, TextSplit } from './options.js';
export type { ChatMessage, DatasetRow } from './rows.js';

const log = getLogger('polars');
const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;

export class PolarsDatasetLoader extends DatasetLoaderPlugin {
  static configKey = 'dataset';
  static description =
    'Loads a dataset from JSONL, JSON, CSV, Parquet or text files (globs allowed), with a seeded shuffle and ' +
    'evaluation split.';
  static version = '1.0.0';
  static configSchema = datasetSchema;

  /** `path` and `eval_path` are relative to `ctx.configDir`; `ctx.seed` is the seed when the section has none. */
  async loadDataset(
    config: PluginConfig,
    tokenizer: Tokenizer | undefined,
    ctx: PluginContext,
  ): Promise<Result<Dataset>> {
    const options = readOptions(config, ctx.seed);
    if (!options.ok) return options;
    const o = options.value;
    const base = ctx.configDir;

    const files = resolveFiles(o.paths, base, 'path');
    if (!files.ok) return files;
    const evalFiles = resolveFiles(o.evalPaths, base, 'eval_path');
    if (!evalFiles.ok) return evalFiles;

    const read = await readAll(files.value, o, base);
    if (!read.ok) return read;
    if (read.value.rows.length === 0) return Err(noRows('path', files.value, base, read.value.skipped));
    const split = orderAndSplit(read.value.rows, o);
    if (!split.ok) return split;
    const loaded: Loaded = {
      ...split.value,
      files: files.value,
      evalFiles: evalFiles.value,
      formats: read.value.formats,
      skipped: read.value.skipped,
    };
    if (evalFiles.value.length > 0) {
      const ev = await readAll(evalFiles.value, o, base);
      if (!ev.ok) return ev;
      if (ev.value.rows.length === 0) return Err(noRows('eval_path', evalFiles.value, base, ev.value.skipped));
      loaded.eval = ev.value.rows;
      loaded.skipped += ev.value.skipped;
      loaded.formats = [...new Set([...loaded.formats, ...ev.value.formats])];
    }
    // A dry run (dumbo validate) formats only the first rows: every file was read and checked above.
    const keep = ctx.dryRunRows;
    if (keep !== undefined) [loaded.train, loaded.eval] = [loaded.train.slice(0, keep), loaded.eval.slice(0, keep)];

    let info: DatasetInfo | undefined;
    const dataset: Dataset = {
      train: loaded.train,
      ...(loaded.eval.length > 0 ? { eval: loaded.eval } : {}),
      info: () => (info ??= datasetInfo(loaded, o, tokenizer)),
    };
    log.debug(
      `dataset: ${plural(loaded.train.length, 'training row')}, ${plural(loaded.eval.length, 'evaluation row')} ` +
        `from ${plural(files.value.length + evalFiles.value.length, 'file')}`,
    );
    return Ok(dataset);
  }
}

export const AVAILABLE_PLUGINS = [PolarsDatasetLoader];
