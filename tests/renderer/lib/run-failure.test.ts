import { describe, expect, it } from 'vitest';
import { FAILURE_LINES, runFailure } from '../../../src/renderer/src/lib/run-failure.js';
import { summary } from '../fake-api.js';

describe('a run failure', () => {
  it('is there only for a failed or crashed run', () => {
    expect(runFailure(undefined, [])).toBeUndefined();
    for (const status of ['pending', 'running', 'stopping', 'stopped', 'completed'] as const) {
      expect(runFailure(summary({ status, exitReason: 'x' }), ['[a] error: b'])).toBeUndefined();
    }
    expect(runFailure(summary({ status: 'crashed' }), [])).toEqual({ status: 'crashed', lines: [] });
  });

  it("says the exit reason, and the log's error lines without the ones that repeat it", () => {
    const reason = 'q.yaml:10:15: model_loader failed: model.base_model: no folder /m';
    const log = [
      '[dumbo] run folder: /runs/1',
      '[dumbo] backend: cpu',
      '[trainer] warning: slow',
      '[trainer] error: cannot read /data.jsonl',
      'TypeError: x is undefined',
      '    at step (trainer.js:10:3)',
      `[dumbo] ${reason}`,
      'loss 2.1 at step 3',
    ];
    expect(runFailure(summary({ status: 'failed', exitReason: reason }), log)).toEqual({
      status: 'failed',
      reason,
      lines: ['[trainer] error: cannot read /data.jsonl', 'TypeError: x is undefined', '    at step (trainer.js:10:3)'],
    });
  });

  it('keeps the last error lines of a long log', () => {
    const log = Array.from({ length: FAILURE_LINES + 5 }, (_, i) => `[p] error: ${i}`);
    const failure = runFailure(summary({ status: 'failed' }), log)!;
    expect(failure.lines).toHaveLength(FAILURE_LINES);
    expect(failure.lines.at(-1)).toBe(`[p] error: ${FAILURE_LINES + 4}`);
    expect(failure.reason).toBeUndefined();
  });
});
