import { describe, expect, it } from 'vitest';
import { MetricEvent, MetricsCollector, MetricsRegistry, getMetricsRegistry } from '../../src/core/index.js';

class Recorder extends MetricsCollector {
  events: MetricEvent[] = [];
  hparams: Record<string, unknown>[] = [];
  finalized = 0;
  logMetric(e: MetricEvent) {
    this.events.push(e);
  }
  logHyperparameters(p: Record<string, unknown>) {
    this.hparams.push(p);
  }
  finalize() {
    this.finalized++;
  }
}

describe('metrics', () => {
  it('a MetricEvent carries name, value, step, tags and a timestamp in seconds', () => {
    const before = Date.now() / 1000;
    const e = new MetricEvent('loss', 2.5, 7, { split: 'train' });
    expect(e.toJSON()).toMatchObject({ name: 'loss', value: 2.5, step: 7, tags: { split: 'train' } });
    expect(e.timestamp).toBeGreaterThanOrEqual(before - 1);
    expect(e.timestamp).toBeLessThan(before + 5);
    expect(new MetricEvent('lr', 1e-3, 0).tags).toEqual({});
  });

  it('the registry fans every event out to every collector', async () => {
    const r = new MetricsRegistry();
    const a = new Recorder();
    const b = new Recorder();
    r.register(a);
    r.register(b);
    await r.logMetrics([new MetricEvent('loss', 1, 1), new MetricEvent('lr', 0.1, 1)]);
    await r.logHyperparameters({ lr: 0.1 });
    await r.finalize();
    for (const c of [a, b]) {
      expect(c.events.map((e) => e.name)).toEqual(['loss', 'lr']);
      expect(c.hparams).toEqual([{ lr: 0.1 }]);
      expect(c.finalized).toBe(1);
    }
  });

  it('registering a collector twice is a no-op', async () => {
    const r = new MetricsRegistry();
    const a = new Recorder();
    r.register(a);
    r.register(a);
    await r.logMetric(new MetricEvent('loss', 1, 1));
    expect(a.events).toHaveLength(1);
  });

  it('a throwing collector is reported and does not stop the others', async () => {
    const r = new MetricsRegistry();
    const reported: string[] = [];
    r.onCollectorError((_c, call, e) => reported.push(`${call}: ${(e as Error).message}`));
    r.register(
      new (class extends MetricsCollector {
        logMetric(): void {
          throw new Error('disk full');
        }
      })(),
    );
    const ok = new Recorder();
    r.register(ok);
    await r.logMetric(new MetricEvent('loss', 1, 1));
    expect(ok.events).toHaveLength(1);
    expect(reported).toEqual(['logMetrics: disk full']);
  });

  it('the process registry lives on globalThis[Symbol.for("dumbo.sdk")], shared by every SDK copy', () => {
    const registry = getMetricsRegistry();
    const shared = (globalThis as unknown as Record<symbol, { metricsRegistry?: unknown }>)[Symbol.for('dumbo.sdk')];
    expect(shared?.metricsRegistry).toBe(registry);
    expect(getMetricsRegistry()).toBe(registry);
  });
});
