/**
 * The run folder (DESIGN.md section 5): config.yaml (resolved), run.json (status and reproducibility
 * record), metrics.jsonl, trace.jsonl, log.txt; later checkpoints/ and final/. JSON files are written
 * atomically (temporary name, then rename); the .jsonl and log files are appended line by line, so a crash
 * loses at most the line being written.
 */

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { DumboError, MetricsCollector, type MetricEvent, type RunStatus, type LoadedPlugin } from '../core/index.js';

export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Appends lines to a file through one open descriptor. */
export class LineWriter {
  private fd: number | undefined;
  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }
  write(line: string): void {
    if (this.fd !== undefined) writeSync(this.fd, line + '\n');
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** metrics.jsonl: one line per MetricEvent, every event. */
export class JsonlMetricsCollector extends MetricsCollector {
  constructor(private readonly writer: LineWriter) {
    super();
  }
  logMetric(event: MetricEvent): void {
    this.writer.write(
      JSON.stringify({
        name: event.name,
        value: event.value,
        step: event.step,
        timestamp: event.timestamp,
        tags: event.tags,
      }),
    );
  }
}

export interface PluginRecord {
  name: string;
  className: string;
  configKey: string;
  version?: string;
  source: string;
  location: string;
  /** sha256 of the plugin's files (its folder without node_modules, or its module file). */
  hash: string;
}

export interface RunRecord {
  name: string;
  status: RunStatus;
  configFile: string;
  runFolder: string;
  startedAt: string;
  endedAt?: string;
  exitCode?: number;
  /** `completed`, `stopped by the user`, or the error that ended the run. */
  exitReason?: string;
  finalLoss?: number;
  steps?: number;
  backend?: string;
  backendReason?: string;
  /** The device the backend runs on (`nvidia nvidia-h200`), for WebGPU. */
  backendDevice?: string;
  /** The WebGPU adapter: vendor, architecture, device, description, hardware or not, limits, features. */
  adapter?: Record<string, unknown>;
  /** The resume_from of the config, when this run continued an earlier one. */
  resumeFrom?: string;
  versions: { dumbo: string; node: string; tfjs?: string; plugins: PluginRecord[] };
  observerFailures: { hook: string; plugin: string; error: string }[];
  /** The run host's process id and machine: a 'running' run whose process is gone has crashed. */
  pid?: number;
  host?: string;
  /** What `log_model` received (architecture, parameters, tensors...). */
  model?: Record<string, unknown>;
}

function timestampName(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function runName(configFile: string, configName?: string): string {
  const base = configName ?? path.basename(configFile).replace(/\.ya?ml$/i, '');
  return base.replace(/[^\w.-]+/g, '-') || 'run';
}

/**
 * Where the run goes: `--output` (the folder itself), else the config's `output_dir` (relative to the config
 * file), else `runs/<date>-<name>` under the working directory (with -2, -3... if taken).
 */
export function chooseRunFolder(opts: {
  outputDir?: string;
  configOutputDir?: string;
  configDir: string;
  cwd: string;
  /** Where default run folders go (default `<cwd>/runs`). */
  runsDir?: string;
  name: string;
  now?: Date;
}): string {
  if (opts.outputDir) return path.resolve(opts.cwd, opts.outputDir);
  if (opts.configOutputDir) return path.resolve(opts.configDir, opts.configOutputDir);
  const runsDir = opts.runsDir ? path.resolve(opts.cwd, opts.runsDir) : path.join(opts.cwd, 'runs');
  const base = path.join(runsDir, `${timestampName(opts.now ?? new Date())}-${opts.name}`);
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

/**
 * Creates the run folder. A folder that already holds a run (run.json) is never reused: nothing of an
 * earlier run is overwritten.
 */
export function createRunFolder(dir: string, options: { resume?: boolean } = {}): void {
  // Resuming continues in the same folder: its checkpoints are what resume_from: latest reads, and new
  // metrics, trace and log lines are appended after the old ones.
  if (!options.resume && existsSync(path.join(dir, 'run.json'))) {
    throw new DumboError(
      `the run folder ${dir} already holds a run (run.json); choose another --output or output_dir, or set resume_from`,
      { location: { file: dir } },
    );
  }
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new DumboError(`the run folder ${dir} is a file, not a folder`, { location: { file: dir } });
  }
  mkdirSync(dir, { recursive: true });
}

export function writeResolvedConfig(dir: string, data: unknown): void {
  writeFileAtomic(path.join(dir, 'config.yaml'), stringify(data));
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
}

/**
 * Records that a run's host ended without saying how (killed, crashed, out of memory): status `crashed`
 * (or `stopped` when it was killed after a stop request) with the reason, keeping everything in the folder.
 * A run that already ended (completed, failed, stopped) is left as it is.
 */
export function markRunEnded(runFolder: string, status: 'crashed' | 'stopped', reason: string): RunRecord | undefined {
  const record = readRunRecord(runFolder);
  if (!record || record.status === 'completed' || record.status === 'failed' || record.status === 'stopped') {
    return record;
  }
  record.status = status;
  record.endedAt = new Date().toISOString();
  record.exitReason = reason;
  writeRunRecord(runFolder, record);
  return record;
}

export function readRunRecord(dir: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

/** sha256 over a plugin's files (sorted relative paths and contents; node_modules skipped). */
export function hashPluginFiles(location: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const abs = path.join(dir, entry.name);
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(abs, r);
      else if (entry.isFile()) {
        hash.update(r + '\0');
        hash.update(readFileSync(abs));
        hash.update('\0');
      }
    }
  };
  try {
    if (statSync(location).isDirectory()) walk(location, '');
    else hash.update(readFileSync(location));
  } catch {
    return 'unreadable';
  }
  return hash.digest('hex');
}

export function pluginRecords(plugins: readonly LoadedPlugin[]): PluginRecord[] {
  const hashes = new Map<string, string>();
  return plugins.map((p) => {
    const loc = p.source.location;
    if (!hashes.has(loc)) hashes.set(loc, hashPluginFiles(loc));
    return {
      name: p.meta.name,
      className: p.meta.className,
      configKey: p.meta.configKey,
      version: p.meta.version,
      source: p.source.kind,
      location: loc,
      hash: hashes.get(loc)!,
    };
  });
}
