import { describe, expect, it } from 'vitest';
import { runSourceLabel } from '../../../src/renderer/src/lib/run-source.js';

const editor = (path: string, copiedFrom = '') => ({ path, copiedFrom });

describe('runSourceLabel: which config a run came from', () => {
  it('names the file, and says when the run used its unsaved edits or had no file', () => {
    expect(runSourceLabel({ configFile: '/c/q.yaml' }, editor('/c/q.yaml'))).toEqual({
      text: 'q.yaml',
      title: '/c/q.yaml',
      differs: false,
    });
    expect(runSourceLabel({ configFile: '/c/q.yaml', configSource: 'edited' }, editor('/c/q.yaml')).text).toBe(
      'q.yaml (edited, unsaved)',
    );
    expect(runSourceLabel({ configFile: '/w/untitled.yaml', configSource: 'untitled' }, editor('')).text).toBe(
      'untitled (never saved)',
    );
  });

  it("says when the editor shows another config than the run's", () => {
    expect(runSourceLabel({ configFile: '/c/y.yaml' }, editor('/c/x.yaml')).differs).toBe(true);
    expect(
      runSourceLabel({ configFile: '/w/untitled.yaml', configSource: 'untitled' }, editor('/c/x.yaml')).differs,
    ).toBe(true);
    expect(runSourceLabel({ configFile: '/w/untitled.yaml', configSource: 'untitled' }, editor('')).differs).toBe(
      false,
    );
    // An example's copy runs with the example's path.
    expect(runSourceLabel({ configFile: '/ex/q.yaml', configSource: 'edited' }, editor('', '/ex/q.yaml')).differs).toBe(
      false,
    );
    expect(runSourceLabel({ configFile: '/ex/q.yaml' }, editor('', '/ex/dpo.yaml')).differs).toBe(true);
  });
});
