/**
 * Metric series: the points of each metric, by name, in step order. The arrays are plain (not reactive):
 * thousands of points would make Vue's deep proxies costly. Stores keep a map of them in a `shallowRef`
 * and bump a revision number when they change; charts read what is new since their last frame.
 */

import type { MetricPoint } from '../../../shared/api.js';

export type SeriesMap = Map<string, MetricPoint[]>;

/**
 * Appends live points. A point at a step the series already passed means the run went back (resumed from
 * an earlier checkpoint): the series is cut before that step, into a new array, so a chart holding the old
 * one redraws it whole. An exact repeat of the last point is dropped.
 */
export function appendPoints(series: SeriesMap, points: readonly MetricPoint[]): void {
  for (const p of points) {
    const list = series.get(p.name);
    if (!list) {
      series.set(p.name, [p]);
      continue;
    }
    const last = list[list.length - 1];
    if (!last || p.step > last.step) list.push(p);
    else if (p.step === last.step && p.value === last.value) continue;
    else series.set(p.name, [...list.filter((q) => q.step < p.step), p]);
  }
}

/**
 * Puts a run's recorded history (from `getRun`) under what the live stream already brought: the history is
 * the prefix, live points after its last step stay.
 */
export function mergeHistory(series: SeriesMap, history: readonly MetricPoint[]): SeriesMap {
  const recorded: SeriesMap = new Map();
  appendPoints(recorded, history);
  for (const [name, live] of series) {
    const list = recorded.get(name);
    if (!list) recorded.set(name, live);
    else {
      const lastStep = list[list.length - 1]?.step ?? -Infinity;
      for (const p of live) if (p.step > lastStep) list.push(p);
    }
  }
  return recorded;
}

/** Points grouped by metric name. */
export function seriesOf(points: readonly MetricPoint[]): SeriesMap {
  const series: SeriesMap = new Map();
  appendPoints(series, points);
  return series;
}

/** The metric's last value, if any. */
export function lastValue(series: SeriesMap, name: string): number | undefined {
  const list = series.get(name);
  return list?.[list.length - 1]?.value;
}
