/**
 * A run folder held open by the run host for one run. `open` chooses it, creates and locks it, cleans what a
 * killed writer left, cuts it back to its checkpoint when the run resumes and writes the resolved
 * config.yaml; then the run writes through it — log.txt, trace.jsonl, metrics.jsonl (through its metrics
 * collector), run.json at each change of status and when log_model's info arrives — and polls its stop file;
 * `close` lets all of it go. The .jsonl and log files are appended line by line through one open descriptor,
 * so a crash loses at most the line being written.
 *
 * May import core and the engine; imported by run-host.ts.
 */

import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MetricsCollector,
  withRunLink,
  type LoadedConfig,
  type MetricEvent,
  type ModelInfo,
  type RunLink,
  type RunStatus,
} from '../core/index.js';
import { readTrainerState, resolveResume } from '../engine/index.js';
import { runFiles, type RunFiles } from '../shared/run-files.js';
import { STOP_SIGNALS, type StartRunRequest, type StopSignal } from './protocol.js';
import { chooseRunFolder, createRunFolder, readRunRecord, writeResolvedConfig, writeRunRecord } from './run-folder.js';
import type { RunRecord } from './run-folder.js';
import { recoverRunFolder, setAsideNewerCheckpoints, truncateForResume } from './run-housekeeping.js';
import { acquireRunLock, releaseRunLock } from './run-lock.js';

/** Appends lines to a file through one open descriptor. */
class LineWriter {
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

/** What a run's record starts with besides what the folder knows (its start, its resumes, this process). */
export type RecordStart = Pick<
  RunRecord,
  'name' | 'configFile' | 'configSource' | 'backend' | 'backendReason' | 'backendDevice' | 'adapter' | 'versions'
>;

export class OpenRunFolder {
  readonly files: RunFiles;
  /** Said in the run's log once it has one: a lock taken over, leftovers cleaned, lines cut for a resume. */
  readonly notes: string[] = [];
  /** The engine checkpoint the run continues after, when its resume_from names one. */
  resumedAt?: { checkpoint: string; step: number };
  /** run.json's content (written at each setStatus), from `begin` on. */
  record!: RunRecord;
  /** metrics.jsonl, the last loss and log_model's info: register it with the metrics registry. */
  readonly collector: RunFolderCollector;
  private readonly resumeFrom?: string;
  private previous?: RunRecord;
  private log?: LineWriter;
  private traceFile?: LineWriter;
  private metricsFile?: LineWriter;

  private constructor(
    readonly dir: string,
    resumeFrom: string | undefined,
  ) {
    this.files = runFiles(dir);
    this.resumeFrom = resumeFrom;
    this.collector = new RunFolderCollector(this);
  }

  /**
   * The run's folder, made ready: `--output` or output_dir or runs/<date>-<name> (chooseRunFolder), checked,
   * locked, cleaned, cut back for a resume, with its config.yaml and its files open. Throws (the lock given
   * back) when the folder cannot be used.
   */
  static open(req: StartRunRequest, config: LoadedConfig, name: string, cwd: string): OpenRunFolder {
    const resumeFrom = typeof config.data.resume_from === 'string' ? config.data.resume_from : undefined;
    let folder: OpenRunFolder | undefined;
    try {
      const dir = chooseRunFolder({
        outputDir: req.outputDir,
        configOutputDir: config.data.output_dir as string | undefined,
        configDir: config.dir,
        cwd,
        runsDir: req.runsDir,
        name,
        resumeFrom,
      });
      createRunFolder(dir, { resume: resumeFrom !== undefined });
      const { takenOver } = acquireRunLock(dir);
      folder = new OpenRunFolder(dir, resumeFrom);
      if (takenOver) {
        folder.notes.push(
          `took over the run folder from pid ${takenOver.pid} (started ${takenOver.startedAt}), which is no longer running`,
        );
      }
      folder.notes.push(...recoverRunFolder(dir));
      if (resumeFrom !== undefined) folder.rewind(resumeFrom, config.dir);
      writeResolvedConfig(dir, config.data);
      // A stop file left by an earlier run of this folder (killed before it could remove it) is not a request.
      rmSync(folder.files.stop, { force: true });
      folder.log = new LineWriter(folder.files.log);
      folder.traceFile = new LineWriter(folder.files.trace);
      folder.metricsFile = new LineWriter(folder.files.metrics);
      return folder;
    } catch (error) {
      folder?.close();
      throw error;
    }
  }

  /**
   * A resumed run continues its record. The trainer reads resume_from (a third-party trainer may keep
   * checkpoints its own way): what the host needs of it — which step the run continues after — only when it
   * names an engine checkpoint, and only then is this folder's history cut back to it.
   */
  private rewind(resumeFrom: string, configDir: string): void {
    this.previous = readRunRecord(this.dir);
    let checkpoint: string | undefined;
    try {
      checkpoint = resolveResume(resumeFrom, this.dir, configDir);
    } catch {
      checkpoint = undefined;
    }
    const state = checkpoint ? readTrainerState(checkpoint) : undefined;
    if (!checkpoint || !state) return;
    this.resumedAt = { checkpoint, step: state.step };
    if (path.dirname(path.dirname(checkpoint)) !== this.dir) return;
    const abandoned = setAsideNewerCheckpoints(this.dir, state.step);
    if (abandoned.length > 0) {
      this.notes.push(`continuing after step ${state.step}, an earlier checkpoint: set aside ${abandoned.join(', ')}`);
    }
    const savedAt = Date.parse(state.savedAt ?? '') || statSync(path.join(checkpoint, 'trainer_state.json')).mtimeMs;
    const removed = truncateForResume(this.dir, state.step, savedAt);
    if (removed > 0) {
      this.notes.push(
        `continuing after step ${state.step}: ${removed} metric and trace line(s) of the steps after it were removed (they run again)`,
      );
    }
  }

  /** Starts the run's record (written by the first setStatus). A resumed run is the same run: its start stays. */
  begin(start: RecordStart): RunRecord {
    const now = new Date().toISOString();
    const { name, configFile, configSource, ...backendAndVersions } = start;
    const source = this.previous ? this.previous.configSource : configSource;
    this.record = {
      // A resume runs the folder's own config.yaml: the record keeps the run's name and the config it came from.
      name: this.previous?.name ?? name,
      status: 'running',
      configFile: this.previous?.configFile ?? configFile,
      ...(source ? { configSource: source } : {}),
      runFolder: this.dir,
      startedAt: this.previous?.startedAt ?? now,
      ...backendAndVersions,
      observerFailures: [],
      pid: process.pid,
      host: os.hostname(),
    };
    if (this.resumeFrom !== undefined) {
      this.record.resumeFrom = this.resumeFrom;
      this.record.resumes = [
        ...(this.previous?.resumes ?? []),
        {
          at: now,
          ...(this.resumedAt ?? { checkpoint: this.resumeFrom }),
          ...(this.previous?.endedAt ? { previousEndedAt: this.previous.endedAt } : {}),
        },
      ];
    }
    return this.record;
  }

  /** Rewrites run.json with `status`. */
  setStatus(status: RunStatus): void {
    this.record.status = status;
    writeRunRecord(this.dir, this.record);
  }

  writeLog(line: string): void {
    this.log?.write(line);
  }

  writeTrace(entry: unknown): void {
    this.traceFile?.write(JSON.stringify(entry));
  }

  writeMetric(event: MetricEvent): void {
    this.metricsFile?.write(
      JSON.stringify({
        name: event.name,
        value: event.value,
        step: event.step,
        timestamp: event.timestamp,
        tags: event.tags,
      }),
    );
  }

  /**
   * Whether the stop file is there, and the signal it names. The stop file (written with the stop message, and
   * by `dumbo serve` for hosts it did not start) may be seen before the message is read: it names the same
   * signal, so the record says the same reason either way.
   */
  stopRequest(): { signal?: StopSignal } | undefined {
    if (!existsSync(this.files.stop)) return undefined;
    try {
      const signal = (JSON.parse(readFileSync(this.files.stop, 'utf8')) as { signal?: unknown }).signal;
      return typeof signal === 'string' && Object.hasOwn(STOP_SIGNALS, signal) ? { signal: signal as StopSignal } : {};
    } catch {
      return {}; // an older host's timestamp, or being written: a plain stop
    }
  }

  /** Closes the files, removes the stop file and gives the folder up. */
  close(): void {
    for (const w of [this.log, this.traceFile, this.metricsFile]) w?.close();
    rmSync(this.files.stop, { force: true });
    releaseRunLock(this.dir);
  }
}

/** metrics.jsonl (every event), the last loss seen, log_model's info and the plugins' links (kept in run.json: the app shows them). */
class RunFolderCollector extends MetricsCollector {
  lastLoss?: number;
  lastStep?: number;
  constructor(private readonly folder: OpenRunFolder) {
    super();
  }
  logMetric(event: MetricEvent): void {
    this.folder.writeMetric(event);
    if (event.name === 'loss') [this.lastLoss, this.lastStep] = [event.value, event.step];
  }
  logModelInfo(info: ModelInfo): void {
    this.folder.record.model = info;
    writeRunRecord(this.folder.dir, this.folder.record);
  }
  logLink(link: RunLink): void {
    this.folder.record.links = withRunLink(this.folder.record.links, link);
    writeRunRecord(this.folder.dir, this.folder.record);
  }
}
