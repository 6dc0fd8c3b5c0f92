import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getMetricsRegistry, MetricEvent, standaloneContext, type PluginConfig } from '../../src/core/index.js';
import { FileLoggingPlugin } from '../../plugins/file_logger/index.js';
import { ConsoleLoggerPlugin, renderProgress } from '../../plugins/console_logger/index.js';
import { tempDir } from '../helpers.js';

describe('file_logger', () => {
  it('writes one line per metric with its timestamp, plus hyperparameters and model info, inside the run folder', async () => {
    const runFolder = tempDir();
    const ctx = standaloneContext('file_logging_plugin', { runFolder });
    const plugin = new FileLoggingPlugin();
    const hooks = plugin.hooks();
    expect((await hooks.log_init!({ log_path: 'logs/train.log' } as PluginConfig, ctx)).ok).toBe(true);
    const collector = (await hooks.metrics_collector!(ctx)).unwrap();
    const registry = getMetricsRegistry();
    expect(registry.getCollectors()).toContain(collector);
    registry.register(collector); // the framework registers it again: a no-op
    expect(registry.getCollectors().filter((c) => c === collector)).toHaveLength(1);
    await registry.logHyperparameters({ lr: 0.001 });
    await registry.logModelInfo({ architecture: 'GPT2LMHeadModel', parametersTotal: 100 });
    await registry.logMetrics([
      new MetricEvent('loss', 2.5, 1, {}, 1700000000),
      new MetricEvent('lr', 0.000123456789, 1, { group: 0 }, 1700000000.5),
    ]);
    expect((await hooks.finish!(ctx)).ok).toBe(true);
    registry.clear();
    const lines = readFileSync(path.join(runFolder, 'logs/train.log'), 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z hyperparameters \{"lr":0\.001\}$/);
    expect(lines[1]).toMatch(/ model_info \{"architecture":"GPT2LMHeadModel","parametersTotal":100\}$/);
    expect(lines.slice(2)).toEqual([
      '2023-11-14T22:13:20.000Z step=1 loss=2.50000',
      '2023-11-14T22:13:20.500Z step=1 lr=0.000123457 {"group":0}',
    ]);
  });

  it('reports a log file it cannot open as an Err', async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'blocker'), '');
    const ctx = standaloneContext('file_logging_plugin', { runFolder: dir });
    const r = await new FileLoggingPlugin().hooks().log_init!({ log_path: 'blocker/x.log' }, ctx);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : (r.error as Error).message).toMatch(/^cannot open log file .*blocker\/x\.log: /);
  });
});

describe('console_logger', () => {
  it('renders a bar with steps, loss, rate and ETA', () => {
    expect(renderProgress(25, 100, 10, 1.23456, 80)).toBe(
      ' 25% [########.........................] 25/100 loss 1.2346 2.50 it/s ETA 00:30',
    );
    expect(renderProgress(3, undefined, 1.5, undefined)).toBe('step 3 2.00 it/s 00:02');
  });

  it('draws in place on a terminal and prints the end of training', async () => {
    const out: string[] = [];
    const plugin = new ConsoleLoggerPlugin();
    plugin.stream = { isTTY: true, columns: 100, write: (t: string) => out.push(t) };
    const h = plugin.hooks();
    h.log_init({ refresh_ms: 0 });
    h.log_model({ architecture: 'GPT2LMHeadModel', parametersTotal: 1_500_000, parametersTrainable: 20_000 });
    h.log_training_start();
    h.log_step({ step: 1, totalSteps: 2, loss: 3 });
    h.log_step({ step: 2, totalSteps: 2, loss: 2 });
    h.log_training_end({ steps: 2, finalLoss: 2 });
    h.finish();
    const text = out.join('');
    expect(text).toContain('model: GPT2LMHeadModel, 1.50M parameters (20.0k trainable)\n');
    expect(text).toContain('\r\x1b[2K 50% [');
    expect(text).toContain('2/2 loss 2.0000');
    expect(text).toMatch(/finished after 2 steps in 00:00, final loss 2\.0000\n$/);
  });

  it('is quiet when not a terminal', () => {
    const out: string[] = [];
    const plugin = new ConsoleLoggerPlugin();
    plugin.stream = { isTTY: false, write: (t: string) => out.push(t) };
    const h = plugin.hooks();
    h.log_training_start();
    h.log_step({ step: 1, totalSteps: 2, loss: 3 });
    h.log_training_end({ steps: 1 });
    h.finish();
    expect(out).toEqual([]);
  });
});
