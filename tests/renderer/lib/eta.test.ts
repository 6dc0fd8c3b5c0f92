import { describe, expect, it } from 'vitest';
import { addSample, secondsLeft } from '../../../src/renderer/src/lib/eta.js';

describe('time left', () => {
  it('is unknown until progress has been seen twice', () => {
    expect(secondsLeft([{ at: 0, step: 1 }], 100)).toBeUndefined();
  });
  it('follows the recent pace', () => {
    let samples = addSample([], { at: 0, step: 10 });
    samples = addSample(samples, { at: 10_000, step: 20 });
    // 1 step a second, 80 steps to go.
    expect(secondsLeft(samples, 100)).toBeCloseTo(80);
  });
  it('forgets samples older than its window and those from before a resume went back', () => {
    let samples = addSample([], { at: 0, step: 50 });
    samples = addSample(samples, { at: 1000, step: 10 });
    expect(samples).toEqual([{ at: 1000, step: 10 }]);
    samples = addSample(samples, { at: 100_000, step: 20 }, 60_000);
    expect(samples).toEqual([{ at: 100_000, step: 20 }]);
  });
});
