import { describe, expect, it } from 'vitest';
import { keyHints, withHints } from '../../../src/renderer/src/lib/yaml-lint.js';
import { schemaUsing } from './schema-fixture.js';

const schema = schemaUsing('transformers', 'transformers_trainer');

describe('"did you mean" hints', () => {
  it("mark a misspelt field of a section at its key, with the field's name", () => {
    const text = 'plugins: [x]\ntraining:\n  learnin_rate: 0.01 # fast\n';
    const [hint] = keyHints(text, schema);
    expect(hint).toEqual({
      from: text.indexOf('learnin_rate'),
      to: text.indexOf('learnin_rate') + 'learnin_rate'.length,
      message: "training: unknown field 'learnin_rate' (did you mean 'learning_rate'?)",
      key: 'learnin_rate',
      replacement: 'learning_rate',
    });
  });

  it('mark a misspelt top-level key, and a field of a run key that is a mapping', () => {
    const text = 'plugins: [x]\ntrainng:\n  epochs: 1\nwebgpu:\n  allow_sofware: true\n';
    expect(keyHints(text, schema).map((h) => [h.message, h.replacement])).toEqual([
      ["unknown top-level key 'trainng' (did you mean 'training'?)", 'training'],
      ["webgpu: unknown field 'allow_sofware' (did you mean 'allow_software'?)", 'allow_software'],
    ]);
  });

  it('say nothing of names with no close known one, of broken YAML, or of top-level keys before the catalog answers', () => {
    expect(keyHints('training:\n  something_else: 1\n', schema)).toEqual([]);
    expect(keyHints('training:\n  learnin_rate: [\n', schema)).toEqual([]);
    expect(keyHints('trainng: {}\n', schemaUsing())).toEqual([]);
  });
});

describe('the problems the editor shows', () => {
  const hint = {
    from: 20,
    to: 32,
    message: "training: unknown field 'x' (did you mean 'y'?)",
    key: 'x',
    replacement: 'y',
  };
  const fix = { from: 20, to: 32, insert: 'y' };

  it("add the suggestion, after the key's name, and a fix to the validator's problem at the same key", () => {
    const problem = { from: 20, to: 33, message: "training: unknown field 'x' (expected one of: y, z)" };
    expect(withHints([problem], [hint])).toEqual([
      { ...problem, message: "training: unknown field 'x' (did you mean 'y'?) (expected one of: y, z)", fix },
    ]);
    expect(withHints([{ from: 20, to: 21, message: 'no name here' }], [hint])[0]!.message).toBe(
      "no name here (did you mean 'y'?)",
    );
  });

  it('keep a message that suggests already, and show a hint the validator has not reported on its own', () => {
    const problem = { from: 20, to: 33, message: "unknown top-level key 'x' (did you mean 'y'?): a config holds" };
    expect(withHints([problem], [hint])[0]!.message).toBe(problem.message);
    expect(withHints([{ from: 0, to: 4, message: 'other' }], [hint])).toEqual([
      { from: 0, to: 4, message: 'other' },
      { from: 20, to: 32, message: hint.message, fix },
    ]);
  });
});
