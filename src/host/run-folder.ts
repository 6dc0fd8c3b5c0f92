/**
 * The run folder (DESIGN.md section 5): config.yaml (resolved), run.json (status and reproducibility
 * record), metrics.jsonl, trace.jsonl, log.txt; later checkpoints/ and final/. JSON files are written
 * atomically (core's writeFileAtomic); the .jsonl and log files are appended line by line, so a crash loses
 * at most the line being written.
 *
 * A folder has one owner: the run host holding its `.lock` (pid and process start time, checked for life).
 * What the folder may be: a new folder, an empty one, or a run folder being resumed — never a folder of the
 * user's own files. At each start the owner cleans what a killed writer left (temporary checkpoint and
 * final/ folders) and, when resuming, cuts metrics.jsonl and trace.jsonl back to the checkpoint.
 */

import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  DumboError,
  MetricsCollector,
  writeFileAtomic,
  type MetricEvent,
  type RunStatus,
  type LoadedPlugin,
} from '../core/index.js';

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
  /** Each time the run was continued: when, and from which checkpoint (its step). */
  resumes?: { at: string; checkpoint: string; step?: number }[];
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

/** The default run folder of a run named `name`: `runs/<date>-<name>` (`-2`, `-3`... when taken). */
function timestampedFolder(runsDir: string, name: string, now: Date): string {
  const base = path.join(runsDir, `${timestampName(now)}-${name}`);
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

/** The newest run folder of a run named `name` under `runsDir` (by its run.json's start), if any. */
export function newestRunOf(runsDir: string, name: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(runsDir);
  } catch {
    return undefined;
  }
  const pattern = new RegExp(`^\\d{4}-\\d{2}-\\d{2}-\\d{6}-${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-\\d+)?$`);
  return names
    .filter((n) => pattern.test(n))
    .map((n) => ({ dir: path.join(runsDir, n), record: readRunRecord(path.join(runsDir, n)) }))
    .filter((r) => r.record?.startedAt)
    .sort((a, b) => b.record!.startedAt.localeCompare(a.record!.startedAt))[0]?.dir;
}

/**
 * Where the run goes: `--output` (the folder itself), else the config's `output_dir` (relative to the config
 * file), else `runs/<date>-<name>` under the working directory (with -2, -3... if taken). Resuming with
 * `resume_from: latest` and no folder named continues the newest run of that name under the runs folder.
 */
export function chooseRunFolder(opts: {
  outputDir?: string;
  configOutputDir?: string;
  configDir: string;
  cwd: string;
  /** Where default run folders go (default `<cwd>/runs`). */
  runsDir?: string;
  name: string;
  /** The config's resume_from. */
  resumeFrom?: string;
  now?: Date;
}): string {
  if (opts.outputDir) return path.resolve(opts.cwd, opts.outputDir);
  if (opts.configOutputDir) return path.resolve(opts.configDir, opts.configOutputDir);
  const runsDir = opts.runsDir ? path.resolve(opts.cwd, opts.runsDir) : path.join(opts.cwd, 'runs');
  if (opts.resumeFrom === 'latest') {
    const newest = newestRunOf(runsDir, opts.name);
    if (!newest) {
      throw new DumboError(
        `resume_from: latest, but ${runsDir} holds no earlier run named '${opts.name}' to continue ` +
          '(give the run folder with --output or --resume, or remove resume_from to start a new run)',
      );
    }
    return newest;
  }
  return timestampedFolder(runsDir, opts.name, opts.now ?? new Date());
}

/**
 * Creates the run folder, or checks the one given: a new folder, an empty folder, or (resuming) a folder
 * that holds a run. Never a folder of other files (`--output .` would write config.yaml over the user's) nor
 * a run folder that is not being resumed: nothing the user or an earlier run wrote is overwritten.
 */
export function createRunFolder(dir: string, options: { resume?: boolean } = {}): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new DumboError(`the run folder ${dir} is a file, not a folder`, { location: { file: dir } });
  }
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  const holdsRun = entries.includes('run.json');
  if (holdsRun && !options.resume) {
    throw new DumboError(
      `the run folder ${dir} already holds a run (run.json): choose another --output or output_dir, or continue it with --resume`,
      { location: { file: dir } },
    );
  }
  if (!holdsRun && entries.length > 0) {
    const listed = [...entries].sort();
    throw new DumboError(
      `the run folder ${dir} is not empty and holds no run${options.resume ? ' to resume' : ''} ` +
        `(${listed.slice(0, 5).join(', ')}${listed.length > 5 ? ', ...' : ''}): ` +
        'a run goes in a new or empty folder, so that none of your files is overwritten',
      { location: { file: dir } },
    );
  }
  mkdirSync(dir, { recursive: true });
}

// ---------------------------------------------------------------------------------------------------- lock

export const LOCK_FILE = '.lock';

export interface RunLock {
  pid: number;
  host: string;
  /** When the process started (ISO). */
  startedAt: string;
  /** Linux: the process's start time in clock ticks since boot, which tells a reused pid apart. */
  procStart?: string;
}

/** /proc/<pid>/stat's state (field 3) and starttime (field 22), where there is a /proc. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return undefined;
  }
}

function processStart(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** Whether process `pid` runs (a zombie — dead, not yet reaped by its parent — does not). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const state = procStat(pid)?.state;
  return state !== 'Z' && state !== 'X';
}

/** Whether the process that wrote `lock` still runs (another machine's lock counts as live: it cannot be checked). */
export function lockAlive(lock: RunLock): boolean {
  if (lock.host !== os.hostname()) return true;
  if (!pidAlive(lock.pid)) return false;
  const start = processStart(lock.pid);
  return !(lock.procStart && start && start !== lock.procStart);
}

export function readLock(dir: string): RunLock | undefined {
  return readLockFile(path.join(dir, LOCK_FILE));
}

/**
 * Makes this process the owner of the run folder. A lock of a live process refuses, naming it; a stale one
 * (its process is gone) is taken over and returned, so the caller can say so.
 *
 * The lock appears whole or not at all: it is written to a file of this process and hard-linked to `.lock`,
 * which fails when `.lock` exists. A stale lock is first renamed aside, which only one of two processes
 * taking it over at once can do; the other then finds the winner's live lock and is refused.
 */
export function acquireRunLock(dir: string): { takenOver?: RunLock } {
  const mine: RunLock = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    procStart: processStart(process.pid),
  };
  const file = path.join(dir, LOCK_FILE);
  const own = () => `${LOCK_FILE}.${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(dir, `${own()}.tmp`);
  writeFileAtomic(tmp, JSON.stringify(mine) + '\n');
  let takenOver: RunLock | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, file);
        return takenOver ? { takenOver } : {};
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const held = readLockFile(file);
      if (held?.pid === process.pid && held.host === mine.host) return {};
      if (held && lockAlive(held)) throw lockHeld(dir, held);
      if (!held && !existsSync(file)) continue; // moved aside by another taker just now: link again
      // Stale (or unreadable: a lock is never written partly). Move it aside under a name of our own.
      const aside = path.join(dir, `${own()}.stale`);
      try {
        renameSync(file, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        // Another process moved the stale lock first: whoever links next owns the folder.
        takenOver = held;
        continue;
      }
      const moved = readLockFile(aside);
      if (held && moved && JSON.stringify(moved) !== JSON.stringify(held)) {
        // Between our read and our rename another process took the folder over: give its lock back.
        try {
          linkSync(aside, file);
        } catch {
          // it is gone or replaced again: the next attempt reads whatever is there now
        }
      } else {
        takenOver = held;
      }
      rmSync(aside, { force: true });
    }
    throw new DumboError(`the run folder ${dir}: could not take its lock, other processes keep taking it`, {
      location: { file: dir },
    });
  } finally {
    rmSync(tmp, { force: true });
  }
}

function lockHeld(dir: string, held: RunLock): DumboError {
  const elsewhere =
    held.host !== os.hostname()
      ? ` If that run has ended (or this machine's name has changed since), delete ${path.join(dir, LOCK_FILE)}.`
      : '';
  return new DumboError(
    `the run folder ${dir} is in use by another run (pid ${held.pid} on ${held.host}, started ${held.startedAt}): ` +
      `one run host per folder — wait for it to end or stop it first.${elsewhere}`,
    { location: { file: dir } },
  );
}

function readLockFile(file: string): RunLock | undefined {
  try {
    const lock = JSON.parse(readFileSync(file, 'utf8')) as RunLock;
    return typeof lock === 'object' && lock !== null && typeof lock.pid === 'number' ? lock : undefined;
  } catch {
    return undefined;
  }
}

/** Gives the folder up (only a lock of this process). */
export function releaseRunLock(dir: string): void {
  if (readLock(dir)?.pid === process.pid) rmSync(path.join(dir, LOCK_FILE), { force: true });
}

// ------------------------------------------------------------------------------------------ housekeeping

/**
 * Cleans what a killed writer left in a run folder: temporary checkpoints (`checkpoints/.tmp-step-*`), ones
 * being pruned (`checkpoints/.trash-*`), a temporary `final/` (`.tmp-final-*`), and a `final/` moved aside
 * while a new one took its place (`.old-final-*`): restored when the new one never arrived, deleted
 * otherwise. Returns what it did, in words.
 */
export function recoverRunFolder(dir: string): string[] {
  const done: string[] = [];
  const clean = (folder: string, test: (n: string) => boolean) => {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    for (const n of names.filter(test)) {
      rmSync(path.join(folder, n), { recursive: true, force: true });
      done.push(`removed ${path.relative(dir, path.join(folder, n))}`);
    }
  };
  const olds = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.old-final-')) : [];
  if (olds.length > 0 && !existsSync(path.join(dir, 'final'))) {
    renameSync(path.join(dir, olds[0]!), path.join(dir, 'final'));
    done.push(`restored final/ from ${olds[0]} (a save of final/ was interrupted)`);
  }
  clean(dir, (n) => n.startsWith('.old-final-') || n.startsWith('.tmp-final-'));
  // A lock file written or moved aside by a process killed while taking the lock (never `.lock` itself, nor
  // the file of a process taking it now).
  clean(dir, (n) => {
    const m = /^\.lock\.(\d+)-[0-9a-f]+\.(?:tmp|stale)$/.exec(n);
    return m !== null && !pidAlive(Number(m[1]));
  });
  clean(path.join(dir, 'checkpoints'), (n) => n.startsWith('.tmp-step-') || n.startsWith('.trash-'));
  return done;
}

/**
 * A run that continues from an earlier checkpoint than its newest (`resume_from: checkpoints/step-10` after
 * step 20 diverged) starts a new history: the newer checkpoints, and `final/` of the old one, are renamed
 * `abandoned-step-20`, `abandoned-final` (nothing is deleted), so that `resume_from: latest`, pruning and the
 * app's model list see only this history. Returns the names given.
 */
export function setAsideNewerCheckpoints(dir: string, step: number): string[] {
  const checkpoints = path.join(dir, 'checkpoints');
  const newer = existsSync(checkpoints)
    ? readdirSync(checkpoints)
        .map((n) => ({ n, step: Number(/^step-(\d+)$/.exec(n)?.[1] ?? -1) }))
        .filter((c) => c.step > step)
        .sort((a, b) => a.step - b.step)
        .map((c) => c.n)
    : [];
  if (newer.length === 0) return [];
  const moved: string[] = [];
  const aside = (from: string, name: string) => {
    let to = path.join(path.dirname(from), `abandoned-${name}`);
    for (let k = 2; existsSync(to); k++) to = path.join(path.dirname(from), `abandoned-${name}-${k}`);
    renameSync(from, to);
    moved.push(path.relative(dir, to));
  };
  for (const n of newer) aside(path.join(checkpoints, n), n);
  if (existsSync(path.join(dir, 'final'))) aside(path.join(dir, 'final'), 'final');
  return moved;
}

/**
 * Before a run continues from the checkpoint of step `step` (saved at `savedAt`, ms), the steps after it are
 * about to run again: their lines leave metrics.jsonl (by step) and trace.jsonl (by time), so nothing is
 * recorded twice. Returns how many lines went.
 */
export function truncateForResume(dir: string, step: number, savedAt: number): number {
  let removed = 0;
  const keepLines = (file: string, keep: (row: Record<string, unknown>) => boolean) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    const kept: string[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line) as Record<string, unknown>;
      } catch {
        removed++; // a line cut by the kill
        continue;
      }
      if (keep(row)) kept.push(line);
      else removed++;
    }
    writeFileAtomic(file, kept.length > 0 ? kept.join('\n') + '\n' : '');
  };
  keepLines(path.join(dir, 'metrics.jsonl'), (r) => typeof r.step !== 'number' || r.step <= step);
  keepLines(path.join(dir, 'trace.jsonl'), (r) => typeof r.start !== 'number' || r.start <= savedAt);
  return removed;
}

export function writeResolvedConfig(dir: string, data: unknown): void {
  writeFileAtomic(path.join(dir, 'config.yaml'), stringify(data));
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
}

const FINAL: readonly RunStatus[] = ['completed', 'failed', 'stopped', 'crashed'];

/**
 * Ends a run's record: its status, end time, reason and (when known) exit code. The one place a run is
 * declared over, by its host or by whoever watched the host die. A record that already says how the run
 * ended is left as it is: the first word on it stands.
 */
export function endRun(
  runFolder: string,
  end: { status: 'completed' | 'failed' | 'stopped' | 'crashed'; reason: string; exitCode?: number },
): RunRecord | undefined {
  const record = readRunRecord(runFolder);
  if (!record || FINAL.includes(record.status)) return record;
  record.status = end.status;
  record.endedAt = new Date().toISOString();
  record.exitReason = end.reason;
  if (end.exitCode !== undefined) record.exitCode = end.exitCode;
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
