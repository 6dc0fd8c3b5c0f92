/**
 * The lock of a run folder (DESIGN.md section 5): a folder has one owner, the run host holding its `.lock`
 * (pid, machine and process start time, checked for life). A lock whose process is gone is stale and is
 * taken over; the taker says so in the run's log.
 *
 * May import core; imported by src/host (the run folder, housekeeping) and src/services (whether a run's
 * host still lives).
 */

import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DumboError, writeFileAtomic } from '../core/index.js';
import { RUN_FILE_NAMES, runFiles } from '../shared/run-files.js';

export const LOCK_FILE = RUN_FILE_NAMES.lock;

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
  return readLockFile(runFiles(dir).lock);
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
  const file = runFiles(dir).lock;
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
      ? ` If that run has ended (or this machine's name has changed since), delete ${runFiles(dir).lock}.`
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
  if (readLock(dir)?.pid === process.pid) rmSync(runFiles(dir).lock, { force: true });
}
