/**
 * Curves of several runs on one chart: a metric's points as x/y (x the step, or the minutes since the run's
 * first point), smoothed as TensorBoard smooths — an exponential moving average whose start is de-biased,
 * so that the first points are not pulled towards zero. Pure functions, used by the history store.
 */

import type { MetricPoint } from '../../../shared/api.js';

export type XAxis = 'step' | 'time';
export interface XY {
  x: number;
  y: number;
}

/**
 * TensorBoard's smoothing: `weight` 0 leaves the values as they are, 0.99 smooths hard. A value that is not
 * finite is kept and does not enter the average.
 */
export function emaSmooth(values: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    count++;
    return w === 0 ? v : last / (1 - w ** count);
  });
}

/** The points of a metric as x/y: by step, or by minutes since the first point of the metric. */
export function toXY(points: readonly MetricPoint[], xAxis: XAxis): XY[] {
  const t0 = points[0]?.timestamp ?? 0;
  return points.map((p) => ({ x: xAxis === 'step' ? p.step : (p.timestamp - t0) / 60, y: p.value }));
}

/** The same points with their y smoothed. */
export function smoothXY(points: readonly XY[], weight: number): XY[] {
  const ys = emaSmooth(
    points.map((p) => p.y),
    weight,
  );
  return points.map((p, i) => ({ x: p.x, y: ys[i]! }));
}
