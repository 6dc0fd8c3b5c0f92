/**
 * Reading one file into a table: the format (set, or told by the extension), text files split with node:fs,
 * JSONL, JSON, CSV/TSV and Parquet with nodejs-polars (imported on first use), and the messages of a file
 * that does not read, with its line where there is one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Err, Ok, type Result } from 'dumbo';
import type polarsDefault from 'nodejs-polars';
import { FORMATS, type FileFormat, type TextSplit } from './options.js';

type Polars = typeof polarsDefault;
type PolarsFrame = ReturnType<Polars['readCSV']>;

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

/** The file's format: `format` when set, else the one its extension says. */
export function formatOf(file: string, format: FileFormat | 'auto', display: string): Result<FileFormat> {
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

/** The file's text, or why it cannot be read. */
export function readText(file: string, display: string): Result<string> {
  try {
    return Ok(readFileSync(file, 'utf8'));
  } catch (error) {
    return Err(new Error(`cannot read ${display}: ${(error as Error).message}`));
  }
}

/** `json` for a text starting with `[`, `jsonl` otherwise: `.json` files are often JSON lines. */
export function jsonlDetect(content: string): 'json' | 'jsonl' {
  return content.trimStart().startsWith('[') ? 'json' : 'jsonl';
}

/** The rows of a text file: its non-empty lines, its paragraphs (blocks between blank lines), or all of it. */
export function splitText(content: string, split: TextSplit): string[] {
  const text = content.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (split === 'document') return text.trim() === '' ? [] : [text.replace(/^\n+/, '').trimEnd()];
  if (split === 'paragraph')
    return text
      .split(/\n(?:[ \t]*\n)+/)
      .map((p) => p.replace(/^\n+/, '').trimEnd())
      .filter((p) => p.trim() !== '');
  return text.split('\n').filter((line) => line.trim() !== '');
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
export interface Table {
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

/** The table of a JSONL, JSON, CSV/TSV or Parquet file, read with polars. */
export async function readTable(
  file: string,
  format: Exclude<FileFormat, 'text'>,
  display: string,
): Promise<Result<Table>> {
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
