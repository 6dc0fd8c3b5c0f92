/**
 * One W&B run of a Dumbo run: metric events become history rows and summary updates, written to the local run
 * folder (always: offline, and online too, so that a network failure loses nothing) and, online, handed to
 * the background stream. Nothing here waits for the network: the collector's calls return at once. `finish`
 * writes the end of the folder, then gives the stream a bounded time to deliver the rest. Imported by index.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shellArg, type Logger, type MetricEvent, type RunLink } from 'dumbo';
import type { Bucket } from './api.js';
import { HistoryRows, jsonOf, jsonValue, rowItems, Summary, summaryItems, type Row } from './history.js';
import type { Item } from './records.js';
import { markSynced, RUN_FILES, WandbRunFolder } from './runfolder.js';
import { runUrl } from './settings.js';
import type { OnlineStream, RunFile, StreamTarget } from './stream.js';

export interface WandbRunOptions {
  /** The folder `wandb/` goes in. */
  root: string;
  target: StreamTarget;
  /** The stream, online; created (not started) by the caller. */
  stream?: OnlineStream;
  /** The web app's address, for the run's page. */
  appUrl: string;
  /** The Dumbo run's log, copied to `files/output.log` at the end. */
  outputLog?: string;
  /** Seconds between writes of the buffered records. */
  flushSecs: number;
  /** How long `finish` waits for the stream. */
  finishTimeoutMs: number;
  logger: Logger;
  addLink: (link: RunLink) => void;
}

/** `dumbo wandb-sync DIR`, quoted for a shell when the path needs it. */
export function syncCommand(dir: string): string {
  return `dumbo wandb-sync ${shellArg(dir)}`;
}

/** The config as W&B's config.yaml holds it: `wandb_version: 1`, then each key's `desc` and `value`. */
export function configYaml(config: Record<string, unknown>): string {
  const lines = ['wandb_version: 1'];
  if (Object.keys(config).length > 0) lines.push('');
  for (const [key, value] of Object.entries(config)) {
    // JSON is YAML: a value written as JSON reads back the same, strings and lists included.
    lines.push(`${yamlKey(key)}:`, '  desc: null', `  value: ${jsonValue(value ?? null)}`);
  }
  return lines.join('\n') + '\n';
}

function yamlKey(key: string): string {
  return /^[A-Za-z_][\w./-]*$/.test(key) ? key : JSON.stringify(key);
}

export class WandbRun {
  readonly folder: WandbRunFolder;
  private readonly rows = new HistoryRows();
  private readonly summary = new Summary();
  private config: Record<string, unknown> = {};
  private runWritten = false;
  private readonly timer: NodeJS.Timeout;
  private lastFlush = Date.now();
  private flushWarned = false;
  private finished: Promise<void> | undefined;

  constructor(private readonly o: WandbRunOptions) {
    const t = o.target;
    this.folder = new WandbRunFolder(o.root, o.stream !== undefined, t.runId, t.startTime);
    this.folder.writeFile('wandb-metadata.json', JSON.stringify(metadata(t), null, 2) + '\n');
    // unref: the timer never keeps a finished process alive; Node runs a longer delay than 2^31-1 ms at once.
    this.timer = setInterval(() => this.flushReporting(), Math.min(o.flushSecs * 1000, 2 ** 31 - 1)).unref();
    if (o.stream) o.stream.start();
    else this.linkFolder();
  }

  /** Called by the stream once the server has the run. */
  runCreated(bucket: Bucket): void {
    const url = runUrl(this.o.appUrl, bucket.entity, bucket.project, this.o.target.runId);
    this.o.logger.info(`W&B run: ${url}`);
    this.o.addLink({ label: 'W&B', url });
  }

  /** Called by the stream when it stops for good: the run goes on, written to the folder only. */
  streamFailed(error: Error): void {
    this.o.logger.warn(
      `W&B: ${error.message}; the run goes on offline, written to ${this.folder.dir} (upload it later with ` +
        `${syncCommand(this.folder.dir)})`,
    );
    this.linkFolder();
  }

  setConfig(params: Record<string, unknown>): void {
    this.config = { ...params };
    const items: Item[] = Object.entries(this.config).map(([key, v]) => ({ key, valueJson: jsonValue(v ?? null) }));
    if (this.runWritten) this.folder.config(items);
    else this.writeRun(items);
    this.o.stream?.setConfig(this.config);
  }

  addMetrics(events: readonly MetricEvent[]): void {
    for (const row of this.rows.add(events)) this.commit(row);
    // A busy training loop may starve the timer; the step's own metrics flush on time instead.
    if (Date.now() - this.lastFlush >= this.o.flushSecs * 1000) this.flushReporting();
  }

  /** Ends the run (exit code 0: training ended; else it failed); resolves once the stream is done or gave up. */
  finish(exitCode: number): Promise<void> {
    this.finished ??= this.end(exitCode);
    return this.finished;
  }

  private writeRun(config: Item[]): void {
    const t = this.o.target;
    this.folder.run({ ...t, config });
    this.runWritten = true;
  }

  private commit(row: Row): void {
    if (!this.runWritten) this.writeRun([]);
    const start = this.o.target.startTime;
    const items = rowItems(row, start);
    const line = jsonOf(items);
    this.folder.history(items, row.step, line);
    const update = summaryItems(row, start);
    this.folder.summary(update);
    this.summary.update(update);
    this.o.stream?.addLines([line]);
    this.o.stream?.setSummary(this.summary.json());
  }

  private async end(exitCode: number): Promise<void> {
    clearInterval(this.timer);
    const last = this.rows.take();
    if (last) this.commit(last);
    if (!this.runWritten) this.writeRun([]);
    const files = this.writeFiles();
    this.folder.files(files.map((f) => f.name));
    this.folder.exit(exitCode, Math.floor(Date.now() / 1000 - this.o.target.startTime));
    this.folder.close();
    const stream = this.o.stream;
    if (!stream) {
      this.o.logger.info(`W&B offline run in ${this.folder.dir}: upload it with ${syncCommand(this.folder.dir)}`);
      return;
    }
    if (stream.failure) {
      // Said when the stream failed (streamFailed): the folder is complete now.
      this.o.logger.info(`W&B offline run complete in ${this.folder.dir}`);
      return;
    }
    const report = await stream.finish(exitCode, files, this.o.finishTimeoutMs);
    if (report.complete) {
      markSynced(this.folder.logFile);
      this.o.logger.debug(`W&B: ${report.linesSent} history lines and ${files.length} files uploaded`);
      return;
    }
    const left = [
      report.linesLeft > 0 ? `${report.linesLeft} of ${report.linesLeft + report.linesSent} history lines` : '',
      report.filesLeft.length > 0 ? `the files ${report.filesLeft.join(', ')}` : '',
      'the run end',
    ].filter(Boolean);
    this.o.logger.warn(
      `W&B: ${left.join(', ')} did not reach the server (${report.error ?? 'stopped'}); the run folder ` +
        `${this.folder.dir} has everything: upload it with ${syncCommand(this.folder.dir)}`,
    );
    this.linkFolder();
  }

  /** config.yaml, wandb-summary.json and output.log in `files/` (wandb-metadata.json is there from the start). */
  private writeFiles(): RunFile[] {
    this.folder.writeFile('config.yaml', configYaml(this.config));
    this.folder.writeFile('wandb-summary.json', this.summary.json() + '\n');
    const log = this.o.outputLog;
    this.folder.writeFile('output.log', log && existsSync(log) ? readFileSync(log) : '');
    return RUN_FILES.map((name) => ({ name, data: readFileSync(path.join(this.folder.filesDir, name)) }));
  }

  private linkFolder(): void {
    this.o.addLink({ label: 'W&B', path: this.folder.dir, hint: syncCommand(this.folder.dir) });
  }

  private flushReporting(): void {
    // A failed write is tried again at the next interval, not at every step.
    this.lastFlush = Date.now();
    try {
      this.folder.flush();
    } catch (error) {
      if (this.flushWarned) return;
      this.flushWarned = true;
      this.o.logger.warn(`W&B: cannot write to ${this.folder.logFile}: ${(error as Error).message}`);
    }
  }
}

/** wandb-metadata.json: what wandb's EnvironmentRecord says of the machine, the parts that apply here. */
function metadata(t: StreamTarget): Record<string, unknown> {
  return {
    os: `${os.type()}-${os.release()}-${os.arch()}`,
    host: t.host,
    startedAt: new Date(t.startTime * 1000).toISOString(),
    program: 'dumbo',
    executable: process.execPath,
    cpu_count: os.cpus().length,
    node: process.version,
  };
}
