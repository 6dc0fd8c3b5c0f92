/**
 * From the run's metric events to W&B's history rows and summary. W&B keeps one history row per step: the
 * events of one step (the training metrics, then the evaluation's at the same step) make one row, closed when
 * an event of another step comes or at the end. Each row carries `_step`, `_runtime` (seconds since the run
 * started) and `_timestamp` (seconds since the epoch), which wandb's SDK adds itself. Values are JSON as wandb
 * writes them: NaN and ±Infinity as the bare words `NaN`, `Infinity`, `-Infinity` (its servers read them;
 * JSON.stringify would write `null`). Imported by run.ts and sync.ts.
 */
import type { MetricEvent } from 'dumbo';
import type { Item } from './records.js';

/** A number as wandb's JSON writes it. */
export function jsonNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return JSON.stringify(value);
}

/** Any value as JSON, its numbers as `jsonNumber` writes them. */
export function jsonValue(value: unknown): string {
  if (typeof value === 'number') return jsonNumber(value);
  if (Array.isArray(value)) return `[${value.map(jsonValue).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${jsonValue(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Reads what `jsonValue` wrote, bare NaN and infinities included. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Only values with NaN/Infinity fail above; they are turned into markers, parsed, and turned back.
    const marked = text.replace(/("(?:[^"\\]|\\.)*")|-?Infinity|NaN/g, (m, str: string | undefined) =>
      str ? m : JSON.stringify(`\u0000${m}`),
    );
    return JSON.parse(marked, (_k, v: unknown) =>
      typeof v === 'string' && v.startsWith('\u0000') ? Number(v.slice(1)) : v,
    );
  }
}

/** Items as one JSON object (a history line, the summary): nested keys become nested objects. */
export function jsonOf(items: readonly Item[]): string {
  const root = new Map<string, unknown>();
  for (const item of items) {
    const keyPath = item.nestedKey?.length ? item.nestedKey : [item.key];
    let node = root;
    for (const k of keyPath.slice(0, -1)) {
      let next = node.get(k);
      if (!(next instanceof Map)) node.set(k, (next = new Map<string, unknown>()));
      node = next as Map<string, unknown>;
    }
    node.set(keyPath.at(-1)!, item.valueJson);
  }
  const write = (node: Map<string, unknown>): string =>
    `{${[...node].map(([k, v]) => `${JSON.stringify(k)}:${v instanceof Map ? write(v) : String(v)}`).join(',')}}`;
  return write(root);
}

/** The same key path (key or nested key) as a string, to merge updates by. */
export function itemPath(item: Item): string {
  return JSON.stringify(item.nestedKey?.length ? item.nestedKey : [item.key]);
}

export interface Row {
  step: number;
  values: Map<string, number>;
  /** The newest event's timestamp, seconds since the epoch. */
  timestamp: number;
}

/** Groups events into rows, one per step, in the order the steps come. */
export class HistoryRows {
  private open: Row | undefined;

  /** Adds events; returns the rows they closed (an event of a new step closes the open row). */
  add(events: readonly MetricEvent[]): Row[] {
    const closed: Row[] = [];
    for (const e of events) {
      if (this.open && this.open.step !== e.step) closed.push(this.open);
      if (!this.open || this.open.step !== e.step) this.open = { step: e.step, values: new Map(), timestamp: 0 };
      // A metric given twice at one step keeps its last value, as wandb's log() does.
      this.open.values.set(e.name, e.value);
      this.open.timestamp = Math.max(this.open.timestamp, e.timestamp);
    }
    return closed;
  }

  /** The open row, closed: at the end of the run. */
  take(): Row | undefined {
    const row = this.open;
    this.open = undefined;
    return row;
  }
}

/** A row's history items: its metrics, then `_step`, `_runtime`, `_timestamp`. */
export function rowItems(row: Row, startTime: number): Item[] {
  const items: Item[] = [...row.values].map(([key, v]) => ({ key, valueJson: jsonNumber(v) }));
  items.push(
    { key: '_step', valueJson: String(row.step) },
    { key: '_runtime', valueJson: jsonNumber(Math.max(0, row.timestamp - startTime)) },
    { key: '_timestamp', valueJson: jsonNumber(row.timestamp) },
  );
  return items;
}

/** The summary update a row makes: its items, and the runtime in whole seconds as `_wandb.runtime`. */
export function summaryItems(row: Row, startTime: number): Item[] {
  const runtime = Math.floor(Math.max(0, row.timestamp - startTime));
  return [...rowItems(row, startTime), { key: '', nestedKey: ['_wandb', 'runtime'], valueJson: String(runtime) }];
}

/** The latest value of every key path of a sequence of summary updates (the run's summary). */
export class Summary {
  private readonly items = new Map<string, Item>();

  update(items: readonly Item[]): void {
    for (const item of items) {
      // Delete first: a key updated moves to the end, as wandb's summary shows the newest last.
      this.items.delete(itemPath(item));
      this.items.set(itemPath(item), item);
    }
  }

  get size(): number {
    return this.items.size;
  }

  json(): string {
    return jsonOf([...this.items.values()]);
  }
}
