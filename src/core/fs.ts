/**
 * Writing files so that a crash, a kill or a full disk never leaves a half-written one: every file Dumbo
 * rewrites in place (run.json, the resolved config, checkpoints' JSON and safetensors, saved configs,
 * downloaded hub files) goes through `writeFileAtomic`, and folders that must appear complete (a checkpoint,
 * `final/`) through `replaceDir`.
 */

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { DumboError } from './errors.js';

const IO_CHUNK = 1 << 30;

/** What went wrong with a file operation, in words: `no space left on device (ENOSPC)`. */
export function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOENT: 'no such file or folder',
    EISDIR: 'is a folder',
    ENOTDIR: 'a part of the path is not a folder',
    EIO: 'input/output error',
  };
  if (e?.code && words[e.code]) return `${words[e.code]} (${e.code})`;
  return e instanceof Error ? e.message : String(error);
}

/**
 * Writes `file` atomically: into a temporary file beside it (the same filesystem, so the rename is atomic),
 * written in full and fsynced, then renamed over `file`. On any failure the temporary file is removed,
 * `file` keeps its old content, and the error (a DumboError located at `file`) says what happened.
 * `data` may be a function that writes to the open descriptor (large binary files).
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | ((fd: number) => void)): void {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    if (typeof data === 'function') data(fd);
    else writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing: the first error is the one to report
      }
    }
    rmSync(tmp, { force: true });
    throw new DumboError(`cannot write: ${describeFsError(error)}`, { kind: 'run', location: { file }, cause: error });
  }
}

/** Writes all of `bytes`, looping over partial writes and staying under the 2 GiB per-call limit. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, IO_CHUNK));
  }
}

/** The name a folder is moved to while its replacement takes its place (`.old-final-<pid>`). */
export function oldName(dir: string): string {
  return path.join(path.dirname(dir), `.old-${path.basename(dir)}-${process.pid}`);
}

/**
 * Puts the complete folder `staged` in place of `dir`: `dir` (if any) is renamed aside to `.old-NAME-<pid>`,
 * `staged` renamed to `dir`, then the old one deleted. A kill between the two renames leaves the old folder
 * under its aside name, where `recoverReplacedDirs` finds it at the next start.
 */
export function replaceDir(staged: string, dir: string): void {
  const old = oldName(dir);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(staged, dir);
  rmSync(old, { recursive: true, force: true });
}

/** The file's stat, or undefined where there is none (or it cannot be read). */
export function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/** As statOrUndefined, of a link itself rather than what it points to. */
export function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
