/**
 * How a metric line marks its points: a line of one point draws nothing, and a line of a few points (eval
 * loss at a few steps) reads better with its points marked; a dense line draws plain. Shared by every chart.
 */

/** Lines with fewer points than this have them marked. */
export const SPARSE_POINTS = 25;

/** The point radius (px) of a line of `points` points. */
export function pointRadius(points: number): number {
  if (points === 1) return 4;
  return points > 0 && points < SPARSE_POINTS ? 2.5 : 0;
}
