/**
 * Metrics under load: the registry's fan-out to a slow collector. An emitter logs `rate` events a second in
 * batches every millisecond of `seconds`; the collector takes `delayMs` per call (an upload). What it reports:
 * whether every event arrived, in order, after `flush()`, and how long the emitter spent inside `logMetrics` at
 * most and in all (the step's wait), against the collector's time.
 */

import { MetricEvent, MetricsCollector, MetricsRegistry } from '../core/index.js';

export interface MetricsLoad {
  rate: number;
  seconds: number;
  delayMs: number;
  emitted: number;
  delivered: number;
  inOrder: boolean;
  /** Calls the collector got (batches). */
  batches: number;
  /** The longest single `logMetrics` call of the emitter, in ms. */
  maxEmitMs: number;
  /** All the emitter's time inside `logMetrics`, in ms. */
  totalEmitMs: number;
}

/** A collector that takes `delayMs` per batch, as a network upload would. */
class SlowCollector extends MetricsCollector {
  received: number[] = [];
  batches = 0;
  constructor(private readonly delayMs: number) {
    super();
  }
  logMetric(event: MetricEvent): Promise<void> {
    return this.logMetrics([event]);
  }
  override async logMetrics(events: readonly MetricEvent[]): Promise<void> {
    this.batches++;
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    for (const e of events) this.received.push(e.step);
  }
}

export async function metricsLoad(rate = 100_000, seconds = 10, delayMs = 50): Promise<MetricsLoad> {
  const registry = new MetricsRegistry();
  const slow = new SlowCollector(delayMs);
  registry.register(slow);
  let emitted = 0;
  let maxEmitMs = 0;
  let totalEmitMs = 0;
  const start = performance.now();
  // Every millisecond, the events due by then (a training loop's metrics in bursts).
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    const batch: MetricEvent[] = [];
    for (; emitted < due; emitted++) batch.push(new MetricEvent('load', emitted, emitted));
    const t0 = performance.now();
    await registry.logMetrics(batch);
    const ms = performance.now() - t0;
    maxEmitMs = Math.max(maxEmitMs, ms);
    totalEmitMs += ms;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await registry.flush();
  return {
    rate,
    seconds,
    delayMs,
    emitted,
    delivered: slow.received.length,
    inOrder: slow.received.every((step, i) => step === i),
    batches: slow.batches,
    maxEmitMs,
    totalEmitMs,
  };
}
