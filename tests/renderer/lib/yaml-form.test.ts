import { describe, expect, it } from 'vitest';
import { formFields, setFormValue, trainerSection } from '../../../src/renderer/src/lib/yaml-form.js';
import { schemaUsing } from './schema-fixture.js';

const TEXT = `plugins:
  - transformers
  - transformers_trainer
training:
  # the fast one
  learning_rate: 0.005 # tuned
  max_steps: 120
`;

describe('the form view', () => {
  it("shows the trainer's common fields with their values as written, empty where the default applies", () => {
    const schema = schemaUsing('transformers', 'transformers_trainer');
    expect(trainerSection(schema)).toBe('training');
    expect(formFields(TEXT, schema).map((f) => [`${f.section}.${f.doc.name}`, f.value])).toEqual([
      ['training.learning_rate', '0.005'],
      ['training.batch_size', ''],
      ['training.max_steps', '120'],
      ['training.epochs', ''],
      ['training.warmup_steps', ''],
    ]);
  });

  it("adds LoRA's rank and alpha when the config uses the lora plugin, and nothing without a trainer", () => {
    const fields = formFields(TEXT, schemaUsing('transformers', 'transformers_trainer', 'lora'));
    expect(fields.slice(-2).map((f) => `${f.section}.${f.doc.name}`)).toEqual(['lora.r', 'lora.lora_alpha']);
    expect(formFields(TEXT, schemaUsing('transformers'))).toEqual([]);
  });

  it('changes only the value in the text, comments kept', () => {
    const [lr] = formFields(TEXT, schemaUsing('transformers', 'transformers_trainer'));
    expect(setFormValue(TEXT, lr!, '5e-4')).toEqual({
      ok: true,
      text: TEXT.replace('learning_rate: 0.005 # tuned', 'learning_rate: 0.0005 # tuned'),
    });
  });

  it('adds a field that is not written yet below the others of its section, and takes it out when emptied', () => {
    const fields = formFields(TEXT, schemaUsing('transformers', 'transformers_trainer', 'lora'));
    const batch = fields.find((f) => f.doc.name === 'batch_size')!;
    const added = setFormValue(TEXT, batch, ' 16 ');
    expect(added).toEqual({ ok: true, text: TEXT + '  batch_size: 16\n' });
    expect(setFormValue(added.ok ? added.text : '', batch, '')).toEqual({ ok: true, text: TEXT });
    const rank = fields.find((f) => f.doc.name === 'r')!;
    expect(setFormValue(TEXT, rank, '8')).toEqual({ ok: true, text: TEXT + 'lora:\n  r: 8\n' });
  });

  it("refuses what the field's schema refuses, saying why, and leaves the text alone", () => {
    const fields = formFields(TEXT, schemaUsing('transformers', 'transformers_trainer'));
    const [lr, batch] = fields;
    expect(setFormValue(TEXT, lr!, '0')).toEqual({ ok: false, error: 'must be above 0' });
    expect(setFormValue(TEXT, lr!, '1.5')).toEqual({ ok: false, error: 'must be below 1' });
    expect(setFormValue(TEXT, lr!, 'fast')).toEqual({ ok: false, error: 'expected number' });
    expect(setFormValue(TEXT, batch!, '2.5')).toEqual({ ok: false, error: 'expected an integer' });
    expect(setFormValue(TEXT, batch!, '0')).toEqual({ ok: false, error: 'must be at least 1' });
    expect(setFormValue('training: [\n', batch!, '4')).toMatchObject({ ok: false, error: /YAML has errors/ });
  });
});
