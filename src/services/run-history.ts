/**
 * What the app shows of a run, read from its folder (src/shared/run-files.ts names the files): the summary
 * from run.json (its time the sum of its parts when it was resumed) with the history's columns from
 * metrics.jsonl (best and final eval loss, tokens/s), the charts from metrics.jsonl, the hook trace from
 * trace.jsonl, the tail of log.txt and log_model's info. Lines cut by a crash are skipped; every field that
 * came from plugin code is checked.
 *
 * Who may import it: src/services only. Imports host (the run record's type) and the shared API types.
 */

import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RunRecord } from '../host/run-folder.js';
import type { MetricPoint, ModelInfoView, RunDetail, RunSummary, TraceRow } from '../shared/api.js';
import { runFiles } from '../shared/run-files.js';

const LOG_TAIL_LINES = 500;
const TRACE_ROWS = 5000;
/** A run's config.yaml larger than this is not sent to the UI (it is a config, not a dataset). */
const MAX_CONFIG_BYTES = 1 << 20;

/** A run's charts, hook trace (its last rows) and log tail, from its folder. */
export function readRunEvents(folder: string): Pick<RunDetail, 'metrics' | 'trace' | 'log'> {
  const files = runFiles(folder);
  return {
    metrics: readJsonl(files.metrics)
      .map(metricPoint)
      .filter((p): p is MetricPoint => p !== undefined),
    trace: readJsonl(files.trace)
      .slice(-TRACE_ROWS)
      .map((r) => traceRow(r as Record<string, unknown>)),
    log: tailLines(files.log, LOG_TAIL_LINES),
  };
}

/** The run folder's config.yaml (the config as the run resolved it), unless missing or too large. */
export function readConfigText(folder: string): string | undefined {
  try {
    const text = readFileSync(runFiles(folder).config);
    return text.length <= MAX_CONFIG_BYTES ? text.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long a run ran, in seconds: the sum of its parts (the first start to the first end, each resume to
 * the next end), not the last end minus the first start, which would count the time it lay stopped. A part
 * whose end was not recorded (a run from before resumes recorded it) ends when the next part began. A run
 * still going (no end) runs until `now`; without `now`, an unended run has no duration.
 */
export function runDurationS(
  record: Pick<RunRecord, 'startedAt' | 'endedAt' | 'resumes'>,
  now?: number,
): number | undefined {
  const end = record.endedAt ? Date.parse(record.endedAt) : now;
  const start = Date.parse(record.startedAt);
  if (end === undefined || !Number.isFinite(start) || !Number.isFinite(end)) return undefined;
  let total = 0;
  let partStart = start;
  for (const r of record.resumes ?? []) {
    const at = Date.parse(r.at);
    if (!Number.isFinite(at)) continue;
    const partEnd = r.previousEndedAt ? Date.parse(r.previousEndedAt) : at;
    if (Number.isFinite(partEnd)) total += Math.max(0, partEnd - partStart);
    partStart = at;
  }
  return (total + Math.max(0, end - partStart)) / 1000;
}

/** The history's columns read from a run's metrics. */
export interface MetricStats {
  bestEvalLoss?: number;
  finalEvalLoss?: number;
  /** The median of the steps' tokens/s: a few slow first steps (compilation, warm-up) do not pull it down. */
  tokensPerS?: number;
}

const statsCache = new Map<string, { size: number; mtimeMs: number; stats: MetricStats }>();

/** A run's eval loss (best, final) and tokens/s, read again only when metrics.jsonl changed. */
export function metricStats(folder: string): MetricStats {
  const file = runFiles(folder).metrics;
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = statSync(file));
  } catch {
    statsCache.delete(folder);
    return {};
  }
  const cached = statsCache.get(folder);
  if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.stats;
  const evals: number[] = [];
  const rates: number[] = [];
  for (const p of readJsonl(file).map(metricPoint)) {
    if (!p || !Number.isFinite(p.value)) continue;
    if (p.name === 'eval/loss') evals.push(p.value);
    else if (p.name === 'tokens_per_s') rates.push(p.value);
  }
  const stats: MetricStats = {};
  if (evals.length > 0) [stats.bestEvalLoss, stats.finalEvalLoss] = [Math.min(...evals), evals[evals.length - 1]];
  if (rates.length > 0) stats.tokensPerS = median(rates);
  statsCache.set(folder, { size, mtimeMs, stats });
  return stats;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summaryFromRecord(id: string, folder: string, record: RunRecord | undefined): RunSummary {
  const s: RunSummary = {
    id,
    name: record?.name ?? path.basename(folder),
    runFolder: folder,
    configFile: record?.configFile ?? '',
    status: record?.status ?? 'pending',
  };
  if (!record) return s;
  if (record.configSource) s.configSource = record.configSource;
  if (record.startedAt) s.startedAt = record.startedAt;
  if (record.endedAt) s.endedAt = record.endedAt;
  if (record.startedAt) {
    const duration = runDurationS(record);
    if (duration !== undefined) s.durationS = duration;
  }
  if (record.finalLoss !== undefined) s.finalLoss = record.finalLoss;
  if (record.steps !== undefined) s.steps = record.steps;
  if (record.backend) s.backend = record.backend;
  if (record.backendReason) s.backendReason = record.backendReason;
  if (record.backendDevice) s.backendDevice = record.backendDevice;
  if (record.exitReason) s.exitReason = record.exitReason;
  return Object.assign(s, metricStats(folder));
}

export function traceRow(e: Record<string, unknown> | { hook: string }): TraceRow {
  const r = e as Record<string, unknown>;
  const row: TraceRow = {
    hook: String(r.hook ?? ''),
    plugin: String(r.plugin ?? ''),
    start: Number(r.start ?? 0),
    durationMs: Number(r.durationMs ?? 0),
    ok: r.ok === true,
  };
  if (typeof r.error === 'string') row.error = r.error;
  return row;
}

function metricPoint(v: unknown): MetricPoint | undefined {
  const r = v as Record<string, unknown>;
  if (typeof r?.name !== 'string' || typeof r.value !== 'number' || typeof r.step !== 'number') return undefined;
  return { name: r.name, value: r.value, step: r.step, timestamp: typeof r.timestamp === 'number' ? r.timestamp : 0 };
}

function readJsonl(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut by a crash
    }
  }
  return out;
}

/** The last `n` lines of a text file, reading at most its last 512 KB. */
function tailLines(file: string, n: number): string[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 512 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    if (len < size) lines.shift(); // a partial first line
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** log_model's info as the app shows it (fields checked: it comes from plugin code). */
export function modelView(info: Record<string, unknown> | undefined): ModelInfoView | undefined {
  if (!info || typeof info.architecture !== 'string') return undefined;
  const view: ModelInfoView = { architecture: info.architecture };
  for (const k of ['layers', 'parametersTotal', 'parametersTrainable', 'bytes', 'vocabSize', 'maxPositions'] as const) {
    const v = num(info[k]);
    if (v !== undefined) view[k] = v;
  }
  if (typeof info.dtype === 'string') view.dtype = info.dtype;
  if (typeof info.backend === 'string') view.backend = info.backend;
  if (Array.isArray(info.tensors)) {
    view.tensors = info.tensors
      .filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null)
      .map((t) => ({
        name: String(t.name ?? ''),
        shape: Array.isArray(t.shape) ? t.shape.map(Number) : [],
        parameters: num(t.parameters) ?? 0,
        trainable: t.trainable !== false,
      }));
  }
  const tok = info.tokenizer as Record<string, unknown> | undefined;
  if (tok && typeof tok === 'object' && num(tok.vocabSize) !== undefined) {
    const special: Record<string, string> = {};
    for (const [k, v] of Object.entries((tok.specialTokens as Record<string, unknown>) ?? {})) {
      if (typeof v === 'string') special[k] = v;
    }
    view.tokenizer = { vocabSize: num(tok.vocabSize)!, specialTokens: special };
  }
  return view;
}
