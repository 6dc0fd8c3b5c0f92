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
 * `.`), or a list of them, relative to the config file's folder (the working directory when there is no config
 * file). Matches are taken in sorted order, so a run reads its files in the same order everywhere.
 *
 * Order and split, all seeded (`seed`, else the run's seed, else 42) with mulberry32 + Fisher-Yates, so a
 * config gives the same rows on every machine:
 *   1. the rows of `path`, file after file, are shuffled when `shuffle` is on;
 *   2. `limit` keeps the first `limit` of them (a seeded sample when shuffled, the first rows otherwise);
 *   3. `eval_fraction` moves round(n * fraction) of them (at least 1, never all) to `eval`: the first ones of the
 *      seeded permutation of those n rows, so the same rows whether `shuffle` is on or off (without a limit).
 *      With `shuffle` off, both sets keep the file order.
 * `eval_path` instead gives the evaluation rows from other files, in file order (`limit` does not apply).
 *
 * The dataset's `info()` (given to `log_dataset`) has rows, evalRows, columns, the source files, and length
 * statistics of the training rows: `chars` always, `tokens` when the loader was given a tokenizer
 * (`tokenizer.encode`), over the first `stats_rows` rows. The text measured is `text`, `prompt + response`,
 * or the messages' contents joined by newlines; percentiles are nearest-rank.
 */
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import {
  BasePlugin,
  Err,
  getLogger,
  getRunContext,
  Ok,
  seededPermutation,
  type Dataset,
  type DatasetInfo,
  type PluginConfig,
  type Result,
  type Tokenizer,
} from 'dumbo';
import type polarsDefault from 'nodejs-polars';

type Polars = typeof polarsDefault;
type PolarsFrame = ReturnType<Polars['readCSV']>;

export type FileFormat = 'jsonl' | 'json' | 'csv' | 'parquet' | 'text';
export type TextSplit = 'line' | 'paragraph' | 'document';
export type NullRows = 'error' | 'skip';

/** A row as loaded: `text`, or `prompt` + `response`, or `messages`. */
export type DatasetRow = { text: string } | { prompt: string; response: string } | { messages: ChatMessage[] };

export interface ChatMessage {
  role: string;
  content: string;
}

/** Which file columns become which row fields. */
type Fields =
  | { kind: 'text'; text: string }
  | { kind: 'pair'; prompt: string; response: string }
  | { kind: 'messages'; messages: string };

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

interface Options {
  paths: string[];
  evalPaths: string[];
  format: FileFormat | 'auto';
  textSplit: TextSplit;
  fields: Fields;
  evalFraction: number;
  shuffle: boolean;
  seed: number;
  limit: number | undefined;
  nullRows: NullRows;
  statsRows: number;
}

const FORMATS: readonly FileFormat[] = ['jsonl', 'json', 'csv', 'parquet', 'text'];
const EXTENSIONS: Record<string, FileFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'csv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.txt': 'text',
  '.text': 'text',
  '.md': 'text',
};

const log = getLogger('polars');

// ---------------------------------------------------------------------------------------------------------
// Globs (Node 20 has no fs.globSync)

const GLOB_CHARS = /[*?]/;

/** A regular expression for one path segment: `*` any run of characters, `?` one; the rest literal. */
function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function walk(dir: string, segments: readonly string[], out: Set<string>): void {
  const [segment, ...rest] = segments;
  if (segment === undefined) return;
  if (segment === '**') {
    // Zero or more folders. Symbolic links to folders are not followed here (no cycles).
    if (rest.length > 0) walk(dir, rest, out);
    for (const e of entries(dir)) {
      if (e.name.startsWith('.')) continue;
      const child = path.join(dir, e.name);
      if (e.isDirectory()) walk(child, segments, out);
      else if (rest.length === 0 && isFile(child)) out.add(child);
    }
    return;
  }
  if (!GLOB_CHARS.test(segment)) {
    const child = path.join(dir, segment);
    if (rest.length === 0) {
      if (isFile(child)) out.add(child);
    } else if (isDirectory(child)) walk(child, rest, out);
    return;
  }
  const re = segmentRegExp(segment);
  for (const e of entries(dir)) {
    if (e.name.startsWith('.') && !segment.startsWith('.')) continue;
    if (!re.test(e.name)) continue;
    const child = path.join(dir, e.name);
    if (rest.length === 0) {
      if (isFile(child)) out.add(child);
    } else if (isDirectory(child)) walk(child, rest, out);
  }
}

/**
 * The files matching `pattern` (absolute), sorted by code unit order (not locale), so the order is the same on
 * every machine. `*` and `?` match within one path segment, `**` (a whole segment) any number of folders.
 */
export function globFiles(pattern: string): string[] {
  const abs = path.resolve(pattern);
  const { root } = path.parse(abs);
  const segments = abs
    .slice(root.length)
    .split(process.platform === 'win32' ? /[\\/]+/ : /\/+/)
    .filter(Boolean);
  const first = segments.findIndex((s) => GLOB_CHARS.test(s));
  if (first < 0) return isFile(abs) ? [abs] : [];
  const out = new Set<string>();
  walk(path.join(root, ...segments.slice(0, first)), segments.slice(first), out);
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------------------
// Options

function baseDir(): string {
  const configFile = getRunContext().configFile;
  return configFile ? path.dirname(path.resolve(configFile)) : process.cwd();
}

/** A path as the user wrote it relative to the config's folder, absolute when it is outside it. */
function shown(file: string, base: string): string {
  const rel = path.relative(base, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function stringList(value: unknown, key: string): Result<string[]> {
  if (value === undefined || value === null) return Ok([]);
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((v) => typeof v !== 'string' || v === ''))
    return Err(new Error(`dataset.${key} must be a file or glob, or a list of them (got ${JSON.stringify(value)})`));
  return Ok(list as string[]);
}

function optionalName(config: PluginConfig, key: string): Result<string | undefined> {
  const v = config[key];
  if (v === undefined || v === null) return Ok(undefined);
  if (typeof v !== 'string' || v === '') return Err(new Error(`dataset.${key} must be a column name`));
  return Ok(v);
}

function parseOptions(config: PluginConfig): Result<Options> {
  const paths = stringList(config.path, 'path');
  if (!paths.ok) return paths;
  if (paths.value.length === 0)
    return Err(new Error('dataset.path is required: name a file or glob, e.g. data/train.jsonl'));
  const evalPaths = stringList(config.eval_path, 'eval_path');
  if (!evalPaths.ok) return evalPaths;

  const format = config.format ?? 'auto';
  if (format !== 'auto' && !FORMATS.includes(format as FileFormat))
    return Err(new Error(`dataset.format must be auto, ${FORMATS.join(', ')} (got ${JSON.stringify(format)})`));
  const textSplit = config.text_split ?? 'line';
  if (textSplit !== 'line' && textSplit !== 'paragraph' && textSplit !== 'document')
    return Err(new Error(`dataset.text_split must be line, paragraph or document (got ${JSON.stringify(textSplit)})`));

  const names: Record<string, string | undefined> = {};
  for (const key of ['text_field', 'prompt_field', 'response_field', 'messages_field']) {
    const r = optionalName(config, key);
    if (!r.ok) return r;
    names[key] = r.value;
  }
  let fields: Fields;
  if (names.messages_field !== undefined) {
    if (names.prompt_field !== undefined || names.response_field !== undefined)
      return Err(new Error('set either dataset.messages_field or dataset.prompt_field + dataset.response_field'));
    fields = { kind: 'messages', messages: names.messages_field };
  } else if (names.prompt_field !== undefined || names.response_field !== undefined) {
    if (names.prompt_field === undefined || names.response_field === undefined)
      return Err(new Error('dataset.prompt_field and dataset.response_field go together: set both'));
    fields = { kind: 'pair', prompt: names.prompt_field, response: names.response_field };
  } else {
    fields = { kind: 'text', text: names.text_field ?? 'text' };
  }

  const evalFraction = config.eval_fraction ?? 0;
  if (typeof evalFraction !== 'number' || !(evalFraction >= 0 && evalFraction <= 0.5))
    return Err(new Error(`dataset.eval_fraction must be a number from 0 to 0.5 (got ${JSON.stringify(evalFraction)})`));
  if (evalFraction > 0 && evalPaths.value.length > 0)
    return Err(new Error('set either dataset.eval_path or dataset.eval_fraction, not both'));

  const shuffle = config.shuffle ?? true;
  if (typeof shuffle !== 'boolean') return Err(new Error('dataset.shuffle must be true or false'));
  const seed = config.seed ?? getRunContext().seed ?? 42;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) return Err(new Error('dataset.seed must be an integer'));
  const limit = config.limit;
  if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1))
    return Err(new Error(`dataset.limit must be a whole number of rows, at least 1 (got ${JSON.stringify(limit)})`));
  const nullRows = config.null_rows ?? 'error';
  if (nullRows !== 'error' && nullRows !== 'skip') return Err(new Error('dataset.null_rows must be error or skip'));
  const statsRows = config.stats_rows ?? 10000;
  if (typeof statsRows !== 'number' || !Number.isInteger(statsRows) || statsRows < 1)
    return Err(new Error('dataset.stats_rows must be a whole number, at least 1'));

  return Ok({
    paths: paths.value,
    evalPaths: evalPaths.value,
    format: format as FileFormat | 'auto',
    textSplit,
    fields,
    evalFraction,
    shuffle,
    seed,
    limit: typeof limit === 'number' ? limit : undefined,
    nullRows,
    statsRows,
  });
}

/** Every file that `patterns` name, pattern after pattern, each pattern's matches sorted; no file twice. */
function resolveFiles(patterns: readonly string[], base: string, key: string): Result<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    const abs = path.resolve(base, pattern);
    if (!GLOB_CHARS.test(pattern) && isDirectory(abs))
      return Err(
        new Error(
          `dataset.${key}: '${pattern}' is a folder; name the files in it, e.g. '${path.join(pattern, '*.jsonl')}'`,
        ),
      );
    const matches = globFiles(abs);
    if (matches.length === 0) return Err(new Error(`dataset.${key}: no file matches '${pattern}' (looked in ${base})`));
    for (const m of matches) if (!files.includes(m)) files.push(m);
  }
  return Ok(files);
}

// ---------------------------------------------------------------------------------------------------------
// Reading

let polarsModule: Promise<Polars> | undefined;

/** nodejs-polars, imported on first use: a plugin catalog still lists this plugin where its binary is missing. */
async function loadPolars(forFile: string): Promise<Result<Polars>> {
  polarsModule ??= import('nodejs-polars').then((m) => (m.default ?? m) as Polars);
  try {
    return Ok(await polarsModule);
  } catch (error) {
    polarsModule = undefined;
    const why = String((error as Error).message ?? error).split('\n')[0];
    return Err(
      new Error(
        `reading ${forFile} needs nodejs-polars, which did not load (${why}); reinstall Dumbo's dependencies ` +
          `(npm ci) so that its native binary for ${process.platform}-${process.arch} is there ` +
          `(format: text files need no polars)`,
      ),
    );
  }
}

function formatOf(file: string, format: FileFormat | 'auto', display: string): Result<FileFormat> {
  if (format !== 'auto') return Ok(format);
  const found = EXTENSIONS[path.extname(file).toLowerCase()];
  if (found) return Ok(found);
  return Err(
    new Error(
      `dataset.format: cannot tell the format of ${display} from its extension; set dataset.format to ` +
        `${FORMATS.join(', ')}`,
    ),
  );
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/** The 1-based line of the `index`-th (0-based) non-blank line of a JSONL text: how polars counts rows. */
function jsonlLineOf(content: string, index: number): number {
  const lines = content.split('\n');
  let seen = -1;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    seen += 1;
    if (seen === index) return i + 1;
  }
  return index + 1;
}

/** Why a JSONL text does not parse, with its line, found with JSON.parse (polars gives no line number). */
function jsonlError(content: string): string | undefined {
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return `line ${i + 1} is not a JSON object`;
    } catch (error) {
      return `line ${i + 1} is not valid JSON (${(error as Error).message})`;
    }
  }
  return undefined;
}

/** A file's table: its column names and a way to get one column's values. */
interface Table {
  columns: string[];
  height: number;
  column(name: string): unknown[];
  /** How a row is named in messages: `line 4` (JSONL) or `row 4` (1-based, header not counted). */
  where(index: number): string;
}

const EMPTY_TABLE: Table = { columns: [], height: 0, column: () => [], where: (i) => `row ${i + 1}` };

function frameTable(frame: PolarsFrame, where: (index: number) => string): Table {
  return {
    columns: frame.columns,
    height: frame.height,
    column: (name) => frame.getColumn(name).toArray() as unknown[],
    where,
  };
}

async function readTable(file: string, format: Exclude<FileFormat, 'text'>, display: string): Promise<Result<Table>> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return Err(new Error(`cannot read ${display}: ${(error as Error).message}`));
  }
  const textual = format !== 'parquet';
  const content = textual ? bytes.toString('utf8') : '';
  if (textual ? content.trim() === '' : bytes.length === 0) return Ok(EMPTY_TABLE);
  const polars = await loadPolars(display);
  if (!polars.ok) return polars;
  const pl = polars.value;
  const rowWhere = (i: number) => `row ${i + 1}`;
  try {
    switch (format) {
      case 'jsonl': {
        // readJSON({ format: 'lines' }) is broken in nodejs-polars 0.25 ("method is not a function"); the
        // lazy reader takes a path whatever its extension.
        if (jsonlDetect(content) === 'json') {
          const reason = 'it holds one JSON array, not one object per line; set dataset.format: json';
          return Err(new Error(`${display} is not JSON lines: ${reason}`));
        }
        if (content.charCodeAt(0) === 0xfeff)
          return Err(
            new Error(
              `${display} starts with a byte order mark, which polars cannot read; save it as UTF-8 without BOM`,
            ),
          );
        const frame = pl.scanJson(file).collectSync();
        return Ok(frameTable(frame, (i) => `line ${jsonlLineOf(content, i)}`));
      }
      case 'json':
        return Ok(frameTable(pl.readJSON(bytes, { format: 'json' }), rowWhere));
      case 'csv': {
        // Every column as a string (inferSchemaLength 0): '007' stays '007'. Ragged rows are errors.
        const sep = path.extname(file).toLowerCase() === '.tsv' ? '\t' : ',';
        const frame = pl.readCSV(bytes, { inferSchemaLength: 0, sep, truncateRaggedLines: false });
        return Ok(frameTable(frame, rowWhere));
      }
      case 'parquet':
        return Ok(frameTable(pl.readParquet(bytes), rowWhere));
    }
  } catch (error) {
    const message = firstLine(String((error as Error).message ?? error));
    if (format === 'jsonl') {
      const why = jsonlError(content);
      if (why) return Err(new Error(`${display} ${why}`));
    }
    if (format === 'json') {
      try {
        JSON.parse(content);
      } catch (parseError) {
        return Err(new Error(`${display} is not valid JSON (${(parseError as Error).message})`));
      }
    }
    return Err(new Error(`${display} could not be read as ${format}: ${message}`));
  }
}

/** `json` for a text starting with `[`, `jsonl` otherwise: `.json` files are often JSON lines. */
function jsonlDetect(content: string): 'json' | 'jsonl' {
  return content.trimStart().startsWith('[') ? 'json' : 'jsonl';
}

function splitText(content: string, split: TextSplit): string[] {
  const text = content.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (split === 'document') return text.trim() === '' ? [] : [text.replace(/^\n+/, '').trimEnd()];
  if (split === 'paragraph')
    return text
      .split(/\n(?:[ \t]*\n)+/)
      .map((p) => p.replace(/^\n+/, '').trimEnd())
      .filter((p) => p.trim() !== '');
  return text.split('\n').filter((line) => line.trim() !== '');
}

function describeValue(value: unknown): string {
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A text cell as a string; undefined for null. Numbers, booleans and bigints become strings. */
function textValue(value: unknown): Result<string | undefined> {
  if (value === null || value === undefined) return Ok(undefined);
  if (typeof value === 'string') return Ok(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return Ok(String(value));
  return Err(new Error(`holds ${describeValue(value)}, not text`));
}

function messagesValue(value: unknown): Result<ChatMessage[] | undefined> {
  if (value === null || value === undefined) return Ok(undefined);
  let list = value;
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch {
      return Err(new Error('holds a string that is not a JSON list of messages'));
    }
  }
  if (!Array.isArray(list)) return Err(new Error(`holds ${describeValue(list)}, not a list of messages`));
  const out: ChatMessage[] = [];
  for (const [i, m] of list.entries()) {
    const msg = m as Record<string, unknown> | null;
    if (typeof msg !== 'object' || msg === null || typeof msg.role !== 'string' || typeof msg.content !== 'string')
      return Err(new Error(`message ${i + 1} is not { role, content } with two strings`));
    out.push({ role: msg.role, content: msg.content });
  }
  return Ok(out);
}

interface FileRows {
  rows: DatasetRow[];
  skipped: number;
  format: FileFormat;
}

const FIELD_KEYS: Record<string, string> = {
  text: 'text_field',
  prompt: 'prompt_field',
  response: 'response_field',
  messages: 'messages_field',
};

async function readRows(file: string, options: Options, base: string): Promise<Result<FileRows>> {
  const display = shown(file, base);
  const format = formatOf(file, options.format, display);
  if (!format.ok) return format;
  let fmt = format.value;

  if (fmt === 'text') {
    if (options.fields.kind !== 'text')
      return Err(
        new Error(
          `${display} is read as text, which gives only a 'text' column; prompt_field, response_field and ` +
            `messages_field need jsonl, json, csv or parquet files`,
        ),
      );
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      return Err(new Error(`cannot read ${display}: ${(error as Error).message}`));
    }
    return Ok({ rows: splitText(content, options.textSplit).map((text) => ({ text })), skipped: 0, format: 'text' });
  }

  // `.json` in auto mode: a JSON array, or JSON lines under a .json name.
  if (options.format === 'auto' && fmt === 'json') {
    try {
      fmt = jsonlDetect(readFileSync(file, 'utf8')) === 'json' ? 'json' : 'jsonl';
    } catch (error) {
      return Err(new Error(`cannot read ${display}: ${(error as Error).message}`));
    }
  }
  const table = await readTable(file, fmt, display);
  if (!table.ok) return table;
  const t = table.value;
  if (t.height === 0) return Ok({ rows: [], skipped: 0, format: fmt });

  // Row field -> file column.
  const wanted: [string, string][] =
    options.fields.kind === 'text'
      ? [['text', options.fields.text]]
      : options.fields.kind === 'pair'
        ? [
            ['prompt', options.fields.prompt],
            ['response', options.fields.response],
          ]
        : [['messages', options.fields.messages]];
  for (const [field, column] of wanted)
    if (!t.columns.includes(column))
      return Err(
        new Error(
          `${display} has no column '${column}' (columns: ${t.columns.join(', ')}); set dataset.${FIELD_KEYS[field]}`,
        ),
      );

  const columns = wanted.map(([field, column]) => ({ field, column, values: t.column(column) }));
  const rows: DatasetRow[] = [];
  let skipped = 0;
  let firstSkipped: string | undefined;
  rowLoop: for (let i = 0; i < t.height; i++) {
    const row: Record<string, unknown> = {};
    for (const { field, column, values } of columns) {
      const value = field === 'messages' ? messagesValue(values[i]) : textValue(values[i]);
      if (!value.ok) return Err(new Error(`${display} ${t.where(i)}: '${column}' ${value.error.message}`));
      if (value.value === undefined) {
        if (options.nullRows === 'error')
          return Err(
            new Error(
              `${display} ${t.where(i)}: '${column}' is null or missing; fix the file, or set ` +
                `dataset.null_rows: skip to drop such rows`,
            ),
          );
        skipped += 1;
        firstSkipped ??= t.where(i);
        continue rowLoop;
      }
      row[field] = value.value;
    }
    rows.push(row as DatasetRow);
  }
  if (skipped > 0)
    log.warn(
      `${display}: skipped ${skipped} row${skipped === 1 ? '' : 's'} with a null value (first: ${firstSkipped})`,
    );
  return Ok({ rows, skipped, format: fmt });
}

async function readAll(
  files: readonly string[],
  options: Options,
  base: string,
): Promise<Result<{ rows: DatasetRow[]; skipped: number; formats: FileFormat[] }>> {
  const rows: DatasetRow[] = [];
  const formats: FileFormat[] = [];
  let skipped = 0;
  for (const file of files) {
    const r = await readRows(file, options, base);
    if (!r.ok) return r;
    for (const row of r.value.rows) rows.push(row);
    skipped += r.value.skipped;
    if (!formats.includes(r.value.format)) formats.push(r.value.format);
  }
  return Ok({ rows, skipped, formats });
}

function noRows(key: string, files: readonly string[], base: string, skipped: number): Error {
  const names = files.slice(0, 3).map((f) => shown(f, base));
  const list = names.join(', ') + (files.length > 3 ? ` and ${files.length - 3} more` : '');
  const why = skipped > 0 ? ` (all ${skipped} had a null value and dataset.null_rows is skip)` : '';
  return new Error(`dataset.${key}: no rows in ${list}${why}`);
}

// ---------------------------------------------------------------------------------------------------------
// Statistics

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

// ---------------------------------------------------------------------------------------------------------
// The plugin

export class PolarsDatasetLoader extends BasePlugin {
  static configKey = 'dataset';
  static provides = ['dataset_loader'];
  static requires: string[] = [];
  static conflicts: string[] = [];
  static description =
    'Loads a dataset from JSONL, JSON, CSV, Parquet or text files (globs allowed), with a seeded shuffle and ' +
    'evaluation split.';
  static version = '1.0.0';
  static configSchema = {
    type: 'object',
    properties: {
      path: {
        description:
          'Training data: a file or glob (*, ?, **), or a list of them, relative to the config file. Files are ' +
          'read in sorted order.',
        anyOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        ],
      },
      format: {
        type: 'string',
        enum: ['auto', ...FORMATS],
        default: 'auto',
        description:
          'File format; auto goes by extension (.jsonl/.ndjson, .json, .csv/.tsv, .parquet/.pq, .txt/.text/.md).',
      },
      text_split: {
        type: 'string',
        enum: ['line', 'paragraph', 'document'],
        default: 'line',
        description:
          'For text files: one row per non-empty line, per paragraph (blocks between blank lines), or per file.',
      },
      text_field: {
        type: 'string',
        minLength: 1,
        default: 'text',
        description: "Column holding the text (rows get it as 'text'); unused with prompt/response or messages.",
      },
      prompt_field: {
        type: 'string',
        minLength: 1,
        description: "Column holding the prompt (rows get it as 'prompt'); set together with response_field.",
      },
      response_field: {
        type: 'string',
        minLength: 1,
        description: "Column holding the response (rows get it as 'response'); set together with prompt_field.",
      },
      messages_field: {
        type: 'string',
        minLength: 1,
        description: "Column holding chat messages, a list of { role, content } (rows get it as 'messages').",
      },
      eval_path: {
        description: 'Evaluation data: a file or glob, or a list of them, read like path. Excludes eval_fraction.',
        anyOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        ],
      },
      eval_fraction: {
        type: 'number',
        minimum: 0,
        maximum: 0.5,
        default: 0,
        description: 'Share of the rows of path held out for evaluation, chosen with the seed (0: no evaluation set).',
      },
      shuffle: {
        type: 'boolean',
        default: true,
        description: 'Shuffle the training rows (seeded, the same on every machine).',
      },
      seed: {
        type: 'integer',
        description: "Seed of the shuffle and the evaluation split; the run's seed when left out (42 without one).",
      },
      limit: {
        type: 'integer',
        minimum: 1,
        description: 'Use at most this many rows of path (a seeded sample when shuffled), before the split.',
      },
      null_rows: {
        type: 'string',
        enum: ['error', 'skip'],
        default: 'error',
        description: 'A row with a null or missing value: stop with an error naming it, or skip it with a warning.',
      },
      stats_rows: {
        type: 'integer',
        minimum: 1,
        default: 10000,
        description: 'Training rows measured for the length statistics of the dataset info (the first ones).',
      },
    },
    required: ['path'],
    additionalProperties: false,
  };

  async loadDataset(config: PluginConfig, tokenizer?: Tokenizer): Promise<Result<Dataset>> {
    const parsed = parseOptions(config);
    if (!parsed.ok) return parsed;
    const options = parsed.value;
    const base = baseDir();

    const files = resolveFiles(options.paths, base, 'path');
    if (!files.ok) return files;
    const evalFiles = resolveFiles(options.evalPaths, base, 'eval_path');
    if (!evalFiles.ok) return evalFiles;

    const loaded = await readAll(files.value, options, base);
    if (!loaded.ok) return loaded;
    const all = loaded.value.rows;
    if (all.length === 0) return Err(noRows('path', files.value, base, loaded.value.skipped));

    // 1-2: order and limit.
    const n = all.length;
    const perm = seededPermutation(n, options.seed);
    const ordered = options.shuffle ? perm.map((i) => all[i]!) : all;
    const selected = options.limit !== undefined ? ordered.slice(0, options.limit) : ordered;

    // 3: evaluation split.
    let train = selected;
    let evalRows: DatasetRow[] = [];
    let skipped = loaded.value.skipped;
    const formats = [...loaded.value.formats];
    if (options.evalFraction > 0) {
      const m = selected.length;
      if (m < 2) return Err(new Error(`dataset.eval_fraction: ${m} row is too few to split off an evaluation set`));
      const k = Math.min(m - 1, Math.max(1, Math.round(m * options.evalFraction)));
      if (options.shuffle) {
        evalRows = selected.slice(0, k);
        train = selected.slice(k);
      } else {
        const held = new Set((m === n ? perm : seededPermutation(m, options.seed)).slice(0, k));
        evalRows = selected.filter((_, i) => held.has(i));
        train = selected.filter((_, i) => !held.has(i));
      }
    } else if (evalFiles.value.length > 0) {
      const ev = await readAll(evalFiles.value, options, base);
      if (!ev.ok) return ev;
      if (ev.value.rows.length === 0) return Err(noRows('eval_path', evalFiles.value, base, ev.value.skipped));
      evalRows = ev.value.rows;
      skipped += ev.value.skipped;
      for (const f of ev.value.formats) if (!formats.includes(f)) formats.push(f);
    }
    // A dry run (dumbo validate) formats only the first rows: every file was read and checked above.
    const dryRun = getRunContext().dryRunRows;
    if (dryRun !== undefined) [train, evalRows] = [train.slice(0, dryRun), evalRows.slice(0, dryRun)];

    const columns =
      options.fields.kind === 'text'
        ? ['text']
        : options.fields.kind === 'pair'
          ? ['prompt', 'response']
          : ['messages'];
    const fieldMap: Record<string, string> =
      options.fields.kind === 'text'
        ? { text: formats.every((f) => f === 'text') ? 'text' : options.fields.text }
        : options.fields.kind === 'pair'
          ? { prompt: options.fields.prompt, response: options.fields.response }
          : { messages: options.fields.messages };

    let info: DatasetInfo | undefined;
    const makeInfo = (): DatasetInfo => {
      const measured = train.slice(0, options.statsRows).map(rowText);
      const out: DatasetInfo = {
        rows: train.length,
        evalRows: evalRows.length,
        columns,
        fields: fieldMap,
        formats,
        files: files.value,
        ...(evalFiles.value.length > 0 ? { evalFiles: evalFiles.value } : {}),
        shuffled: options.shuffle,
        seed: options.seed,
        ...(skipped > 0 ? { skippedRows: skipped } : {}),
        chars: lengthStats(measured.map((t) => t.length)),
      };
      if (tokenizer) {
        try {
          out.tokens = lengthStats(measured.map((t) => tokenizer.encode(t).length));
        } catch (error) {
          log.warn(`token statistics left out: the tokenizer failed (${(error as Error).message})`);
        }
      }
      return out;
    };

    const dataset: Dataset = {
      train,
      ...(evalRows.length > 0 ? { eval: evalRows } : {}),
      info: () => (info ??= makeInfo()),
    };
    const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
    log.debug(
      `dataset: ${plural(train.length, 'training row')}, ${plural(evalRows.length, 'evaluation row')} from ` +
        plural(files.value.length + evalFiles.value.length, 'file'),
    );
    return Ok(dataset);
  }

  hooks() {
    return {
      dataset_loader: (config: PluginConfig, tokenizer?: Tokenizer) => this.loadDataset(config, tokenizer),
    };
  }
}

export const AVAILABLE_PLUGINS = [PolarsDatasetLoader];
