/**
 * trl's own dataset loader (`trl.path`, `trl.eval_path`): JSONL rows in TRL's formats, every field kept. It
 * exists for preference rows (`prompt`, `chosen`, `rejected`): the polars loader gives rows of a fixed shape
 * (text, prompt/response or messages) and would drop `chosen` and `rejected`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { displayPath, Err, errorMessage, Ok, type Dataset, type Result } from 'dumbo';
import { aboutOption, type TrlOptions } from './options.js';
import type { Row } from './rows.js';

/** The rows of a JSONL file (a JSON object per non-empty line), at most `limit`; errors name the line. */
export function readJsonl(file: string, display: string, limit = Infinity): Result<Row[], string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return Err(`cannot read ${display}: ${errorMessage(error)}`);
  }
  const rows: Row[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && rows.length < limit; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      return Err(`${display} line ${i + 1}: not JSON (${errorMessage(error)})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return Err(`${display} line ${i + 1}: a row must be a JSON object of fields`);
    }
    rows.push(value as Row);
  }
  return rows.length > 0 ? Ok(rows) : Err(`${display} has no rows`);
}

/**
 * The dataset of `path` (and `eval_path`), relative to `configDir`; `dryRunRows` (dumbo validate) keeps only
 * the first rows. Without `path`, an Err that lets the next dataset_loader answer.
 */
export function loadDataset(o: TrlOptions, configDir: string, dryRunRows?: number): Result<Dataset> {
  if (o.path === undefined) {
    return Err(new Error('trl.path is not set: the dataset comes from another dataset_loader (polars)'));
  }
  const read = (key: 'path' | 'eval_path', file: string): Result<Row[]> => {
    const abs = path.resolve(configDir, file);
    const rows = readJsonl(abs, displayPath(abs, configDir), dryRunRows);
    return rows.ok ? rows : Err(aboutOption(key, rows.error));
  };
  const train = read('path', o.path);
  if (!train.ok) return train;
  let evalRows: Row[] | undefined;
  if (o.eval_path !== undefined) {
    const ev = read('eval_path', o.eval_path);
    if (!ev.ok) return ev;
    evalRows = ev.value;
  }
  const columns = [...new Set(train.value.flatMap((r) => Object.keys(r)))];
  const info = { rows: train.value.length, evalRows: evalRows?.length, columns };
  return Ok({ train: train.value, ...(evalRows ? { eval: evalRows } : {}), info: () => info });
}
