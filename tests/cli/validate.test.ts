// `dumbo validate` catches what would fail in a run's first seconds, at the line that is wrong, and runs no
// plugin code in the CLI process: numbers that cannot train, a misspelt top-level key, the data path on the
// first rows (dataset file, column, template, tokenizer), a plugin that ends the process. What only a run
// can see (max_length against the model's context, batch_size against the whole dataset) fails before the
// first step, at its line, and leaves one run folder marked failed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineConfig } from '../fixtures/configs.js';
import { lastLine, runDumbo, tempDir, writeFiles } from '../helpers.js';

/** `LINE:COL` of the value after `key: ` in the first line of `text` holding `key: value`. */
function at(text: string, keyValue: string, column: 'value' | 'key' = 'value'): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(keyValue));
  if (i < 0) throw new Error(`no line holds ${keyValue}`);
  const start = lines[i]!.indexOf(keyValue);
  const offset = column === 'key' ? 0 : keyValue.indexOf(':') + 2;
  return `${i + 1}:${start + offset + 1}`;
}

/** The engine config with `from` replaced by `to` (which must occur). */
function edited(from: string, to: string): string {
  const base = engineConfig({ name: 'v' });
  if (!base.includes(from)) throw new Error(`the engine config has no ${from}`);
  return base.replace(from, to);
}

async function validate(text: string) {
  const dir = writeFiles(tempDir(), { 'c.yaml': text });
  const r = await runDumbo(['validate', 'c.yaml'], { cwd: dir });
  return { ...r, dir };
}

describe('dumbo validate: numbers, keys and the data path', () => {
  it('the engine config itself validates, reading its data, and writes nothing', async () => {
    const r = await validate(engineConfig({ name: 'v' }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^c\.yaml: valid; plugins in the order they run:/);
    expect(readdirSync(r.dir)).toEqual(['c.yaml']);
  });

  it('refuses numbers that cannot train, each at its line: learning_rate 1e39 or NaN, n_layer 0', async () => {
    const cases: [string, string, string][] = [
      ['learning_rate: 0.01', 'learning_rate: 1e39', 'training.learning_rate: must be < 1'],
      ['learning_rate: 0.01', 'learning_rate: .nan', 'training.learning_rate: expected a finite number, got NaN'],
      ['learning_rate: 0.01', 'learning_rate: 0', 'training.learning_rate: must be > 0'],
      ['n_layer: 1,', 'n_layer: 0,', 'model.config.n_layer: must be >= 1'],
      ['n_head: 2,', 'n_head: 1.5,', 'model.config.n_head: expected integer or null, got number 1.5'],
    ];
    for (const [from, to, message] of cases) {
      const text = edited(from, to);
      const r = await validate(text);
      expect(r.code, to).toBe(2);
      expect(r.stderr, to).toBe(`c.yaml:${at(text, to.replace(/,$/, ''))}: ${message}\n`);
      expect(r.stdout).toBe('');
    }
  });

  it('a misspelt top-level key is an error at its line with a suggestion, in validate and in run', async () => {
    const text = edited('training:', 'trainng:');
    const r = await validate(text);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^c\\.yaml:${at(text, 'trainng:', 'key')}: unknown top-level key 'trainng' \\(did you mean 'training'\\?\\)`,
      ),
    );
    const run = await runDumbo(['run', 'c.yaml'], { cwd: r.dir });
    expect(run.code).toBe(2);
    expect(lastLine(run.stderr)).toBe(lastLine(r.stderr));
    expect(existsSync(path.join(r.dir, 'runs'))).toBe(false);
  });

  it('dry-runs the data path: a missing file, a missing column, a bad template, a bad tokenizer, at the line', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'stories.jsonl',
        'nope.jsonl',
        /^dataset_loader failed: polars_dataset_loader: dataset\.path: no file matches '.*nope\.jsonl'/,
      ],
      [
        '  eval_fraction: 0.1\n',
        '  eval_fraction: 0.1\n  text_field: story\n',
        /^dataset_loader failed: polars_dataset_loader: .*stories\.jsonl has no column 'story' \(columns: text\); set dataset\.text_field$/,
      ],
      [
        '  packing: true\n',
        '  packing: true\n  template: "{{ text }"\n',
        /^dataset_formatter failed: jinja_formatter: formatter\.template: syntax error at line 1: /,
      ],
      [
        '  packing: true\n',
        '  packing: true\n  text_field: body\n',
        /^dataset_formatter failed: jinja_formatter: formatter\.text_field: train row 0: no 'body', 'prompt'\/'response' or 'messages' field \(the row has: text\)$/,
      ],
      [
        '  init: from_config\n',
        '  init: from_config\n  tokenizer: ./no_such_tokenizer\n',
        /^tokenizer_loader failed: transformers_tokenizer_loader: model\.tokenizer: no folder .*no_such_tokenizer$/,
      ],
    ];
    for (const [from, to, message] of cases) {
      const text = edited(from, to);
      const r = await validate(text);
      expect(r.code, to).toBe(2);
      // The line that is wrong: the value the edit wrote, not the section's header.
      const written = to.trim().split('\n').at(-1)!;
      const where = written.endsWith('.jsonl')
        ? at(text, `path: ${path.dirname(text.split('path: ')[1]!)}`)
        : at(text, written);
      const line = lastLine(r.stderr);
      expect(line.startsWith(`c.yaml:${where}: `), `${to}: ${line}`).toBe(true);
      expect(line.slice(`c.yaml:${where}: `.length)).toMatch(message);
      expect(readdirSync(r.dir)).toEqual(['c.yaml']);
    }
  });
});

describe('dumbo run: what only a run can check fails before the first step, at its line', () => {
  it('max_length over the context, batch_size over the rows: one run folder, marked failed, no checkpoint', async () => {
    const cases: [string, string, RegExp][] = [
      [
        '  max_length: 32\n  eval_every',
        '  max_length: 64\n  eval_every',
        /^trainer failed: transformers_trainer: training\.max_length: 64 is more than the model's context of 32 positions \(lower it to at most 32\)$/,
      ],
      [
        'batch_size: 4',
        'batch_size: 100000',
        /^trainer failed: transformers_trainer: training\.batch_size: 100000 is more than the \d+ training row\(s\): not one full batch/,
      ],
    ];
    for (const [from, to, message] of cases) {
      const text = edited(from, to);
      const dir = writeFiles(tempDir(), { 'c.yaml': text });
      // validate reads only the first rows and loads no model: these pass it.
      expect((await runDumbo(['validate', 'c.yaml'], { cwd: dir })).code).toBe(0);
      const r = await runDumbo(['run', 'c.yaml'], { cwd: dir });
      expect(r.code, to).toBe(1);
      const written = to.trim().split('\n')[0]!.trim();
      const prefix = `c.yaml:${at(text, written)}: `;
      const line = lastLine(r.stderr);
      expect(line.startsWith(prefix), line).toBe(true);
      expect(line.slice(prefix.length)).toMatch(message);
      const runs = readdirSync(path.join(dir, 'runs'));
      expect(runs).toHaveLength(1);
      const folder = path.join(dir, 'runs', runs[0]!);
      const record = JSON.parse(readFileSync(path.join(folder, 'run.json'), 'utf8')) as Record<string, unknown>;
      expect(record).toMatchObject({ status: 'failed', exitReason: line });
      expect(existsSync(path.join(folder, 'checkpoints'))).toBe(false);
      expect(readFileSync(path.join(folder, 'metrics.jsonl'), 'utf8')).not.toContain('"name":"loss"');
    }
  });
});

describe('dumbo validate and plugins: plugin code runs in the worker, not in the CLI', () => {
  const exitOnImport = `process.exit(0);\nexport const AVAILABLE_PLUGINS = [];\n`;
  const exitInHook = `import { BasePlugin } from 'dumbo';
export class Quitter extends BasePlugin {
  static configKey = 'quitter';
  static provides = ['dataset_loader'];
  hooks() { return { dataset_loader: () => process.exit(0) }; }
}
export const AVAILABLE_PLUGINS = [Quitter];
`;

  it('a plugin module that calls process.exit(0) makes validate and plugins exit 2, naming it', async () => {
    const dir = writeFiles(tempDir(), { 'quits/index.js': exitOnImport, 'c.yaml': 'plugins: [./quits]\n' });
    const v = await runDumbo(['validate', 'c.yaml'], { cwd: dir });
    expect(v.code).toBe(2);
    expect(v.stdout).toBe('');
    expect(lastLine(v.stderr)).toBe(
      'quits/index.js: cannot load plugin: its module called process.exit(0) while being imported; ' +
        'a plugin must throw an error instead of ending the process',
    );
    const p = await runDumbo(['plugins', 'c.yaml'], { cwd: dir });
    expect(p.code).toBe(2);
    expect(p.stdout).toContain('user plugin folder:');
    expect(lastLine(p.stderr)).toBe(lastLine(v.stderr));
  });

  it('a data hook that calls process.exit(0) during the dry run fails validate, naming plugin and hook', async () => {
    const dir = writeFiles(tempDir(), { 'q/index.js': exitInHook, 'c.yaml': 'plugins: [./q]\n' });
    const v = await runDumbo(['validate', 'c.yaml'], { cwd: dir });
    expect(v.code).toBe(2);
    expect(lastLine(v.stderr)).toMatch(
      /^c\.yaml:1:\d+: dataset_loader failed: quitter: plugin quitter, hook dataset_loader: called process\.exit\(0\)/,
    );
  });
});
