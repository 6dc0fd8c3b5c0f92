// runFiles names a run folder's files as Node's path.join would (the host and the services compare and show
// these paths), without importing Node: the renderer's type check sees src/shared.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_FILE_NAMES, runFiles } from '../../src/shared/run-files.js';

describe('runFiles', () => {
  it('joins each name to a POSIX folder as path.join does, with or without a trailing slash', () => {
    for (const folder of ['/home/u/runs/2026-01-01-000000-x', '/home/u/runs/x/', 'runs/x', '/']) {
      const files = runFiles(folder);
      for (const [key, name] of Object.entries(RUN_FILE_NAMES)) {
        expect(files[key as keyof typeof RUN_FILE_NAMES]).toBe(path.posix.join(folder, name));
      }
    }
  });

  it('keeps a Windows folder’s backslashes', () => {
    const folder = 'C:\\Users\\u\\runs\\x';
    expect(runFiles(folder).record).toBe(path.win32.join(folder, 'run.json'));
    expect(runFiles('C:\\').final).toBe(path.win32.join('C:\\', 'final'));
  });

  it('names the files a run folder holds', () => {
    expect(runFiles('/r')).toEqual({
      config: '/r/config.yaml',
      record: '/r/run.json',
      metrics: '/r/metrics.jsonl',
      trace: '/r/trace.jsonl',
      log: '/r/log.txt',
      samples: '/r/samples.jsonl',
      checkpoints: '/r/checkpoints',
      final: '/r/final',
      stop: '/r/.stop',
      lock: '/r/.lock',
    });
  });
});
