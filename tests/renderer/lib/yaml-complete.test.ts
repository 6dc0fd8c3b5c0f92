import { describe, expect, it } from 'vitest';
import { completionsAt, hoverAt } from '../../../src/renderer/src/lib/yaml-complete.js';
import { placeAt } from '../../../src/renderer/src/lib/yaml-schema.js';
import { schemaUsing } from './schema-fixture.js';

const schema = schemaUsing('transformers', 'transformers_trainer', 'console_logger');

/** The text with `|` taken out, and where it was. */
function at(marked: string): [string, number] {
  const pos = marked.indexOf('|');
  return [marked.slice(0, pos) + marked.slice(pos + 1), pos];
}

function offers(marked: string) {
  const [text, pos] = at(marked);
  return completionsAt(text, pos, schema);
}

const labels = (marked: string) => offers(marked)?.options.map((o) => o.label);

describe('where the cursor is', () => {
  it('knows the section of a key being typed, even while the YAML is not valid', () => {
    const [text, pos] = at('plugins: [x]\ntraining:\n  batch_size: 4\n  lear|\nmodel:\n  init: x\n');
    expect(placeAt(text, pos)).toEqual({
      kind: 'key',
      path: ['training'],
      prefix: 'lear',
      from: pos - 4,
      siblings: ['batch_size'],
    });
  });

  it('knows a list item of plugins:, block or flow, and a value', () => {
    expect(placeAt(...at('plugins:\n- a\n- |'))).toMatchObject({ kind: 'item', path: ['plugins'], siblings: ['a'] });
    expect(placeAt(...at('plugins:\n  - a\n  - tr|\n'))).toMatchObject({
      kind: 'item',
      path: ['plugins'],
      prefix: 'tr',
    });
    expect(placeAt(...at('plugins: [a, b, tr|'))).toMatchObject({ kind: 'item', siblings: ['a', 'b'], prefix: 'tr' });
    expect(placeAt(...at('training:\n  lr_scheduler: co|'))).toMatchObject({
      kind: 'value',
      path: ['training', 'lr_scheduler'],
      prefix: 'co',
    });
  });

  it('knows nothing inside a comment or under a list of mappings', () => {
    expect(placeAt(...at('# lear|'))).toBeUndefined();
    expect(placeAt(...at('rows:\n  - a: 1\n    b|'))).toBeUndefined();
  });
});

describe('completion', () => {
  it("offers a section's fields from its plugin's schema, with type and default in the detail", () => {
    const found = offers('plugins: [x]\ntraining:\n  lear|\n')!;
    const lr = found.options.find((o) => o.label === 'learning_rate')!;
    expect(lr).toMatchObject({ detail: 'number, default 0.0005', apply: 'learning_rate: ' });
    expect(lr.info).toBe(
      'learning_rate: number, default 0.0005, > 0, < 1\n    Above 0 and below 1 (typical: 1e-5 to 1e-3).',
    );
    expect(found.from).toBe('plugins: [x]\ntraining:\n  '.length);
  });

  it('renames a key in place: the offer replaces the whole name under the cursor and keeps its colon', () => {
    const [text, pos] = at('training:\n  lear|nng_rate: 0.01 # tuned\n  batch_size: 4\n');
    const found = completionsAt(text, pos, schema)!;
    expect(text.slice(found.from, found.to)).toBe('learnng_rate');
    expect(found.options.find((o) => o.label === 'learning_rate')).toEqual({
      label: 'learning_rate',
      detail: 'number, default 0.0005',
      info: expect.stringContaining('Above 0 and below 1'),
      type: 'property',
    });
  });

  it('leaves out the fields the section already has', () => {
    expect(labels('training:\n  batch_size: 4\n  |\n  epochs: 2\n')).toEqual([
      'learning_rate',
      'lr_scheduler',
      'max_steps',
      'warmup_steps',
      'shuffle',
    ]);
  });

  it("offers the run's keys and the sections of the config's plugins at the top", () => {
    const top = offers('plugins: [x]\nse|')!.options;
    expect(top.map((o) => o.label)).toEqual(['name', 'seed', 'webgpu', 'model', 'training', 'console_logger']);
    expect(top.find((o) => o.label === 'training')).toMatchObject({
      detail: 'section of transformers_trainer',
      apply: 'training:\n  ',
    });
    // A mapping's key opens its block below it.
    expect(top.find((o) => o.label === 'webgpu')?.apply).toBe('webgpu:\n  ');
  });

  it('offers the plugin names not listed yet in plugins:, with what they provide', () => {
    const names = offers('plugins:\n  - transformers\n  - |\n')!.options;
    expect(names.map((o) => o.label)).toEqual(['transformers_trainer', 'lora', 'console_logger']);
    expect(names[0]).toMatchObject({ detail: 'trainer', type: 'class' });
    expect(labels('plugins: [lora, |]')).toEqual(['transformers', 'transformers_trainer', 'console_logger']);
  });

  it("offers a field's choices as its value", () => {
    expect(labels('training:\n  lr_scheduler: |')).toEqual(['linear', 'cosine', 'constant']);
    expect(offers('training:\n  shuffle: t|')?.options).toEqual([
      { label: 'true', detail: 'default', type: 'enum' },
      { label: 'false', detail: undefined, type: 'enum' },
    ]);
    expect(offers('training:\n  batch_size: |')).toBeUndefined();
  });
});

describe('hover', () => {
  it("shows a field's description, type and default", () => {
    const text = 'training:\n  learning_rate: 0.01 # fast\n';
    const hover = hoverAt(text, text.indexOf('rate'), schema)!;
    expect(text.slice(hover.from, hover.to)).toBe('learning_rate');
    expect(hover.lines).toEqual([
      'learning_rate: number, default 0.0005, > 0, < 1',
      '    Above 0 and below 1 (typical: 1e-5 to 1e-3).',
    ]);
  });

  it("shows which plugin reads a section, and a listed plugin's doc", () => {
    const text = 'plugins:\n  - transformers_trainer\ntraining:\n  epochs: 1\n';
    expect(hoverAt(text, text.indexOf('training:') + 2, schema)?.lines).toEqual([
      'training: the section of transformers_trainer',
      'Trains the model: AdamW, schedules, accumulation, clipping, eval, checkpoints, resume.',
    ]);
    const plugin = hoverAt(text, text.indexOf('_trainer'), schema)!;
    expect(text.slice(plugin.from, plugin.to)).toBe('transformers_trainer');
    expect(plugin.lines[0]).toBe('transformers_trainer [training:] provides trainer');
  });

  it('shows nothing for a value, or a key no schema knows', () => {
    const text = 'training:\n  learning_rate: 0.01\n  whatever: 1\n';
    expect(hoverAt(text, text.indexOf('0.01'), schema)).toBeUndefined();
    expect(hoverAt(text, text.indexOf('whatever'), schema)).toBeUndefined();
  });
});
