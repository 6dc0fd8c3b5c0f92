/**
 * Metrics flow one way: the trainer emits MetricEvents into the registry, which fans them out to every
 * registered MetricsCollector (file logger, TensorBoard, the run's metrics.jsonl, the app's live stream).
 * A collector that throws is reported and skipped for that call; the others still receive the event.
 */

import { sharedState } from './shared.js';
import type { RunLink } from './records.js';
import type { ModelInfo } from './types.js';

export type MetricTags = Record<string, string | number | boolean>;

export class MetricEvent {
  /** Seconds since the epoch, as in metrics.jsonl. */
  readonly timestamp: number;
  constructor(
    readonly name: string,
    readonly value: number,
    readonly step: number,
    readonly tags: MetricTags = {},
    timestamp?: number,
  ) {
    this.timestamp = timestamp ?? Date.now() / 1000;
  }

  /** The metrics.jsonl line for this event (without the newline). */
  toJSON(): { name: string; value: number; step: number; timestamp: number; tags: MetricTags } {
    return { name: this.name, value: this.value, step: this.step, timestamp: this.timestamp, tags: this.tags };
  }
}

export abstract class MetricsCollector {
  abstract logMetric(event: MetricEvent): void | Promise<void>;
  logMetrics(events: readonly MetricEvent[]): void | Promise<void> {
    for (const e of events) void this.logMetric(e);
  }
  logHyperparameters(_params: Record<string, unknown>): void | Promise<void> {}
  logModelInfo(_info: ModelInfo): void | Promise<void> {}
  /** A place the run's output can be seen (a plugin's `ctx.addLink`): the run folder and the app keep it. */
  logLink(_link: RunLink): void | Promise<void> {}
  finalize(): void | Promise<void> {}
}

/** A collector from any copy of the SDK, or a plain object with the same methods. */
export function isMetricsCollector(value: unknown): value is MetricsCollector {
  return typeof value === 'object' && value !== null && typeof (value as MetricsCollector).logMetric === 'function';
}

type CollectorCall = 'logMetrics' | 'logHyperparameters' | 'logModelInfo' | 'logLink' | 'finalize';

export type CollectorErrorHandler = (collector: MetricsCollector, call: CollectorCall, error: unknown) => void;

/**
 * The registry never makes the step wait for a collector: a collector that answers synchronously (the file
 * logger, TensorBoard's buffer, the run host's stream) has the events when `logMetrics` returns; one that
 * returns a promise (a network upload) is not awaited: the events that come while it works wait in its queue, in
 * order, and reach it as one batch when it is done. `flush()` and `finalize()` wait for every queue to drain, so
 * nothing is lost at the end of a run.
 */
export class MetricsRegistry {
  private readonly collectors: MetricsCollector[] = [];
  /** Per collector still working on a batch: the events that came since, in order. */
  private readonly queues = new Map<MetricsCollector, { events: MetricEvent[]; done: Promise<void> }>();
  private errorHandler: CollectorErrorHandler = (c, call, e) => {
    process.stderr.write(`metrics collector ${c.constructor.name}.${call} failed: ${String(e)}\n`);
  };

  /** Registering a collector that is already registered is a no-op. */
  register(collector: MetricsCollector): void {
    if (!isMetricsCollector(collector)) {
      throw new TypeError('register() expects a MetricsCollector (an object with a logMetric method)');
    }
    if (!this.collectors.includes(collector)) this.collectors.push(collector);
  }

  unregister(collector: MetricsCollector): void {
    const i = this.collectors.indexOf(collector);
    if (i >= 0) this.collectors.splice(i, 1);
  }

  getCollectors(): readonly MetricsCollector[] {
    return this.collectors;
  }

  /** Where collector failures are reported (the run host sends them to the run log). */
  onCollectorError(handler: CollectorErrorHandler): void {
    this.errorHandler = handler;
  }

  async logMetric(event: MetricEvent): Promise<void> {
    await this.logMetrics([event]);
  }

  async logMetrics(events: readonly MetricEvent[]): Promise<void> {
    for (const c of [...this.collectors]) this.deliver(c, events);
  }

  /** Resolves once every collector has taken every event logged so far. */
  async flush(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()].map((q) => q.done));
  }

  /** Hands `events` to `c` now, or queues them behind the batch it is still working on. */
  private deliver(c: MetricsCollector, events: readonly MetricEvent[]): void {
    const queued = this.queues.get(c);
    if (queued) {
      queued.events.push(...events);
      return;
    }
    let result: unknown;
    try {
      result = c.logMetrics ? c.logMetrics(events) : defaultLogMetrics(c, events);
    } catch (error) {
      this.errorHandler(c, 'logMetrics', error);
      return;
    }
    if (!(result instanceof Promise)) return;
    const queue: { events: MetricEvent[]; done: Promise<void> } = { events: [], done: Promise.resolve() };
    queue.done = result.then(
      () => this.drain(c, queue),
      (error: unknown) => {
        this.errorHandler(c, 'logMetrics', error);
        return this.drain(c, queue);
      },
    );
    this.queues.set(c, queue);
  }

  /** After a batch: the queued events go as the next batch, or the collector is idle again. */
  private drain(c: MetricsCollector, queue: { events: MetricEvent[] }): void {
    if (this.queues.get(c) !== queue) return; // cleared (a new run) while the batch was out
    this.queues.delete(c);
    const next = queue.events.splice(0);
    if (next.length > 0) this.deliver(c, next);
  }

  async logHyperparameters(params: Record<string, unknown>): Promise<void> {
    await this.each('logHyperparameters', (c) => c.logHyperparameters?.(params));
  }

  async logModelInfo(info: ModelInfo): Promise<void> {
    await this.each('logModelInfo', (c) => c.logModelInfo?.(info));
  }

  async logLink(link: RunLink): Promise<void> {
    await this.each('logLink', (c) => c.logLink?.(link));
  }

  /** Called once after every plugin's `finish`: every queued event is delivered first. */
  async finalize(): Promise<void> {
    await this.flush();
    await this.each('finalize', (c) => c.finalize?.());
  }

  /** Forgets every collector: a new run starts with none. */
  clear(): void {
    this.collectors.length = 0;
    this.queues.clear();
  }

  private async each(call: CollectorCall, fn: (c: MetricsCollector) => unknown): Promise<void> {
    for (const c of [...this.collectors]) {
      try {
        await fn(c);
      } catch (error) {
        this.errorHandler(c, call, error);
      }
    }
  }
}

/** One `logMetric` call per event for a collector without `logMetrics`: synchronous until one returns a promise. */
function defaultLogMetrics(c: MetricsCollector, events: readonly MetricEvent[], from = 0): void | Promise<void> {
  for (let i = from; i < events.length; i++) {
    const result = c.logMetric(events[i]!);
    if (result instanceof Promise) return result.then(() => defaultLogMetrics(c, events, i + 1));
  }
}

/** The process-wide registry, shared by every copy of the SDK. */
export function getMetricsRegistry(): MetricsRegistry {
  const shared = sharedState();
  shared.metricsRegistry ??= new MetricsRegistry();
  return shared.metricsRegistry as MetricsRegistry;
}
