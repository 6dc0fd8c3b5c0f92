import { describe, expect, it } from 'vitest';
import { inThisFile, problemLabel, problemRange } from '../../../src/renderer/src/lib/problems.js';

const text = 'name: x\nmodel:\n  base_model: 12\n';
const lines = (() => {
  const all = text.split('\n');
  let from = 0;
  const ranges = all.map((t) => {
    const r = { from, to: from + t.length, text: t };
    from += t.length + 1;
    return r;
  });
  return { count: ranges.length, line: (n: number) => ranges[n - 1]! };
})();

describe('config problems', () => {
  it('read as "line:col message"', () => {
    expect(problemLabel({ message: 'expected a string', line: 3, column: 15 })).toBe('3:15 expected a string');
    expect(problemLabel({ message: 'no trainer', line: 2 })).toBe('2 no trainer');
    expect(problemLabel({ message: 'broken' })).toBe('broken');
  });

  it('underline the word at their line and column', () => {
    const range = problemRange({ message: 'm', line: 3, column: 15 }, lines)!;
    expect(text.slice(range.from, range.to)).toBe('12');
  });

  it('underline the whole line when the column is unknown, and stay inside the text', () => {
    const range = problemRange({ message: 'm', line: 2 }, lines)!;
    expect(text.slice(range.from, range.to)).toBe('model:');
    expect(problemRange({ message: 'm', line: 99, column: 99 }, lines)).toBeDefined();
  });

  it('belong to the open file unless they name another', () => {
    expect(inThisFile({ message: 'm' }, '/c/a.yaml')).toBe(true);
    expect(inThisFile({ message: 'm', file: '/c/a.yaml' }, '/c/a.yaml')).toBe(true);
    expect(inThisFile({ message: 'm', file: '/work/untitled.yaml' }, 'untitled.yaml')).toBe(true);
    expect(inThisFile({ message: 'm', file: '/plugins/x/schema.json' }, '/c/a.yaml')).toBe(false);
  });
});
