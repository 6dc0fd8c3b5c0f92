// The progress lines `dumbo run` prints when stderr is not a terminal: when they come, and what they say,
// with a clock of the test's own.
import { describe, expect, it } from 'vitest';
import { ProgressLines } from '../../src/cli/run-command.js';
import { MetricEvent } from '../../src/core/index.js';

function progress(every: number, intervalMs = 10_000) {
  const lines: string[] = [];
  let now = 0;
  const p = new ProgressLines(
    (l) => lines.push(l),
    every,
    intervalMs,
    () => now,
  );
  const step = (n: number, atMs: number, total = 100) => {
    now = atMs;
    p.onMessage({
      type: 'metrics',
      events: [new MetricEvent('loss', 5 - n / 100, n), new MetricEvent('tokens_per_s', 1234.5, n)],
    });
    p.onMessage({ type: 'step', step: n, totalSteps: total });
  };
  return { lines, step };
}

describe('ProgressLines', () => {
  it('prints every N steps and at the last one, with loss, tokens/s and an ETA from the steps seen', () => {
    const { lines, step } = progress(10);
    // One step per second, from step 1.
    for (let n = 1; n <= 100; n++) step(n, n * 1000);
    expect(lines).toHaveLength(10);
    // After step 10: steps 2..10 took 9 s, 1 s a step, 90 steps to go.
    expect(lines[0]).toBe('step 10/100 loss 4.9000 1,234.5 tokens/s ETA 1m30s');
    expect(lines.at(-1)).toBe('step 100/100 loss 4.0000 1,234.5 tokens/s ETA 0s');
  });

  it('a resumed run measures from the first step it sees, and a long step brings a line after 10 s', () => {
    const { lines, step } = progress(50);
    step(41, 0);
    step(42, 20_000); // 20 s after the last line: due though 42 is no multiple of 50
    expect(lines).toEqual(['step 42/100 loss 4.5800 1,234.5 tokens/s ETA 19m20s']);
  });
});
