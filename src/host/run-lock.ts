/**
 * The lock of a run folder (DESIGN.md section 5): a folder has one owner, the run host holding its `.lock`
 * (pid, machine and process start time, checked for life). A lock whose process is gone is stale and is
 * taken over; the taker says so in the run's log.
 *
 * May import core; imported by src/host (the run folder, housekeeping) and src/services (whether a run's
 * host still lives).
 */

import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, rmSync } from 'node:fs';
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
 * which fails when `.lock` exists. Taking over a stale lock (removing it, then linking our own) is done by one
 * process at a time, holding `.lock.takeover` (made the same way): otherwise a taker that read the stale lock
 * could remove the lock another taker had just put in its place, and two processes would own the folder.
 */
export function acquireRunLock(dir: string): { takenOver?: RunLock } {
  const mine: RunLock = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    procStart: processStart(process.pid),
  };
  const file = runFiles(dir).lock;
  const guard = `${file}.takeover`;
  const tmp = path.join(dir, `${LOCK_FILE}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  writeFileAtomic(tmp, JSON.stringify(mine) + '\n');
  const link = () => {
    try {
      linkSync(tmp, file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return false;
    }
  };
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (link()) return {};
      const held = readLockFile(file);
      if (held?.pid === process.pid && held.host === mine.host) return {};
      if (held && lockAlive(held)) throw lockHeld(dir, held);
      if (held || existsSync(file)) {
        // Stale (or unreadable: a lock is never written partly). Take it over while holding the guard.
        const taken = takeOver(guard, tmp, () => {
          const now = readLockFile(file);
          if (now && lockAlive(now)) return { refused: now };
          rmSync(file, { force: true });
          return link() ? { won: now } : {};
        });
        if (taken?.refused) throw lockHeld(dir, taken.refused);
        if (taken && 'won' in taken) return taken.won ? { takenOver: taken.won } : {};
      }
      if (Date.now() > deadline) {
        throw new DumboError(`the run folder ${dir}: could not take its lock, other processes keep taking it`, {
          location: { file: dir },
        });
      }
      sleepMs(5);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Runs `fn` holding the guard file (our lock file hard-linked to it), or returns undefined when another
 * process holds it. A guard left by a process that died is removed, and the next attempt takes it.
 */
function takeOver<T>(guard: string, tmp: string, fn: () => T): T | undefined {
  try {
    linkSync(tmp, guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = readLockFile(guard);
    if (holder && !lockAlive(holder)) rmSync(guard, { force: true });
    return undefined;
  }
  try {
    return fn();
  } finally {
    rmSync(guard, { force: true });
  }
}

/** Waits without returning to the event loop: the lock is taken before the run host does anything else. */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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
