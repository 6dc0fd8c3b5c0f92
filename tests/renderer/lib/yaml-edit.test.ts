import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { listedPlugins, removeKeyAt, setPluginListed, setScalarAt } from '../../../src/renderer/src/lib/yaml-edit.js';

const quickstart = readFileSync(resolve(import.meta.dirname, '../../../resources/examples/quickstart.yaml'), 'utf8');

const CONFIG = `# My run
plugins:
  - transformers # model and tokenizer
  # the data
  - polars
  - file_logger

model:
  base_model: ./model # where it lives
`;

describe('listedPlugins', () => {
  it('reads the names of the plugins list as written', () => {
    expect(listedPlugins(CONFIG)).toEqual(['transformers', 'polars', 'file_logger']);
  });
  it('is empty for broken YAML or a config without a list', () => {
    expect(listedPlugins('plugins: [a,\n')).toEqual([]);
    expect(listedPlugins('model: {}\n')).toEqual([]);
  });
});

describe('setPluginListed', () => {
  it('appends a plugin as a new line of the list and changes nothing else', () => {
    const edit = setPluginListed(CONFIG, 'console_logger', true);
    expect(edit).toEqual({
      ok: true,
      text: CONFIG.replace('  - file_logger\n', '  - file_logger\n  - console_logger\n'),
    });
  });

  it('removes only the line of the plugin, comments around it stay', () => {
    const edit = setPluginListed(CONFIG, 'polars', false);
    expect(edit).toEqual({ ok: true, text: CONFIG.replace('  - polars\n', '') });
    const text = edit.ok ? edit.text : '';
    expect(text).toContain('# model and tokenizer');
    expect(text).toContain('# the data');
    expect(text).toContain('# where it lives');
  });

  it('removes an entry written under another name of the plugin (an alias)', () => {
    const edit = setPluginListed(CONFIG, 'transformers_models', false, ['transformers']);
    expect(edit.ok && edit.text).toBe(CONFIG.replace('  - transformers # model and tokenizer\n', ''));
  });

  it('leaves the text alone when the plugin is already listed or already absent', () => {
    expect(setPluginListed(CONFIG, 'polars', true)).toEqual({ ok: true, text: CONFIG });
    expect(setPluginListed(CONFIG, 'jinja_formatter', false)).toEqual({ ok: true, text: CONFIG });
  });

  it('round-trips the quickstart example: off then on gives the same list, with every comment kept', () => {
    const off = setPluginListed(quickstart, 'polars', false);
    expect(off.ok).toBe(true);
    const on = setPluginListed(off.ok ? off.text : '', 'polars', true);
    const text = on.ok ? on.text : '';
    expect(parse(text).plugins).toEqual([
      'transformers',
      'jinja_formatter',
      'transformers_trainer',
      'console_logger',
      'file_logger',
      'polars',
    ]);
    for (const line of quickstart.split('\n').filter((l) => l.includes('#') && !l.includes('polars'))) {
      expect(text).toContain(line);
    }
  });

  it('adds to a flow list in place', () => {
    expect(setPluginListed('plugins: [a, b] # two\nx: 1\n', 'c', true)).toEqual({
      ok: true,
      text: 'plugins: [a, b, c] # two\nx: 1\n',
    });
  });

  it('creates the list when the config has none', () => {
    const edit = setPluginListed('# note\nname: x\n', 'polars', true);
    expect(edit.ok && parse(edit.text)).toEqual({ name: 'x', plugins: ['polars'] });
    expect(edit.ok && edit.text).toContain('# note');
  });

  it('refuses to edit YAML that does not parse, and says why', () => {
    const edit = setPluginListed('plugins: [a,\n', 'b', true);
    expect(edit.ok).toBe(false);
    expect(!edit.ok && edit.error).toMatch(/YAML has errors/);
  });
});

describe('setScalarAt', () => {
  it('replaces a value in place, keeping its comment', () => {
    const edit = setScalarAt(CONFIG, ['model', 'base_model'], '/models/gpt2');
    expect(edit).toEqual({ ok: true, text: CONFIG.replace('./model # where', '/models/gpt2 # where') });
  });
  it('quotes a value that YAML would read otherwise', () => {
    const edit = setScalarAt(CONFIG, ['model', 'base_model'], 'C:\\models #1');
    expect(edit.ok && parse(edit.text).model.base_model).toBe('C:\\models #1');
  });
  it('adds the key when it is missing', () => {
    const edit = setScalarAt('name: x\n', ['model', 'base_model'], '/m');
    expect(edit.ok && parse(edit.text)).toEqual({ name: 'x', model: { base_model: '/m' } });
  });
});

describe('setScalarAt, a key its section does not have yet', () => {
  const SECTIONS = `training:
  learning_rate: 0.005 # tuned

  # how long
  max_steps: 120 # steps
model:
  config:
    n_layer: 2
`;

  it('goes on a new line after the last entry of its section, indented like them; nothing else moves', () => {
    expect(setScalarAt(SECTIONS, ['training', 'batch_size'], 16)).toEqual({
      ok: true,
      text: SECTIONS.replace('max_steps: 120 # steps\n', 'max_steps: 120 # steps\n  batch_size: 16\n'),
    });
    // After a nested block, not inside it.
    expect(setScalarAt(SECTIONS, ['model', 'init'], 'pretrained')).toEqual({
      ok: true,
      text: SECTIONS + '  init: pretrained\n',
    });
  });

  it('writes numbers as numbers', () => {
    const edit = setScalarAt(SECTIONS, ['training', 'learning_rate'], 0.0005);
    expect(edit.ok && parse(edit.text).training.learning_rate).toBe(0.0005);
    expect(edit.ok && edit.text).toContain('learning_rate: 0.0005 # tuned');
  });

  it('opens a section that has nothing yet, or appends a missing one', () => {
    expect(setScalarAt('training:   # soon\nname: x\n', ['training', 'epochs'], 2)).toEqual({
      ok: true,
      text: 'training:   # soon\n  epochs: 2\nname: x\n',
    });
    expect(setScalarAt('name: x # mine', ['lora', 'r'], 8)).toEqual({
      ok: true,
      text: 'name: x # mine\nlora:\n  r: 8\n',
    });
    const edit = setScalarAt('training: ~\n', ['training', 'epochs'], 2);
    expect(edit.ok && parse(edit.text)).toEqual({ training: { epochs: 2 } });
  });
});

describe('removeKeyAt', () => {
  it('takes out the lines of the entry and nothing else', () => {
    const text = 'training:\n  learning_rate: 0.005 # tuned\n  max_steps: 120\n';
    expect(removeKeyAt(text, ['training', 'learning_rate'])).toEqual({
      ok: true,
      text: 'training:\n  max_steps: 120\n',
    });
    expect(removeKeyAt(text, ['training', 'epochs'])).toEqual({ ok: true, text });
  });
  it('takes an entry out of a flow mapping', () => {
    const edit = removeKeyAt('training: {epochs: 2, max_steps: 3}\n', ['training', 'epochs']);
    expect(edit.ok && parse(edit.text)).toEqual({ training: { max_steps: 3 } });
  });
});
