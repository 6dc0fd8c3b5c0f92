/**
 * The hook trace as the run panel shows it: narrowed to one hook and/or one plugin, and with runs of
 * `log_step` calls (one per step, per logger) folded into a row per plugin with a count, so that the
 * hooks that ran once — loading, formatting, the end — are not pushed out of sight by thousands of steps.
 */

import type { TraceRow } from '../../../shared/api.js';

/** A trace row standing for `count` consecutive calls of one hook by one plugin (1: the call itself). */
export interface TraceGroup {
  hook: string;
  plugin: string;
  count: number;
  /** The calls' time together, and the longest one. */
  totalMs: number;
  maxMs: number;
  ok: boolean;
  error?: string;
  /** When the first call of the group started (ms since the epoch). */
  start: number;
}

/** The hook whose repeated calls are folded: it runs every step. */
export const REPEATED_HOOK = 'log_step';

export interface TraceFilter {
  /** Only this hook ('' or absent: every hook). */
  hook?: string;
  /** Only this plugin ('' or absent: every plugin). */
  plugin?: string;
}

/** The distinct values of a field, in order of first appearance. */
function distinct(rows: readonly TraceRow[], field: 'hook' | 'plugin'): string[] {
  return [...new Set(rows.map((r) => r[field]))];
}

export const traceHooks = (rows: readonly TraceRow[]) => distinct(rows, 'hook');
export const tracePlugins = (rows: readonly TraceRow[]) => distinct(rows, 'plugin');

export function filterTrace(rows: readonly TraceRow[], filter: TraceFilter): TraceRow[] {
  return rows.filter((r) => (!filter.hook || r.hook === filter.hook) && (!filter.plugin || r.plugin === filter.plugin));
}

function single(row: TraceRow): TraceGroup {
  const group: TraceGroup = {
    hook: row.hook,
    plugin: row.plugin,
    count: 1,
    totalMs: row.durationMs,
    maxMs: row.durationMs,
    ok: row.ok,
    start: row.start,
  };
  if (row.error !== undefined) group.error = row.error;
  return group;
}

/**
 * Rows in call order to groups in call order: each stretch of successful `log_step` calls (several loggers
 * take turns in it) becomes one group per plugin, in the order the plugins first appear in the stretch. A
 * failed call is never folded: its error stays on its own row.
 */
export function collapseTrace(rows: readonly TraceRow[]): TraceGroup[] {
  const out: TraceGroup[] = [];
  /** The groups of the current stretch of log_step calls, by plugin. */
  let stretch = new Map<string, TraceGroup>();
  for (const row of rows) {
    if (row.hook !== REPEATED_HOOK || !row.ok) {
      stretch = new Map();
      out.push(single(row));
      continue;
    }
    const group = stretch.get(row.plugin);
    if (group) {
      group.count++;
      group.totalMs += row.durationMs;
      group.maxMs = Math.max(group.maxMs, row.durationMs);
    } else {
      const created = single(row);
      stretch.set(row.plugin, created);
      out.push(created);
    }
  }
  return out;
}
