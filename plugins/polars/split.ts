/**
 * Order and split, all seeded (`seed`, else the run's seed) with mulberry32 + Fisher-Yates, so a config gives
 * the same rows on every machine:
 *   1. the rows of `path`, file after file, are shuffled when `shuffle` is on;
 *   2. `limit` keeps the first `limit` of them (a seeded sample when shuffled, the first rows otherwise);
 *   3. `eval_fraction` moves round(n * fraction) of them (at least 1, never all) to `eval`: the first ones of the
 *      seeded permutation of those n rows, so the same rows whether `shuffle` is on or off (without a limit).
 *      With `shuffle` off, both sets keep the file order.
 * (`eval_path` instead gives the evaluation rows from other files, in file order; `limit` does not apply.)
 */
import { Err, Ok, seededPermutation, type Result } from 'dumbo';
import type { Options } from './options.js';
import type { DatasetRow } from './rows.js';

export function orderAndSplit(
  all: readonly DatasetRow[],
  options: Pick<Options, 'shuffle' | 'seed' | 'limit' | 'eval_fraction'>,
): Result<{ train: DatasetRow[]; eval: DatasetRow[] }> {
  // 1-2: order and limit.
  const n = all.length;
  const perm = seededPermutation(n, options.seed);
  const ordered = options.shuffle ? perm.map((i) => all[i]!) : [...all];
  const selected = options.limit !== undefined ? ordered.slice(0, options.limit) : ordered;
  if (options.eval_fraction === 0) return Ok({ train: selected, eval: [] });

  // 3: evaluation split.
  const m = selected.length;
  if (m < 2) return Err(new Error(`dataset.eval_fraction: ${m} row is too few to split off an evaluation set`));
  const k = Math.min(m - 1, Math.max(1, Math.round(m * options.eval_fraction)));
  if (options.shuffle) return Ok({ train: selected.slice(k), eval: selected.slice(0, k) });
  const held = new Set((m === n ? perm : seededPermutation(m, options.seed)).slice(0, k));
  return Ok({ train: selected.filter((_, i) => !held.has(i)), eval: selected.filter((_, i) => held.has(i)) });
}
