// The dataset preview's loaded rows as the worker sends them: every field as text the UI can show as it is.
import { describe, expect, it } from 'vitest';
import { RAW_FIELD_CHARS, rawRowText } from '../../src/host/worker/preview-dataset.js';

describe('a loaded row in the dataset preview', () => {
  it('keeps strings as they are and writes other values as JSON', () => {
    expect(
      rawRowText({
        text: 'Once upon a time\n',
        score: 3.5,
        ok: true,
        none: null,
        tags: ['a', 'b'],
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).toEqual({
      text: 'Once upon a time\n',
      score: '3.5',
      ok: 'true',
      none: 'null',
      tags: '["a","b"]',
      messages: '[{"role":"user","content":"hi"}]',
    });
  });

  it('writes what JSON cannot (a bigint, undefined, a cycle) as String() does', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(rawRowText({ id: 12n, nested: { big: 5n }, missing: undefined, cycle })).toEqual({
      id: '12',
      nested: '{"big":"5"}',
      missing: 'undefined',
      cycle: '[object Object]',
    });
  });

  it('cuts a long field, marking the cut', () => {
    const long = 'x'.repeat(RAW_FIELD_CHARS + 10);
    const shown = rawRowText({ long }).long!;
    expect(shown).toHaveLength(RAW_FIELD_CHARS + 1);
    expect(shown.endsWith('…')).toBe(true);
  });
});
