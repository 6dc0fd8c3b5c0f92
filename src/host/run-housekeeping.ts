/**
 * Housekeeping of a run folder at each start: what a killed writer left (temporary checkpoint and final/
 * folders, lock files of a killed taker) is cleaned, and a resumed run's history is cut back to its
 * checkpoint (newer checkpoints set aside, metrics and trace lines of the steps that run again removed).
 *
 * May import core; imported by the run folder's owner (open-run-folder.ts) and tests.
 */

import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../core/index.js';
import { RUN_FILE_NAMES, runFiles } from '../shared/run-files.js';
import { pidAlive } from './run-lock.js';

/**
 * Cleans what a killed writer left in a run folder: temporary checkpoints (`checkpoints/.tmp-step-*`), ones
 * being pruned (`checkpoints/.trash-*`), a temporary `final/` (`.tmp-final-*`), and a `final/` moved aside
 * while a new one took its place (`.old-final-*`): restored when the new one never arrived, deleted
 * otherwise. Returns what it did, in words.
 */
export function recoverRunFolder(dir: string): string[] {
  const done: string[] = [];
  const files = runFiles(dir);
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
  if (olds.length > 0 && !existsSync(files.final)) {
    renameSync(path.join(dir, olds[0]!), files.final);
    done.push(`restored final/ from ${olds[0]} (a save of final/ was interrupted)`);
  }
  clean(dir, (n) => n.startsWith('.old-final-') || n.startsWith('.tmp-final-'));
  // A lock file written or moved aside by a process killed while taking the lock (never `.lock` itself, nor
  // the file of a process taking it now).
  clean(dir, (n) => {
    const m = /^\.lock\.(\d+)-[0-9a-f]+\.(?:tmp|stale)$/.exec(n);
    return m !== null && !pidAlive(Number(m[1]));
  });
  clean(files.checkpoints, (n) => n.startsWith('.tmp-step-') || n.startsWith('.trash-'));
  return done;
}

/**
 * A run that continues from an earlier checkpoint than its newest (`resume_from: checkpoints/step-10` after
 * step 20 diverged) starts a new history: the newer checkpoints, and `final/` of the old one, are renamed
 * `abandoned-step-20`, `abandoned-final` (nothing is deleted), so that `resume_from: latest`, pruning and the
 * app's model list see only this history. Returns the names given.
 */
export function setAsideNewerCheckpoints(dir: string, step: number): string[] {
  const { checkpoints, final } = runFiles(dir);
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
  if (existsSync(final)) aside(final, RUN_FILE_NAMES.final);
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
  const files = runFiles(dir);
  keepLines(files.metrics, (r) => typeof r.step !== 'number' || r.step <= step);
  keepLines(files.trace, (r) => typeof r.start !== 'number' || r.start <= savedAt);
  return removed;
}
