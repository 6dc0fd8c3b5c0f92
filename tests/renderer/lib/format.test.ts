import { describe, expect, it } from 'vitest';
import { countOf } from '../../../src/renderer/src/lib/format.js';

describe('countOf', () => {
  it('says "1 file" and "2 files", never "1 files"', () => {
    expect(countOf(1, 'file')).toBe('1 file');
    expect(countOf(0, 'file')).toBe('0 files');
    expect(countOf(2, 'file')).toBe('2 files');
    expect(countOf(12_345, 'row')).toBe('12,345 rows');
    expect(countOf(1, 'entry', 'entries')).toBe('1 entry');
    expect(countOf(3, 'entry', 'entries')).toBe('3 entries');
  });
});
