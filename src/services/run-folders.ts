/**
 * The run folders the history knows, apart from what a live run of this process says of its own: their ids
 * (a folder's name under the runs folder, else `ext-<hash>-<name>`), every run folder of the runs folders
 * and of those the settings remember (runs of the app and of the CLI), a folder's summary as its record
 * says (a host that is gone makes a running run crashed), whether a live process holds a folder (its lock),
 * deleting one, and the request that continues one.
 *
 * Who may import it: src/services only. Imports core, host (run record, lock) and the shared API types.
 */

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DumboError } from '../core/errors.js';
import type { StartRunRequest } from '../host/protocol.js';
import { readRunRecord } from '../host/run-folder.js';
import { lockAlive, pidAlive, readLock } from '../host/run-lock.js';
import type { RunStatus, RunSummary } from '../shared/api.js';
import { runFiles } from '../shared/run-files.js';
import { summaryFromRecord } from './run-history.js';

export const ACTIVE: readonly RunStatus[] = ['pending', 'running', 'stopping'];

/** Where runs went, remembered across sessions and shared with the CLI (the settings file). */
export interface KnownRuns {
  /** Run folders of their own choosing (--output, output_dir). */
  folders: () => string[];
  /** Runs folders whose every run folder is listed. */
  roots: () => string[];
  /** Remembers the folder of a run that starts. */
  record: (folder: string) => void;
  /** Forgets a deleted run's folder. */
  forget: (folder: string) => void;
}

/**
 * How a run folder is continued (the app's Resume, `dumbo resume`): from its latest checkpoint, with its own
 * config.yaml, its relative paths against the folder of the config it came from.
 */
export function resumeRequest(runFolder: string, cwd: string): StartRunRequest {
  const dir = path.resolve(runFolder);
  const record = readRunRecord(dir);
  if (!record || !existsSync(runFiles(dir).config)) {
    throw new DumboError('not a run folder (no run.json and config.yaml): give a folder a run wrote', {
      location: { file: runFolder },
    });
  }
  return {
    type: 'start',
    configFile: runFiles(dir).config,
    configDir: record.configFile ? path.dirname(record.configFile) : dir,
    outputDir: dir,
    resumeFrom: 'latest',
    cwd,
  };
}

export class RunFolders {
  readonly runsRoot: string;

  constructor(
    runsRoot: string,
    private readonly known: KnownRuns,
  ) {
    this.runsRoot = path.resolve(runsRoot);
  }

  /** A run's id: its folder's name under the runs folder, else `ext-<hash>-<name>`. */
  idFor(runFolder: string): string {
    const abs = path.resolve(runFolder);
    if (path.dirname(abs) === this.runsRoot) return path.basename(abs);
    const hash = createHash('sha1').update(abs).digest('hex').slice(0, 8);
    return `ext-${hash}-${path.basename(abs)}`;
  }

  /** Every run folder there is, by id: those of the runs folders, then those remembered. */
  all(): Map<string, string> {
    const folders = new Map<string, string>();
    const add = (folder: string) => {
      if (existsSync(runFiles(folder).record)) folders.set(this.idFor(folder), path.resolve(folder));
    };
    for (const root of new Set([this.runsRoot, ...this.known.roots()])) {
      let names: string[] = [];
      try {
        names = readdirSync(root);
      } catch {
        // no runs folder (yet, or any more)
      }
      for (const n of names) add(path.join(root, n));
    }
    for (const f of this.known.folders()) add(f);
    return folders;
  }

  /** The folder of a run id, if it names a run folder the history knows. */
  find(id: string): string | undefined {
    if (id.startsWith('ext-')) return this.all().get(id);
    if (!/^[\w@][\w.@-]*$/.test(id) || id.includes('..')) return undefined;
    const folder = path.join(this.runsRoot, id);
    return existsSync(runFiles(folder).record) ? folder : undefined;
  }

  /** Remembers the folder of a run that starts, for every door's history. */
  remember(folder: string): void {
    this.known.record(folder);
  }

  /** A run's summary as its folder records it; a run whose host on this machine is gone has crashed. */
  summary(id: string, folder: string): RunSummary | undefined {
    const record = readRunRecord(folder);
    if (!record) return undefined;
    const s = summaryFromRecord(id, folder, record);
    if (ACTIVE.includes(s.status) && record.host === os.hostname() && record.pid && !pidAlive(record.pid)) {
      s.status = 'crashed';
      s.exitReason = `its run host (pid ${record.pid}) is gone`;
    }
    return s;
  }

  /** Refuses a run folder that a live process (the CLI, another app) holds. */
  refuseIfHeld(id: string, folder: string): void {
    const lock = readLock(folder);
    if (lock && lockAlive(lock)) {
      throw new DumboError(`run ${id} is in use by process ${lock.pid} on ${lock.host}: stop it first`);
    }
  }

  /** Resolves once no live process holds the folder, waiting up to `waitMs`; else refuses as refuseIfHeld. */
  async untilFree(id: string, folder: string, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return this.refuseIfHeld(id, folder);
      } catch (error) {
        if (Date.now() >= deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Deletes a run folder with everything in it, and forgets it. Never one a live process holds (its lock),
   * nor one whose record says it runs (on a machine that cannot be checked, or just starting).
   */
  remove(id: string, folder: string): void {
    this.refuseIfHeld(id, folder);
    const summary = this.summary(id, folder);
    if (!summary) throw new DumboError(`no run '${id}': ${folder} holds no run.json`);
    if (ACTIVE.includes(summary.status)) {
      throw new DumboError(`run ${id} is ${summary.status}: stop it before deleting it`);
    }
    rmSync(folder, { recursive: true, force: true });
    this.known.forget(folder);
  }

  /** The model folder a finished run saved (`final/`). */
  finalModel(id: string, folder: string): string {
    const { final } = runFiles(folder);
    if (!existsSync(path.join(final, 'config.json'))) {
      throw new DumboError(`run ${id} has no trained model yet (${final} is missing): generate needs a finished run`);
    }
    return final;
  }
}
