/**
 * The run folder (DESIGN.md section 5; its files named in src/shared/run-files.ts): config.yaml (resolved),
 * run.json (status and reproducibility record), metrics.jsonl, trace.jsonl, log.txt; later checkpoints/ and
 * final/. This file: where a run's folder is and whether it may be used, and its record — written atomically
 * (core's writeFileAtomic), ended by one function, `endRun`. The lock is run-lock.ts's, the cleaning at each
 * start run-housekeeping.ts's, and the files a run writes while it runs open-run-folder.ts's.
 *
 * What the folder may be: a new folder, an empty one, or a run folder being resumed — never a folder of the
 * user's own files.
 *
 * May import core; imported by src/host, src/services and src/cli (reading run.json).
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { DumboError, writeFileAtomic, type LoadedPlugin, type RunLink, type RunStatus } from '../core/index.js';
import type { ConfigSource } from '../shared/api.js';
import { RUN_FILE_NAMES, runFiles } from '../shared/run-files.js';

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
  /** The run's config was not `configFile`'s content: its unsaved edits, or text that has no file (untitled). */
  configSource?: ConfigSource;
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
  /**
   * Each time the run was continued: when, from which checkpoint (its step), and when the part before it
   * ended (`previousEndedAt`: the run's time is the sum of its parts, not end minus start).
   */
  resumes?: { at: string; checkpoint: string; step?: number; previousEndedAt?: string }[];
  versions: { dumbo: string; node: string; tfjs?: string; plugins: PluginRecord[] };
  observerFailures: { hook: string; plugin: string; error: string }[];
  /** The run host's process id and machine: a 'running' run whose process is gone has crashed. */
  pid?: number;
  host?: string;
  /** What `log_model` received (architecture, parameters, tensors...). */
  model?: Record<string, unknown>;
  /** Where the run's output can be seen outside the app (a TensorBoard folder, a W&B page): plugins' `ctx.addLink`. */
  links?: RunLink[];
}

function timestampName(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Whether a folder is named as a default run folder is (`<date>-<name>`, timestampName's): its parent is a runs folder. */
export function isDefaultRunFolderName(name: string): boolean {
  return /^\d{4}-\d{2}-\d{2}-\d{6}-/.test(name);
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
  const holdsRun = entries.includes(RUN_FILE_NAMES.record);
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

export function writeResolvedConfig(dir: string, data: unknown): void {
  writeFileAtomic(runFiles(dir).config, stringify(data));
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  writeFileAtomic(runFiles(dir).record, JSON.stringify(record, null, 2) + '\n');
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
    return JSON.parse(readFileSync(runFiles(dir).record, 'utf8')) as RunRecord;
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
