/**
 * `dumbo wandb-sync RUN`: uploads W&B run folders that a run left offline (or whose upload did not finish)
 * through the same client and stream an online run uses: the `.wandb` log is read back (header, run, config,
 * history, summary, files, exit records), the run created with its config, every history line and the summary
 * streamed, the files of `files/` uploaded, the run marked complete; then `run-<id>.wandb.synced` marks the
 * folder as uploaded. A log cut short by a crash uploads every record before the cut, and a run without its
 * exit record is marked failed (exit code 1), as `wandb sync` does. Imported by index.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { WandbApi, type RetryPolicy } from './api.js';
import { itemPath, jsonOf, parseJson, Summary } from './history.js';
import { readLog } from './leveldb.js';
import { readRecord, type Item, type RunInfo } from './records.js';
import { markSynced, RUN_FILES } from './runfolder.js';
import { appUrl, baseUrl, findApiKey, runUrl, whereKeysGo, type Env } from './settings.js';
import { OnlineStream, type RunFile } from './stream.js';

export interface SyncOptions {
  /** Where messages go, one line each. */
  log: (line: string) => void;
  env?: Env;
  retry?: RetryPolicy;
  /** How long one run's upload may take in all. */
  timeoutMs?: number;
}

/** What a run's log holds, read back. */
export interface LoggedRun {
  run: RunInfo;
  config: Record<string, unknown>;
  lines: string[];
  summary: Summary;
  files: string[];
  exitCode?: number;
  /** Why the log stops early (a crash), if it does. */
  problem?: string;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const logsIn = (dir: string) => readdirSync(dir).filter((f) => /^run-.*\.wandb$/.test(f));

/**
 * The `.wandb` logs `folder` names: its own (a W&B run folder), else those of its subfolders (a `wandb/`
 * folder), else those of its `wandb/` subfolder (a Dumbo run folder).
 */
export function findRunLogs(folder: string): string[] {
  if (!isDir(folder)) throw new Error(`${folder} is not a folder`);
  const own = logsIn(folder);
  if (own.length > 0) return own.map((f) => path.join(folder, f));
  for (const parent of [folder, path.join(folder, 'wandb')]) {
    if (!isDir(parent)) continue;
    const found = readdirSync(parent)
      .sort()
      .map((d) => path.join(parent, d))
      .filter(isDir)
      .flatMap((d) => logsIn(d).map((f) => path.join(d, f)));
    if (found.length > 0) return found;
  }
  throw new Error(
    `${folder} holds no W&B run: expected a run-<id>.wandb in it, in its subfolders or in its wandb/ subfolder`,
  );
}

/** Reads a run's `.wandb` log: what the upload needs. */
export function readRunLog(logFile: string): LoggedRun {
  const { records, problem } = readLog(readFileSync(logFile));
  let run: RunInfo | undefined;
  const config: Record<string, unknown> = {};
  const lines: string[] = [];
  const summary = new Summary();
  const files = new Set<string>();
  let exitCode: number | undefined;
  const setConfig = (items: Item[]) => {
    for (const i of items) config[i.key || itemPath(i)] = parseJson(i.valueJson);
  };
  for (const bytes of records) {
    const r = readRecord(bytes);
    if (r.type === 'run') {
      run ??= r.run;
      setConfig(r.run.config);
    } else if (r.type === 'config') setConfig(r.items);
    else if (r.type === 'history') lines.push(jsonOf(r.items));
    else if (r.type === 'summary') summary.update(r.items);
    else if (r.type === 'files') r.paths.forEach((p) => files.add(p));
    else if (r.type === 'exit') exitCode = r.exitCode;
  }
  if (!run) throw new Error(`${logFile} holds no run record: there is no run to upload`);
  return { run, config, lines, summary, files: [...files], exitCode, ...(problem ? { problem } : {}) };
}

/** Uploads every run `folder` names; resolves true when all of them went. */
export async function syncRuns(folder: string, options: SyncOptions): Promise<boolean> {
  const env = options.env ?? process.env;
  const base = baseUrl(env);
  const key = findApiKey(base, env);
  if (!key) throw new Error(`no W&B API key for ${new URL(base).host}: ${whereKeysGo(base)}`);
  const logs = findRunLogs(folder);
  let ok = true;
  for (const logFile of logs) {
    const api = new WandbApi({
      baseUrl: base,
      apiKey: key.key,
      retry: options.retry,
      onRetry: (what, why, ms) => options.log(`${what}: ${why}; retrying in ${(ms / 1000).toFixed(1)} s`),
    });
    ok = (await syncRun(logFile, api, appUrl(base, env), options)) && ok;
  }
  return ok;
}

async function syncRun(logFile: string, api: WandbApi, app: string, options: SyncOptions): Promise<boolean> {
  const { log } = options;
  const logged = readRunLog(logFile);
  const dir = path.dirname(logFile);
  if (logged.problem) log(`${logFile}: ${logged.problem}; the records before it are uploaded`);
  if (logged.exitCode === undefined) log(`${logFile}: no exit record (the run did not end): uploaded as failed`);
  const stream = new OnlineStream(api, logged.run, { paceMs: () => 0, heartbeatMs: Infinity });
  stream.setConfig(logged.config);
  stream.addLines(logged.lines);
  if (logged.summary.size > 0) stream.setSummary(logged.summary.json());
  const files: RunFile[] = [...new Set([...RUN_FILES, ...logged.files])]
    .map((name) => path.join(dir, 'files', name))
    .filter((file) => existsSync(file))
    .map((file) => ({ name: path.relative(path.join(dir, 'files'), file), data: readFileSync(file) }));
  const report = await stream.finish(logged.exitCode ?? 1, files, options.timeoutMs ?? 30 * 60_000);
  const bucket = stream.run;
  const where = bucket ? runUrl(app, bucket.entity, bucket.project, logged.run.runId) : api.baseUrl;
  if (report.complete) {
    markSynced(logFile);
    log(`${dir}: ${report.linesSent} history lines and ${files.length} files uploaded to ${where}`);
    return true;
  }
  const left = [`${report.linesLeft} of ${logged.lines.length} history lines`];
  if (report.filesLeft.length > 0) left.push(`the files ${report.filesLeft.join(', ')}`);
  log(`${dir}: not uploaded (${report.error ?? 'stopped'}): ${left.join(', ')} and the run end did not go to ${where}`);
  return false;
}
