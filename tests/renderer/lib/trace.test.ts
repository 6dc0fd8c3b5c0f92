import { describe, expect, it } from 'vitest';
import { collapseTrace, filterTrace, traceHooks, tracePlugins } from '../../../src/renderer/src/lib/trace.js';
import type { TraceRow } from '../../../src/shared/api.js';

let clock = 0;
const row = (hook: string, plugin: string, durationMs = 1, error?: string): TraceRow => ({
  hook,
  plugin,
  start: clock++,
  durationMs,
  ok: error === undefined,
  ...(error === undefined ? {} : { error }),
});

describe('the hook trace', () => {
  it('folds a stretch of log_step calls into one row per plugin, with the count, time and longest call', () => {
    const rows = [
      row('model_loader', 'transformers'),
      row('log_step', 'console', 1),
      row('log_step', 'tensorboard', 2),
      row('log_step', 'console', 3),
      row('log_step', 'tensorboard', 4),
      row('log_step', 'console', 5),
      row('log_training_end', 'console'),
    ];
    const groups = collapseTrace(rows);
    expect(groups.map((g) => [g.hook, g.plugin, g.count])).toEqual([
      ['model_loader', 'transformers', 1],
      ['log_step', 'console', 3],
      ['log_step', 'tensorboard', 2],
      ['log_training_end', 'console', 1],
    ]);
    expect(groups[1]).toMatchObject({ totalMs: 9, maxMs: 5, ok: true, start: 1 });
  });

  it('starts a new stretch after another hook, and never folds a failed call', () => {
    const rows = [
      row('log_step', 'console'),
      row('log_step', 'console'),
      row('evaluate', 'trainer'),
      row('log_step', 'console'),
      row('log_step', 'console', 1, 'disk full'),
      row('log_step', 'console'),
    ];
    expect(collapseTrace(rows).map((g) => [g.hook, g.count, g.error])).toEqual([
      ['log_step', 2, undefined],
      ['evaluate', 1, undefined],
      ['log_step', 1, undefined],
      ['log_step', 1, 'disk full'],
      ['log_step', 1, undefined],
    ]);
  });

  it('keeps other hooks called many times in a row as they are', () => {
    const rows = [row('on_save', 'a'), row('on_save', 'a')];
    expect(collapseTrace(rows).map((g) => g.count)).toEqual([1, 1]);
  });

  it('narrows the rows to a hook, a plugin or both; an empty filter keeps all', () => {
    const rows = [row('log_step', 'console'), row('log_step', 'tb'), row('log_init', 'console')];
    expect(filterTrace(rows, { hook: 'log_step' })).toEqual(rows.slice(0, 2));
    expect(filterTrace(rows, { plugin: 'console' })).toEqual([rows[0], rows[2]]);
    expect(filterTrace(rows, { hook: 'log_step', plugin: 'tb' })).toEqual([rows[1]]);
    expect(filterTrace(rows, { hook: '', plugin: '' })).toEqual(rows);
  });

  it('lists the hooks and plugins of the trace once each, in the order they first ran', () => {
    const rows = [row('log_init', 'console'), row('log_step', 'tb'), row('log_step', 'console')];
    expect(traceHooks(rows)).toEqual(['log_init', 'log_step']);
    expect(tracePlugins(rows)).toEqual(['console', 'tb']);
  });
});
