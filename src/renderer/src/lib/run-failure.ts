/**
 * Why a run failed or crashed, as the run panel shows it in place of its charts: the exit reason the run
 * host recorded, and the lines of the log that say what went wrong.
 */

import type { RunSummary } from '../../../shared/api.js';

/** Log lines a failure is written in: the logger's `error:` lines, thrown errors and their stack frames. */
const ERROR_LINE = /\b[Ee]rror:|\b[A-Z]\w*Error\b|\b[Ff]ailed\b|\bcrashed\b|^\s+at\s|[Ee]xception/;

/** At most this many error lines are shown (the last ones: the end of a failure says most). */
export const FAILURE_LINES = 20;

export interface RunFailure {
  status: 'failed' | 'crashed';
  /** The exit reason recorded in run.json (absent when the host died before saying). */
  reason?: string;
  /** The log's error lines, the latest FAILURE_LINES of them, the exit reason itself left out. */
  lines: string[];
}

/** The failure of a run that failed or crashed; undefined for any other status. */
export function runFailure(run: RunSummary | undefined, log: readonly string[]): RunFailure | undefined {
  if (!run || (run.status !== 'failed' && run.status !== 'crashed')) return undefined;
  const reason = run.exitReason?.trim() || undefined;
  const lines = log.filter((line) => ERROR_LINE.test(line) && !(reason && line.includes(reason)));
  const failure: RunFailure = { status: run.status, lines: lines.slice(-FAILURE_LINES) };
  if (reason) failure.reason = reason;
  return failure;
}
