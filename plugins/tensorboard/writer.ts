/**
 * One TensorBoard event file: records are framed as they are added and kept in memory; `flush()` appends
 * every pending record to the file in one write. A crash loses what was not flushed and never touches
 * records already written, so TensorBoard reads every flushed record. Imported by index.ts.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeAll } from 'dumbo';
import { fileVersionEvent, frameRecord } from './events.js';

/** `events.out.tfevents.<unix seconds>.<host>`, as TensorFlow names them; `.1`, `.2`... if that exists. */
function createEventFile(dir: string, now: number): { file: string; fd: number } {
  const base = `events.out.tfevents.${Math.floor(now)}.${os.hostname()}`;
  for (let n = 0; ; n++) {
    const file = path.join(dir, n === 0 ? base : `${base}.${n}`);
    try {
      return { file, fd: openSync(file, 'wx') };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export class EventFileWriter {
  readonly file: string;
  private fd: number | undefined;
  private pending: Uint8Array[] = [];

  /** Creates the file in `dir` (made if missing) and writes its first record, the file version. */
  constructor(dir: string, now = Date.now() / 1000) {
    mkdirSync(dir, { recursive: true });
    const { file, fd } = createEventFile(dir, now);
    this.file = file;
    this.fd = fd;
    this.add(fileVersionEvent(now));
    this.flush();
  }

  /** Frames an encoded Event and keeps it until the next flush. */
  add(event: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`event file ${this.file} is closed`);
    this.pending.push(frameRecord(event));
  }

  /** Appends every pending record, whole, in one write. */
  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    writeAll(this.fd, data);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
