/**
 * A W&B run folder as wandb's SDK lays it out, which `wandb sync` and `dumbo wandb-sync` upload:
 * `<root>/wandb/<offline-run|run>-<YYYYMMDD_HHMMSS local time>-<id>/` with `run-<id>.wandb` (the transaction
 * log: header, run, config, history and summary records, files, exit, final, footer), `files/` (config.yaml,
 * wandb-summary.json, wandb-metadata.json, output.log) and `history.jsonl` (one JSON line per history row, for
 * tools that do not read `.wandb`). Records are framed as they come and appended on `flush()`, whole; a crash
 * loses what was not flushed and leaves a log whose every record up to the cut reads back. Imported by run.ts.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeAll, writeFileAtomic } from 'dumbo';
import { FILE_HEADER, frameRecord } from './leveldb.js';
import {
  configRecord,
  exitRecord,
  filesRecord,
  finalRecord,
  footerRecord,
  headerRecord,
  historyRecord,
  runRecord,
  summaryRecord,
  type Item,
  type RunInfo,
} from './records.js';

/** `YYYYMMDD_HHMMSS` in local time, as wandb names run folders (`datetime.fromtimestamp(start)`). */
export function folderTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}_` +
    `${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`
  );
}

/** The files of `files/` this plugin writes, in the order they are uploaded. */
export const RUN_FILES = ['config.yaml', 'wandb-summary.json', 'wandb-metadata.json', 'output.log'] as const;

export class WandbRunFolder {
  readonly dir: string;
  readonly logFile: string;
  readonly filesDir: string;
  private fd: number | undefined;
  /** The log file's size once every pending part is written. */
  private end = 0;
  private pending: Uint8Array[] = [];
  private lines: string[] = [];
  private num = 0;

  /** Makes the folder (`offline-run-...` or, for a run also streamed online, `run-...`) and writes the header. */
  constructor(root: string, online: boolean, runId: string, startTime: number) {
    this.dir = path.join(root, 'wandb', `${online ? 'run' : 'offline-run'}-${folderTime(startTime)}-${runId}`);
    this.filesDir = path.join(this.dir, 'files');
    mkdirSync(this.filesDir, { recursive: true });
    this.logFile = path.join(this.dir, `run-${runId}.wandb`);
    this.fd = openSync(this.logFile, 'wx');
    this.pending.push(FILE_HEADER);
    this.end = FILE_HEADER.length;
    this.add(headerRecord(++this.num));
    this.flush();
  }

  private add(record: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.logFile} is closed`);
    for (const part of frameRecord(record, this.end)) {
      this.pending.push(part);
      this.end += part.length;
    }
  }

  run(info: RunInfo): void {
    this.add(runRecord(++this.num, info));
  }

  config(items: readonly Item[]): void {
    this.add(configRecord(++this.num, items));
  }

  /** One history row: its record, and its line for history.jsonl. */
  history(items: readonly Item[], step: number, line: string): void {
    this.add(historyRecord(++this.num, items, step));
    this.lines.push(line);
  }

  summary(items: readonly Item[]): void {
    this.add(summaryRecord(++this.num, items));
  }

  /** Names files of `files/` for upload at the end of the run. */
  files(names: readonly string[]): void {
    this.add(filesRecord(++this.num, names));
  }

  /** The run's end: exit (code, whole seconds), final and footer records. */
  exit(exitCode: number, runtime: number): void {
    this.add(exitRecord(++this.num, exitCode, runtime));
    this.add(finalRecord(++this.num));
    this.add(footerRecord(++this.num));
  }

  /** Writes a file of `files/` whole (a crash leaves the old content or the new, never half). */
  writeFile(name: string, content: string | Uint8Array): void {
    writeFileAtomic(path.join(this.filesDir, name), content);
  }

  /** Appends the pending records to the log, in one write, and the pending lines to history.jsonl. */
  flush(): void {
    if (this.fd === undefined) return;
    if (this.pending.length > 0) {
      const data = Buffer.concat(this.pending);
      this.pending = [];
      writeAll(this.fd, data);
    }
    if (this.lines.length > 0) {
      appendFileSync(path.join(this.dir, 'history.jsonl'), this.lines.join('\n') + '\n');
      this.lines = [];
    }
  }

  /** The last flush, to the disk, and the log closed. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Marks a run as uploaded, as `wandb sync` does: an empty `run-<id>.wandb.synced` beside its log. */
export function markSynced(logFile: string): void {
  writeFileSync(`${logFile}.synced`, '');
}
