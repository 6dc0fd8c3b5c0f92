import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../../src/shared/api.js';
import { appendPoints, mergeHistory, seriesOf } from '../../../src/renderer/src/lib/series.js';

const p = (step: number, value = step, name = 'loss'): MetricPoint => ({ name, value, step, timestamp: step });

describe('metric series', () => {
  it('groups points by metric, in step order, appending to the same arrays', () => {
    const series = seriesOf([p(1), p(1, 0.1, 'lr')]);
    const loss = series.get('loss');
    appendPoints(series, [p(2), p(3)]);
    expect(series.get('loss')).toBe(loss);
    expect(series.get('loss')!.map((q) => q.step)).toEqual([1, 2, 3]);
    expect(series.get('lr')!.length).toBe(1);
  });

  it('drops an exact repeat of the last point', () => {
    const series = seriesOf([p(1), p(2)]);
    appendPoints(series, [p(2)]);
    expect(series.get('loss')!.length).toBe(2);
  });

  it('cuts the series, into a new array, when a resumed run goes back to an earlier step', () => {
    const series = seriesOf([p(1), p(2), p(3), p(4)]);
    const before = series.get('loss');
    appendPoints(series, [p(3, 9)]);
    expect(series.get('loss')).not.toBe(before);
    expect(series.get('loss')!.map((q) => [q.step, q.value])).toEqual([
      [1, 1],
      [2, 2],
      [3, 9],
    ]);
  });

  it('puts the recorded history under the live points that came after it', () => {
    const live = seriesOf([p(5), p(6)]);
    const merged = mergeHistory(live, [p(1), p(2), p(3), p(4), p(5)]);
    expect(merged.get('loss')!.map((q) => q.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
