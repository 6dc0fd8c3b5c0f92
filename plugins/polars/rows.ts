/**
 * From files to rows of a fixed shape (`{ text }`, `{ prompt, response }` or `{ messages }`), whatever the
 * files' column names: the columns the run needs, each value checked (text as a string, messages as a list of
 * `{ role, content }`), and a null or missing value an error naming the file and its line or row, or a
 * skipped row with `null_rows: skip`.
 */
import { displayPath, Err, getLogger, Ok, type Result } from 'dumbo';
import type { FileFormat, Options } from './options.js';
import { formatOf, jsonlDetect, readTable, readText, splitText } from './read.js';

/** A row as loaded: `text`, or `prompt` + `response`, or `messages`. */
export type DatasetRow = { text: string } | { prompt: string; response: string } | { messages: ChatMessage[] };

export interface ChatMessage {
  role: string;
  content: string;
}

const log = getLogger('polars');

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

/** Row field -> the file column it comes from. */
export function columnsOf(fields: Options['fields']): Record<string, string> {
  if (fields.kind === 'text') return { text: fields.text };
  if (fields.kind === 'pair') return { prompt: fields.prompt, response: fields.response };
  return { messages: fields.messages };
}

interface FileRows {
  rows: DatasetRow[];
  skipped: number;
  format: FileFormat;
}

async function readRows(file: string, options: Options, base: string): Promise<Result<FileRows>> {
  const display = displayPath(file, base);
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
    const content = readText(file, display);
    if (!content.ok) return content;
    const rows = splitText(content.value, options.text_split).map((text) => ({ text }));
    return Ok({ rows, skipped: 0, format: 'text' });
  }

  // `.json` in auto mode: a JSON array, or JSON lines under a .json name.
  if (options.format === 'auto' && fmt === 'json') {
    const content = readText(file, display);
    if (!content.ok) return content;
    fmt = jsonlDetect(content.value);
  }
  const table = await readTable(file, fmt, display);
  if (!table.ok) return table;
  const t = table.value;
  if (t.height === 0) return Ok({ rows: [], skipped: 0, format: fmt });

  const wanted = Object.entries(columnsOf(options.fields));
  for (const [field, column] of wanted)
    if (!t.columns.includes(column))
      return Err(
        new Error(
          `${display} has no column '${column}' (columns: ${t.columns.join(', ')}); set dataset.${field}_field`,
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
        if (options.null_rows === 'error')
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

export interface ReadRows {
  rows: DatasetRow[];
  /** Rows left out for a null value (`null_rows: skip`). */
  skipped: number;
  /** The formats the files were read as, each once. */
  formats: FileFormat[];
}

/** The rows of `files`, file after file. */
export async function readAll(files: readonly string[], options: Options, base: string): Promise<Result<ReadRows>> {
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

/** `dataset.KEY: no rows in FILES`, saying why when every row was skipped. */
export function noRows(key: string, files: readonly string[], base: string, skipped: number): Error {
  const names = files.slice(0, 3).map((f) => displayPath(f, base));
  const list = names.join(', ') + (files.length > 3 ? ` and ${files.length - 3} more` : '');
  const why = skipped > 0 ? ` (all ${skipped} had a null value and dataset.null_rows is skip)` : '';
  return new Error(`dataset.${key}: no rows in ${list}${why}`);
}
