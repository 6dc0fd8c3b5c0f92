// The polars dataset loader: formats, globs, fields, seeded shuffle and evaluation split, limit, info() and
// its error messages. Fixture files are written in temporary folders (the Parquet one by nodejs-polars itself).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  addLogSink,
  mulberry32,
  seededPermutation,
  standaloneContext,
  type Dataset,
  type PluginConfig,
  type Result,
  type RunInfo,
  type Tokenizer,
} from '../../src/core/index.js';
import { globFiles, lengthStats, PolarsDatasetLoader } from '../../plugins/polars/index.js';
import { repoRoot, tempDir, writeFiles } from '../helpers.js';
import { validSection } from './section.js';

type Polars = typeof import('nodejs-polars').default;

/** nodejs-polars with its native binary, or why it does not load. */
const polars: { pl?: Polars; error?: string } = await import('nodejs-polars').then(
  (m) => ({ pl: (m.default ?? m) as Polars }),
  (e: Error) => ({ error: e.message.split('\n')[0] }),
);

const shakespeare = path.resolve(repoRoot, '../shared/data/tinyshakespeare.txt');

/** A fake tokenizer: one token per word (split on white space). */
const wordTokenizer: Tokenizer = {
  vocabSize: 100,
  encode: (text: string) =>
    text
      .split(/\s+/)
      .filter(Boolean)
      .map((_, i) => i),
  decode: (ids: number[]) => ids.join(' '),
};

/** What the hook's context says of the run (a standalone context fills in the rest: the working directory, 42). */
let run: Partial<RunInfo> = {};

/** A fresh folder with `files`, made the config file's folder of the run. */
function project(files: Record<string, string>, seed?: number): string {
  const dir = writeFiles(tempDir('dumbo-polars-'), files);
  run = { configDir: dir, ...(seed === undefined ? {} : { seed }) };
  return dir;
}

async function load(config: PluginConfig, tokenizer?: Tokenizer): Promise<Result<Dataset>> {
  const section = validSection(PolarsDatasetLoader, config);
  if (!section.ok) return section;
  const ctx = standaloneContext('polars_dataset_loader', run);
  return new PolarsDatasetLoader().hooks().dataset_loader!(section.value, tokenizer, ctx);
}

async function loadOk(config: PluginConfig, tokenizer?: Tokenizer): Promise<Dataset> {
  const r = await load(config, tokenizer);
  if (!r.ok) throw new Error(`expected Ok, got: ${(r.error as Error).message}`);
  return r.value;
}

async function loadErr(config: PluginConfig): Promise<string> {
  const r = await load(config);
  if (r.ok) throw new Error('expected an Err');
  return (r.error as Error).message;
}

const texts = (rows: readonly Record<string, unknown>[] | undefined) => (rows ?? []).map((r) => r.text);
const lines = (n: number, prefix = 'row') => Array.from({ length: n }, (_, i) => `${prefix} ${i}`).join('\n') + '\n';

afterEach(() => {
  run = {};
  vi.restoreAllMocks();
});

describe('polars plugin metadata', () => {
  it('reads the dataset section, provides dataset_loader, and documents every option', () => {
    expect(PolarsDatasetLoader.configKey).toBe('dataset');
    expect(PolarsDatasetLoader.provides).toEqual(['dataset_loader']);
    const schema = PolarsDatasetLoader.configSchema;
    expect(schema.required).toEqual(['path']);
    for (const [key, prop] of Object.entries(schema.properties))
      expect((prop as { description?: string }).description, key).toBeTruthy();
    expect(schema.properties.format.default).toBe('auto');
    expect(schema.properties.shuffle.default).toBe(true);
    expect(schema.properties.eval_fraction.default).toBe(0);
    expect(schema.properties.text_field.default).toBe('text');
    expect(Object.keys(new PolarsDatasetLoader().hooks())).toEqual(['dataset_loader']);
  });
});

describe('seeded randomness', () => {
  it('mulberry32 is the same sequence for a seed, and Fisher-Yates gives a permutation', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const p = seededPermutation(50, 1);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seededPermutation(50, 1)).toEqual(p);
    expect(seededPermutation(50, 2)).not.toEqual(p);
  });

  it('lengthStats gives min, rounded mean, nearest-rank p50/p95, max and total', () => {
    expect(lengthStats([])).toBeUndefined();
    expect(lengthStats([5, 1, 3, 2, 4])).toEqual({ rows: 5, min: 1, mean: 3, p50: 3, p95: 5, max: 5, total: 15 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(lengthStats(hundred)).toMatchObject({ p50: 50, p95: 95, mean: 50.5 });
  });
});

describe('text files and globs (no polars needed)', () => {
  it('reads text one row per non-empty line, per paragraph, or per file', async () => {
    project({ 'data/a.txt': 'one\n\n  \ntwo\r\nthree\n\nfour\nfive\n' });
    const base = { path: 'data/a.txt', shuffle: false };
    expect(texts((await loadOk(base)).train)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(texts((await loadOk({ ...base, text_split: 'paragraph' })).train)).toEqual([
      'one',
      'two\nthree',
      'four\nfive',
    ]);
    expect(texts((await loadOk({ ...base, format: 'text', text_split: 'document' })).train)).toEqual([
      'one\n\n  \ntwo\nthree\n\nfour\nfive',
    ]);
  });

  it('matches *, ? and ** globs in sorted order, skips hidden files, and takes each file once', async () => {
    const dir = project({
      'data/b.txt': 'b1\nb2\n',
      'data/a.txt': 'a1\n',
      'data/c.md': 'c1\n',
      'data/.hidden.txt': 'h\n',
      'data/x1.txt': 'x1\n',
      'data/deep/er/d.txt': 'd1\n',
      'data/deep/notes.csv': 'text\nnope\n',
    });
    const base = { shuffle: false };
    expect(texts((await loadOk({ ...base, path: 'data/*.txt' })).train)).toEqual(['a1', 'b1', 'b2', 'x1']);
    expect(texts((await loadOk({ ...base, path: 'data/?.txt' })).train)).toEqual(['a1', 'b1', 'b2']);
    expect(texts((await loadOk({ ...base, path: 'data/**/*.txt' })).train)).toEqual(['a1', 'b1', 'b2', 'd1', 'x1']);
    expect(texts((await loadOk({ ...base, path: ['data/c.md', 'data/*.txt', 'data/a.txt'] })).train)).toEqual([
      'c1',
      'a1',
      'b1',
      'b2',
      'x1',
    ]);
    expect(texts((await loadOk({ ...base, path: 'data/.h*' })).train)).toEqual(['h']);
    const info = (await loadOk({ ...base, path: 'data/?.txt' })).info!();
    expect(info.files).toEqual([path.join(dir, 'data/a.txt'), path.join(dir, 'data/b.txt')]);
    expect(globFiles(path.join(dir, 'data/**'))).toContain(path.join(dir, 'data/deep/notes.csv'));
  });

  it("resolves paths against the context's config folder (the working directory in a standalone context)", async () => {
    const dir = project({ 'data/a.txt': 'from config dir\n' });
    expect(texts((await loadOk({ path: 'data/a.txt' })).train)).toEqual(['from config dir']);
    run = {};
    vi.spyOn(process, 'cwd').mockReturnValue(dir);
    expect(texts((await loadOk({ path: 'data/a.txt' })).train)).toEqual(['from config dir']);
    expect(await loadErr({ path: 'data/b.txt' })).toBe(`dataset.path: no file matches 'data/b.txt' (looked in ${dir})`);
  });

  it('shuffles with the seed: the same order for a seed, another for another seed, all rows kept', async () => {
    const dir = project({ 'data.txt': lines(40) }, 7);
    const fileOrder = texts((await loadOk({ path: 'data.txt', shuffle: false })).train);
    expect(fileOrder).toEqual(Array.from({ length: 40 }, (_, i) => `row ${i}`));
    const a = texts((await loadOk({ path: 'data.txt', seed: 1 })).train);
    expect(texts((await loadOk({ path: 'data.txt', seed: 1 })).train)).toEqual(a);
    expect(texts((await loadOk({ path: 'data.txt', seed: 2 })).train)).not.toEqual(a);
    expect(a).not.toEqual(fileOrder);
    expect([...a].sort()).toEqual([...fileOrder].sort());
    // Without a seed of its own, the run's seed (7 here), else 42.
    expect(texts((await loadOk({ path: 'data.txt' })).train)).toEqual(
      texts((await loadOk({ path: 'data.txt', seed: 7 })).train),
    );
    run = { configDir: dir };
    expect(texts((await loadOk({ path: 'data.txt' })).train)).toEqual(
      texts((await loadOk({ path: 'data.txt', seed: 42 })).train),
    );
  });

  it('splits off eval_fraction with the seed: disjoint, covering everything, and reproducible', async () => {
    project({ 'data.txt': lines(50) });
    const split = async (seed: number, shuffle = true) => {
      const d = await loadOk({ path: 'data.txt', eval_fraction: 0.2, seed, shuffle });
      return { train: texts(d.train) as string[], eval: texts(d.eval) as string[] };
    };
    const a = await split(3);
    expect(a.eval).toHaveLength(10);
    expect(a.train).toHaveLength(40);
    expect(a.train.filter((t) => a.eval.includes(t))).toEqual([]);
    expect([...a.train, ...a.eval].sort()).toEqual(texts((await loadOk({ path: 'data.txt' })).train).sort());
    expect(await split(3)).toEqual(a);
    const b = await split(4);
    expect(new Set(b.eval)).not.toEqual(new Set(a.eval));
    // Without shuffling: the same evaluation rows, both sets in file order.
    const c = await split(3, false);
    expect(new Set(c.eval)).toEqual(new Set(a.eval));
    const byIndex = (x: string, y: string) => Number(x.slice(4)) - Number(y.slice(4));
    expect(c.eval).toEqual([...c.eval].sort(byIndex));
    expect(c.train).toEqual([...c.train].sort(byIndex));
    // At least one row each way.
    const tiny = await loadOk({ path: 'data.txt', limit: 3, eval_fraction: 0.01 });
    expect([tiny.train.length, tiny.eval?.length]).toEqual([2, 1]);
    expect((await loadOk({ path: 'data.txt' })).eval).toBeUndefined();
  });

  it('takes evaluation rows from eval_path, in file order', async () => {
    project({ 'train.txt': lines(10), 'eval/a.txt': 'e1\ne2\n', 'eval/b.txt': 'e3\n' });
    const d = await loadOk({ path: 'train.txt', eval_path: 'eval/*.txt' });
    expect(d.train).toHaveLength(10);
    expect(texts(d.eval)).toEqual(['e1', 'e2', 'e3']);
    expect(d.info!()).toMatchObject({ rows: 10, evalRows: 3 });
  });

  it("keeps the first rows of each split in a dry run (the context's dryRunRows), after reading every file", async () => {
    project({ 'train.txt': lines(10), 'dev.txt': lines(5, 'dev'), 'bad.dat': 'x\n' });
    run = { ...run, dryRunRows: 2 };
    const d = await loadOk({ path: 'train.txt', eval_path: 'dev.txt', shuffle: false });
    expect(texts(d.train)).toEqual(['row 0', 'row 1']);
    expect(texts(d.eval)).toEqual(['dev 0', 'dev 1']);
    expect(await loadErr({ path: ['train.txt', 'bad.dat'] })).toMatch(/^dataset\.format: cannot tell the format/);
  });

  it('limits the rows of path: the first ones, or a seeded sample when shuffled, before the split', async () => {
    project({ 'data.txt': lines(30) });
    expect(texts((await loadOk({ path: 'data.txt', limit: 3, shuffle: false })).train)).toEqual([
      'row 0',
      'row 1',
      'row 2',
    ]);
    const sample = texts((await loadOk({ path: 'data.txt', limit: 5, seed: 9 })).train);
    expect(sample).toEqual(texts((await loadOk({ path: 'data.txt', seed: 9 })).train).slice(0, 5));
    const d = await loadOk({ path: 'data.txt', limit: 10, eval_fraction: 0.3 });
    expect([d.train.length, d.eval?.length]).toEqual([7, 3]);
    expect((await loadOk({ path: 'data.txt', limit: 1000 })).train).toHaveLength(30);
  });

  it('info() has rows, columns, files and char and token length statistics', async () => {
    const dir = project({ 'a.txt': 'one two three\nfour\nfive six\nseven eight nine ten\n' });
    const d = await loadOk({ path: 'a.txt', shuffle: false, eval_fraction: 0.25 }, wordTokenizer);
    const info = d.info!();
    expect(info).toMatchObject({
      rows: 3,
      evalRows: 1,
      columns: ['text'],
      formats: ['text'],
      files: [path.join(dir, 'a.txt')],
      shuffled: false,
      seed: 42,
    });
    const counts = d.train.map((r) => String(r.text).split(' ').length);
    expect(info.tokens).toEqual(lengthStats(counts));
    expect(info.chars).toEqual(lengthStats(d.train.map((r) => String(r.text).length)));
    expect(d.info!()).toBe(info); // computed once
    const all = (await loadOk({ path: 'a.txt', stats_rows: 2, shuffle: false }, wordTokenizer)).info!();
    expect(all.tokens).toEqual({ rows: 2, min: 1, mean: 2, p50: 1, p95: 3, max: 3, total: 4 });
    expect((await loadOk({ path: 'a.txt' })).info!().tokens).toBeUndefined();
  });

  it('reports what a user can fix', async () => {
    const dir = project({ 'data/a.txt': 'x\n', 'data/empty.txt': '\n\n', 'data/odd.dat': 'x\n' });
    expect(await loadErr({ path: 'data/*.jsonl' })).toBe(
      `dataset.path: no file matches 'data/*.jsonl' (looked in ${dir})`,
    );
    expect(await loadErr({ path: ['data/a.txt', 'nope/**/*.txt'] })).toBe(
      `dataset.path: no file matches 'nope/**/*.txt' (looked in ${dir})`,
    );
    expect(await loadErr({ path: 'data/a.txt', eval_path: 'dev.txt' })).toBe(
      `dataset.eval_path: no file matches 'dev.txt' (looked in ${dir})`,
    );
    expect(await loadErr({ path: 'data' })).toBe(
      `dataset.path: 'data' is a folder; name the files in it, e.g. '${path.join('data', '*.jsonl')}'`,
    );
    expect(await loadErr({ path: 'data/odd.dat' })).toBe(
      'dataset.format: cannot tell the format of data/odd.dat from its extension; set dataset.format to ' +
        'jsonl, json, csv, parquet, text',
    );
    expect(await loadErr({ path: 'data/empty.txt' })).toBe('dataset.path: no rows in data/empty.txt');
    expect(await loadErr({ path: 'data/a.txt', eval_fraction: 0.5 })).toBe(
      'dataset.eval_fraction: 1 row is too few to split off an evaluation set',
    );
    expect(await loadErr({ path: 'data/a.txt', eval_fraction: 0.1, eval_path: 'data/a.txt' })).toBe(
      'set either dataset.eval_path or dataset.eval_fraction, not both',
    );
    expect(await loadErr({ path: 'data/a.txt', prompt_field: 'q' })).toBe(
      'dataset.prompt_field and dataset.response_field go together: set both',
    );
    expect(await loadErr({ path: 'data/a.txt', prompt_field: 'q', response_field: 'a' })).toBe(
      "data/a.txt is read as text, which gives only a 'text' column; prompt_field, response_field and " +
        'messages_field need jsonl, json, csv or parquet files',
    );
  });

  it('refuses, through its schema, what a run refuses before the loader runs', async () => {
    project({ 'data/a.txt': 'x\n' });
    expect(await loadErr({})).toBe("dataset: missing required field 'path'");
    expect(await loadErr({ path: 'data/a.txt', eval_fraction: 0.9 })).toBe('dataset.eval_fraction: must be <= 0.5');
    expect(await loadErr({ path: 'data/a.txt', limit: 0 })).toBe('dataset.limit: must be >= 1');
    expect(await loadErr({ path: 'data/a.txt', seed: 1.5 })).toBe('dataset.seed: expected integer, got number 1.5');
    expect(await loadErr({ path: 'data/a.txt', format: 'xlsx' })).toBe(
      'dataset.format: expected one of "auto", "jsonl", "json", "csv", "parquet", "text"',
    );
    expect(await loadErr({ path: 'data/a.txt', shufle: false })).toMatch(/^dataset: unknown field 'shufle' \(/);
  });

  it.skipIf(!existsSync(shakespeare))(
    'reads tinyshakespeare (1.1 MB) as text (skipped when ../shared/data/tinyshakespeare.txt is missing)',
    async () => {
      run = { configDir: path.dirname(shakespeare) };
      const byLine = await loadOk({ path: 'tinyshakespeare.txt', eval_fraction: 0.1 }, wordTokenizer);
      const info = byLine.info!();
      expect(info.rows + (info.evalRows ?? 0)).toBe(32777);
      expect(info.evalRows).toBe(3278);
      expect(info.tokens).toMatchObject({ rows: 10000, min: 1 });
      const paragraphs = await loadOk({ path: 'tinyshakespeare.txt', text_split: 'paragraph', shuffle: false });
      expect(paragraphs.train[0]!.text).toBe('First Citizen:\nBefore we proceed any further, hear me speak.');
      expect(paragraphs.train.length).toBeGreaterThan(7000);
    },
  );
});

// nodejs-polars ships its native binary as an optional per-platform package; without it nothing but text loads.
it('nodejs-polars loads (its native binary for this platform is installed)', () => {
  expect(polars.error, `nodejs-polars does not load: ${polars.error}`).toBeUndefined();
});

it.runIf(polars.error !== undefined)('says what to do when nodejs-polars does not load', async () => {
  project({ 'a.jsonl': '{"text":"x"}\n' });
  const message = await loadErr({ path: 'a.jsonl' });
  expect(message).toMatch(/^reading a\.jsonl needs nodejs-polars, which did not load \(/);
  expect(message).toMatch(/\(format: text files need no polars\)$/);
});

describe.skipIf(polars.error !== undefined)('JSONL, JSON, CSV and Parquet with nodejs-polars', () => {
  it('reads JSONL, keeping only the text column as strings (blank lines ignored)', async () => {
    project({ 'd.jsonl': '{"text":"a","id":1}\n\n{"text":"b","id":2}\n{"text":3,"id":3}\n' });
    const d = await loadOk({ path: 'd.jsonl', shuffle: false });
    expect(d.train).toEqual([{ text: 'a' }, { text: 'b' }, { text: '3' }]);
    expect(d.info!()).toMatchObject({ rows: 3, columns: ['text'], formats: ['jsonl'], fields: { text: 'text' } });
  });

  it('reads a JSON array, and JSON lines under a .json name', async () => {
    project({
      'arr.json': JSON.stringify([{ body: 'x' }, { body: 'y', other: [1] }]),
      'lines.json': '{"body":"z"}\n{"body":"w"}\n',
      'arr.data': JSON.stringify([{ body: 'q' }]),
    });
    const base = { text_field: 'body', shuffle: false };
    expect(texts((await loadOk({ ...base, path: 'arr.json' })).train)).toEqual(['x', 'y']);
    expect(texts((await loadOk({ ...base, path: 'lines.json' })).train)).toEqual(['z', 'w']);
    expect(texts((await loadOk({ ...base, path: 'arr.data', format: 'json' })).train)).toEqual(['q']);
    expect((await loadOk({ ...base, path: 'arr.json' })).info!().fields).toEqual({ text: 'body' });
  });

  it('reads CSV and TSV with every column as a string', async () => {
    project({
      'a.csv': 'prompt,answer,n\n007,"yes, sir",1\nhi,"multi\nline",2\n',
      'b.tsv': 'prompt\tanswer\nq\ta\n',
    });
    const d = await loadOk({ path: 'a.csv', prompt_field: 'prompt', response_field: 'answer', shuffle: false });
    expect(d.train).toEqual([
      { prompt: '007', response: 'yes, sir' },
      { prompt: 'hi', response: 'multi\nline' },
    ]);
    expect(d.info!()).toMatchObject({
      columns: ['prompt', 'response'],
      fields: { prompt: 'prompt', response: 'answer' },
    });
    const t = await loadOk({ path: 'b.tsv', prompt_field: 'prompt', response_field: 'answer' });
    expect(t.train).toEqual([{ prompt: 'q', response: 'a' }]);
  });

  it('reads Parquet written by nodejs-polars', async () => {
    const dir = project({});
    polars.pl!.DataFrame({ text: ['p1', 'p2', 'p3'], score: [1, 2, 3] }).writeParquet(path.join(dir, 'd.parquet'));
    const d = await loadOk({ path: 'd.parquet', shuffle: false }, wordTokenizer);
    expect(d.train).toEqual([{ text: 'p1' }, { text: 'p2' }, { text: 'p3' }]);
    expect(d.info!()).toMatchObject({ formats: ['parquet'], tokens: { rows: 3, min: 1, max: 1 } });
  });

  it('reads several formats through one glob, in sorted file order', async () => {
    const dir = project({ 'data/a.jsonl': '{"text":"j"}\n', 'data/b.csv': 'text\nc\n', 'data/d.txt': 't\n' });
    polars.pl!.DataFrame({ text: ['p'] }).writeParquet(path.join(dir, 'data/c.parquet'));
    const d = await loadOk({ path: 'data/*', shuffle: false });
    expect(texts(d.train)).toEqual(['j', 'c', 'p', 't']);
    expect(d.info!().formats).toEqual(['jsonl', 'csv', 'parquet', 'text']);
  });

  it('reads chat messages as lists of { role, content }, from JSONL lists or JSON strings in CSV', async () => {
    const chat = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ];
    project({
      'chat.jsonl': JSON.stringify({ conversation: chat, id: 1 }) + '\n',
      'chat.csv': `conversation\n"${JSON.stringify(chat).replaceAll('"', '""')}"\n`,
      'bad.jsonl': JSON.stringify({ conversation: [{ role: 'user' }] }) + '\n',
    });
    const d = await loadOk({ path: 'chat.jsonl', messages_field: 'conversation' }, wordTokenizer);
    expect(d.train).toEqual([{ messages: chat }]);
    expect(d.info!()).toMatchObject({ columns: ['messages'], tokens: { rows: 1, min: 2, max: 2 } });
    expect((await loadOk({ path: 'chat.csv', messages_field: 'conversation' })).train).toEqual([{ messages: chat }]);
    expect(await loadErr({ path: 'bad.jsonl', messages_field: 'conversation' })).toBe(
      "bad.jsonl line 1: 'conversation' message 1 is not { role, content } with two strings",
    );
    expect(await loadErr({ path: 'chat.jsonl', messages_field: 'conversation', prompt_field: 'x' })).toBe(
      'set either dataset.messages_field or dataset.prompt_field + dataset.response_field',
    );
  });

  it('reads eval_path files like path', async () => {
    project({ 'train.jsonl': '{"text":"t1"}\n{"text":"t2"}\n', 'dev.csv': 'text\nd1\nd2\n' });
    const d = await loadOk({ path: 'train.jsonl', eval_path: 'dev.csv', shuffle: false });
    expect(texts(d.train)).toEqual(['t1', 't2']);
    expect(texts(d.eval)).toEqual(['d1', 'd2']);
    expect(d.info!().formats).toEqual(['jsonl', 'csv']);
  });

  it('names the file, the column and the columns there are when a column is missing', async () => {
    project({ 'data/train.csv': 'prompt,answer\nq,a\n', 'data/chat.jsonl': '{"prompt":"q"}\n' });
    expect(await loadErr({ path: 'data/train.csv' })).toBe(
      "data/train.csv has no column 'text' (columns: prompt, answer); set dataset.text_field",
    );
    expect(await loadErr({ path: 'data/train.csv', prompt_field: 'prompt', response_field: 'response' })).toBe(
      "data/train.csv has no column 'response' (columns: prompt, answer); set dataset.response_field",
    );
    expect(await loadErr({ path: 'data/chat.jsonl', messages_field: 'messages' })).toBe(
      "data/chat.jsonl has no column 'messages' (columns: prompt); set dataset.messages_field",
    );
  });

  it('names the file and line of malformed JSON lines, and the file of other unreadable files', async () => {
    const dir = project({
      'data/bad.jsonl': '{"text":"a"}\n\n{"text": bad}\n',
      'data/list.jsonl': '{"text":"a"}\n[1, 2]\n',
      'data/bad.json': '[{"text": "a"},',
      'data/bad.parquet': 'not parquet',
      'data/ragged.csv': 'text\na\nb,c\n',
      'data/bom.jsonl': '\uFEFF{"text":"a"}\n',
      'data/bom.csv': '\uFEFFtext\na\n',
    });
    expect(await loadErr({ path: 'data/bad.jsonl' })).toMatch(/^data\/bad\.jsonl line 3 is not valid JSON \(.+\)$/);
    expect(await loadErr({ path: 'data/list.jsonl' })).toBe('data/list.jsonl line 2 is not a JSON object');
    expect(await loadErr({ path: 'data/bad.json' })).toMatch(/^data\/bad\.json is not valid JSON \(.+\)$/);
    expect(await loadErr({ path: 'data/bad.parquet' })).toMatch(
      /^data\/bad\.parquet could not be read as parquet: .*(Parquet|parquet).*/,
    );
    expect(await loadErr({ path: 'data/ragged.csv' })).toMatch(/^data\/ragged\.csv could not be read as csv: .+/);
    expect(await loadErr({ path: 'data/bom.jsonl' })).toBe(
      'data/bom.jsonl starts with a byte order mark, which polars cannot read; save it as UTF-8 without BOM',
    );
    expect(texts((await loadOk({ path: 'data/bom.csv' })).train)).toEqual(['a']);
    expect(await loadErr({ path: path.join(dir, 'data/bad.jsonl'), eval_path: 'data/*.jsonl' })).toMatch(
      /^data\/bad\.jsonl line 3/,
    );
  });

  it('stops at a null value, naming file and line or row, or skips such rows with a warning', async () => {
    project({
      'data/n.jsonl': '{"text":"a"}\n{"text":null}\n\n{"other":1}\n{"text":"d"}\n',
      'data/n.csv': 'prompt,response\nq1,a1\nq2,\n',
      'data/nulls.jsonl': '{"text":null}\n',
    });
    expect(await loadErr({ path: 'data/n.jsonl' })).toBe(
      "data/n.jsonl line 2: 'text' is null or missing; fix the file, or set dataset.null_rows: skip to drop such rows",
    );
    expect(await loadErr({ path: 'data/n.csv', prompt_field: 'prompt', response_field: 'response' })).toBe(
      "data/n.csv row 2: 'response' is null or missing; fix the file, or set dataset.null_rows: skip to drop such rows",
    );
    const warnings: string[] = [];
    const remove = addLogSink((record) => {
      if (record.level === 'warn') warnings.push(record.message);
    });
    const d = await loadOk({ path: 'data/n.jsonl', null_rows: 'skip', shuffle: false });
    remove();
    expect(texts(d.train)).toEqual(['a', 'd']);
    expect(d.info!().skippedRows).toBe(2);
    expect(warnings).toContain('data/n.jsonl: skipped 2 rows with a null value (first: line 2)');
    expect(await loadErr({ path: 'data/nulls.jsonl', null_rows: 'skip' })).toBe(
      'dataset.path: no rows in data/nulls.jsonl (all 1 had a null value and dataset.null_rows is skip)',
    );
  });

  it('refuses an empty dataset, and a JSON array under format jsonl', async () => {
    project({ 'e.jsonl': '\n', 'e.csv': 'text\n', 'arr.jsonl': '[{"text":"a"}]' });
    expect(await loadErr({ path: ['e.jsonl', 'e.csv'] })).toBe('dataset.path: no rows in e.jsonl, e.csv');
    expect(await loadErr({ path: 'arr.jsonl' })).toBe(
      'arr.jsonl is not JSON lines: it holds one JSON array, not one object per line; set dataset.format: json',
    );
  });
});
