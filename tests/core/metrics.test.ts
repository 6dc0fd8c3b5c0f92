import { describe, expect, it } from 'vitest';
import {
  checkRunLink,
  getMetricsRegistry,
  MetricEvent,
  MetricsCollector,
  MetricsRegistry,
  standaloneContext,
  withRunLink,
  type RunLink,
} from '../../src/core/index.js';

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

describe('the registry under a slow collector', () => {
  /** A collector whose every batch waits until the test releases it. */
  class Gated extends MetricsCollector {
    batches: number[][] = [];
    releases: (() => void)[] = [];
    finalized = false;
    logMetric(e: MetricEvent) {
      return this.logMetrics([e]);
    }
    override logMetrics(events: readonly MetricEvent[]): Promise<void> {
      this.batches.push(events.map((e) => e.step));
      return new Promise((resolve) => this.releases.push(resolve));
    }
    finalize() {
      this.finalized = true;
    }
  }

  it('never waits for it: events queue behind its batch, in order, and go as one batch; flush and finalize drain', async () => {
    const r = new MetricsRegistry();
    const slow = new Gated();
    const quick = new Recorder();
    r.register(slow);
    r.register(quick);
    await r.logMetrics([new MetricEvent('loss', 1, 1)]); // returns with the slow batch still open
    await r.logMetrics([new MetricEvent('loss', 2, 2), new MetricEvent('loss', 3, 3)]);
    await r.logMetrics([new MetricEvent('loss', 4, 4)]);
    expect(slow.batches).toEqual([[1]]);
    expect(quick.events.map((e) => e.step)).toEqual([1, 2, 3, 4]); // a synchronous collector has them at once
    let flushed = false;
    const flushing = r.flush().then(() => (flushed = true));
    slow.releases.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(slow.batches).toEqual([[1], [2, 3, 4]]);
    expect(flushed).toBe(false);
    const finalizing = r.finalize();
    slow.releases.shift()!();
    await Promise.all([flushing, finalizing]);
    expect(slow.finalized).toBe(true);
    expect(slow.batches.flat()).toEqual([1, 2, 3, 4]);
  });

  it('reports a failed batch and goes on with the next', async () => {
    const r = new MetricsRegistry();
    const failures: string[] = [];
    r.onCollectorError((_c, call, e) => failures.push(`${call}: ${String(e)}`));
    const got: number[] = [];
    let calls = 0;
    r.register(
      new (class extends MetricsCollector {
        logMetric(e: MetricEvent) {
          return this.logMetrics([e]);
        }
        override async logMetrics(events: readonly MetricEvent[]) {
          if (calls++ === 0) throw new Error('upload failed');
          for (const e of events) got.push(e.step);
        }
      })(),
    );
    await r.logMetrics([new MetricEvent('loss', 1, 1)]);
    await r.logMetrics([new MetricEvent('loss', 2, 2)]);
    await r.flush();
    expect(failures).toEqual(['logMetrics: Error: upload failed']);
    expect(got).toEqual([2]);
  });

  it("the benchmark's load (100,000 events a second) reaches a collector taking 50 ms a call without loss, in order", async () => {
    const { metricsLoad } = await import('../../src/bench/metrics-load.js');
    const load = await metricsLoad(100_000, 0.3, 50);
    expect(load.emitted).toBeGreaterThan(1000);
    expect(load.delivered).toBe(load.emitted);
    expect(load.inOrder).toBe(true);
    expect(load.batches).toBeLessThan(load.emitted); // batched while it worked
  });
});

describe("a plugin's links (ctx.addLink)", () => {
  class LinkRecorder extends MetricsCollector {
    links: RunLink[] = [];
    logMetric() {}
    logLink(link: RunLink) {
      this.links.push(link);
    }
  }

  it('reach every collector checked, without unknown fields; a later link with the same label replaces the earlier', () => {
    const registry = getMetricsRegistry();
    const recorder = new LinkRecorder();
    registry.register(recorder);
    try {
      const ctx = standaloneContext('wandb');
      const page = { label: 'W&B', url: 'https://wandb.ai/me/proj/runs/abc', extra: 1 } as RunLink;
      ctx.addLink(page);
      ctx.addLink({
        label: 'TensorBoard',
        path: '/runs/x/tensorboard',
        hint: 'tensorboard --logdir /runs/x/tensorboard',
      });
      expect(recorder.links).toEqual([
        { label: 'W&B', url: 'https://wandb.ai/me/proj/runs/abc' },
        { label: 'TensorBoard', path: '/runs/x/tensorboard', hint: 'tensorboard --logdir /runs/x/tensorboard' },
      ]);
      const replaced = withRunLink(recorder.links, { label: 'W&B', path: '/runs/x/wandb' });
      expect(replaced.map((l) => [l.label, l.url ?? l.path])).toEqual([
        ['TensorBoard', '/runs/x/tensorboard'],
        ['W&B', '/runs/x/wandb'],
      ]);
    } finally {
      registry.unregister(recorder);
    }
  });

  it("refuses a malformed link with a TypeError naming what is wrong: the plugin's mistake, found where it is made", () => {
    const ctx = standaloneContext('p');
    expect(() => ctx.addLink({ label: '', url: 'https://x' })).toThrow('addLink: label must be a non-empty string');
    expect(() => ctx.addLink({ label: 'a' })).toThrow('addLink: give exactly one of url and path');
    expect(() => ctx.addLink({ label: 'a', url: 'https://x', path: '/x' })).toThrow('give exactly one of url and path');
    expect(() => ctx.addLink({ label: 'a', url: 'javascript:alert(1)' })).toThrow(
      'addLink: url must be an http:// or https:// address (got {"label":"a","url":"javascript:alert(1)"})',
    );
    expect(checkRunLink({ label: 'a', url: 'http://127.0.0.1:6006/' })).toEqual({
      label: 'a',
      url: 'http://127.0.0.1:6006/',
    });
  });
});
