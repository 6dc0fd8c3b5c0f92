// The run folder's rules, each from a way a run lost work or lied: one owner (the lock), nothing of the
// user's overwritten, a killed prune or final/ swap repaired at the next start, a resumed run's metrics
// cut back to its checkpoint, one function that ends run.json, a full disk while rewriting it, and the files a
// run holds open (OpenRunFolder).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatError, parseConfig, setConsoleLogLevel, type DumboError } from '../../src/core/index.js';
import { listCheckpoints, pruneCheckpoints } from '../../src/engine/checkpoint.js';
import { OpenRunFolder } from '../../src/host/open-run-folder.js';
import { executeRun } from '../../src/host/run-host.js';
import { createRunFolder, endRun, readRunRecord, writeRunRecord, type RunRecord } from '../../src/host/run-folder.js';
import { recoverRunFolder, setAsideNewerCheckpoints, truncateForResume } from '../../src/host/run-housekeeping.js';
import { acquireRunLock, LOCK_FILE, releaseRunLock } from '../../src/host/run-lock.js';
import type { HostMessage } from '../../src/host/protocol.js';
import { repoRoot, tempDir, writeFiles } from '../helpers.js';

// Fault injection: writes to a file whose name contains `failWritesTo` fail with ENOSPC (a full disk), and
// removing a folder whose name contains `failRemoveOf` fails (a kill in the middle of a delete).
const fault = vi.hoisted(() => ({ failWritesTo: '', failRemoveOf: '', fds: new Set<number>() }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const openSync = ((file: string, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(file, ...rest);
    if (fault.failWritesTo && String(file).includes(fault.failWritesTo)) fault.fds.add(fd);
    return fd;
  }) as typeof fs.openSync;
  const writeSync = ((fd: number, ...rest: unknown[]) => {
    if (fault.fds.has(fd)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync;
  const rmSync = ((p: string, ...rest: unknown[]) => {
    if (fault.failRemoveOf && String(p).includes(fault.failRemoveOf)) throw new Error('killed while deleting');
    return (fs.rmSync as (...a: unknown[]) => void)(p, ...rest);
  }) as typeof fs.rmSync;
  const patched = { ...fs, openSync, writeSync, rmSync };
  return { ...patched, default: patched };
});

afterEach(() => {
  fault.failWritesTo = '';
  fault.failRemoveOf = '';
  fault.fds.clear();
});

function record(status: RunRecord['status'], extra: Partial<RunRecord> = {}): RunRecord {
  return {
    name: 'r',
    status,
    configFile: '/c.yaml',
    runFolder: '/r',
    startedAt: '2026-01-01T00:00:00.000Z',
    versions: { dumbo: '0', node: process.version, plugins: [] },
    observerFailures: [],
    ...extra,
  };
}

describe('endRun: the one way a run is declared over', () => {
  it('ends a running record, and never rewrites an end already recorded (stopped stays stopped)', () => {
    const dir = tempDir();
    writeRunRecord(dir, record('running'));
    expect(endRun(dir, { status: 'crashed', reason: 'the run host was killed (SIGKILL)', exitCode: 1 })).toMatchObject({
      status: 'crashed',
      exitReason: 'the run host was killed (SIGKILL)',
      exitCode: 1,
      endedAt: expect.any(String),
    });
    for (const status of ['completed', 'failed', 'stopped', 'crashed'] as const) {
      writeRunRecord(dir, record(status, { exitReason: 'as it ended' }));
      endRun(dir, { status: 'crashed', reason: 'later news' });
      expect(readRunRecord(dir)).toMatchObject({ status, exitReason: 'as it ended' });
    }
  });
});

describe('createRunFolder: a new folder, an empty one, or a run being resumed', () => {
  it("refuses a folder of the user's files (dumbo run config.yaml --output .) and writes nothing there", () => {
    const dir = writeFiles(tempDir(), { 'config.yaml': '# my notes\nplugins: []\n' });
    expect(() => createRunFolder(dir)).toThrow(
      `the run folder ${dir} is not empty and holds no run (config.yaml): a run goes in a new or empty folder, so that none of your files is overwritten`,
    );
    writeFileSync(path.join(dir, 'data.txt'), 'x');
    expect(() => createRunFolder(dir, { resume: true })).toThrow(/holds no run to resume \(config\.yaml, data\.txt\)/);
    expect(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).toBe('# my notes\nplugins: []\n');
  });

  it('takes a new or an empty folder; a run folder only when resuming', () => {
    const root = tempDir();
    createRunFolder(path.join(root, 'new'));
    mkdirSync(path.join(root, 'empty'));
    createRunFolder(path.join(root, 'empty'));
    const run = writeFiles(path.join(root, 'run'), { 'run.json': '{}', 'metrics.jsonl': '' });
    expect(() => createRunFolder(run)).toThrow(/already holds a run \(run\.json\).*--resume/);
    createRunFolder(run, { resume: true });
  });
});

describe('the lock: one run host per folder', () => {
  it("refuses a folder whose lock belongs to a live process, naming it; takes over a dead process's lock", () => {
    const dir = tempDir();
    const live = { pid: process.ppid, host: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z' };
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(live));
    expect(() => acquireRunLock(dir)).toThrow(
      `the run folder ${dir} is in use by another run (pid ${process.ppid} on ${os.hostname()}, started 2026-01-01T00:00:00.000Z)`,
    );
    const dead = { ...live, pid: 2 ** 22 + 12345 }; // above Linux's pid_max: no such process
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(dead));
    expect(acquireRunLock(dir)).toEqual({ takenOver: dead });
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    releaseRunLock(dir);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    expect(acquireRunLock(dir)).toEqual({});
    releaseRunLock(dir);
  });
});

describe('the lock under a race', () => {
  it('of several processes taking over one stale lock at once, exactly one wins; the others are refused', async () => {
    const dir = tempDir();
    const dead = { pid: 2 ** 22 + 4242, host: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z' };
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(dead));
    const go = path.join(dir, 'go');
    // Each waits for `go`, takes the lock (or is refused), says which, and — the winner — holds it until killed.
    const script = `
      const { existsSync } = await import('node:fs');
      const { acquireRunLock } = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'host', 'run-lock.js'))});
      process.stdout.write('ready\\n');
      while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 5));
      try {
        const r = acquireRunLock(${JSON.stringify(dir)});
        process.stdout.write('won ' + JSON.stringify(r) + '\\n');
        setInterval(() => {}, 1000);
      } catch (error) {
        process.stdout.write('refused ' + error.message + '\\n');
      }`;
    const children = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      const ready = new Promise<void>((resolve) =>
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) resolve();
        }),
      );
      const said = new Promise<string>((resolve) =>
        child.stdout.on('data', () => {
          const line = out.split('\n').find((l) => l.startsWith('won') || l.startsWith('refused'));
          if (line) resolve(line);
        }),
      );
      return { child, ready, said };
    });
    try {
      await Promise.all(children.map((c) => c.ready));
      writeFileSync(go, '');
      const lines = await Promise.all(children.map((c) => c.said));
      const won = lines.filter((l) => l.startsWith('won'));
      expect(won).toHaveLength(1);
      // The winner says whose lock it replaced, unless another taker had already moved it aside.
      expect([`won ${JSON.stringify({ takenOver: dead })}`, 'won {}']).toContain(won[0]);
      for (const l of lines.filter((x) => !x.startsWith('won')))
        expect(l).toMatch(/^refused .*is in use by another run \(pid \d+/);
      const winner = children[lines.findIndex((l) => l.startsWith('won'))]!.child;
      expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(winner.pid);
      // Nothing left of the takers' own files but the lock.
      expect(readdirSync(dir).sort()).toEqual([LOCK_FILE, 'go']);
    } finally {
      for (const c of children) c.child.kill('SIGKILL');
    }
  });

  it('a lock file a killed taker left behind is cleaned at the next start', () => {
    const dir = tempDir();
    const leftover = `${LOCK_FILE}.${2 ** 22 + 7}-0a1b2c3d.tmp`;
    writeFiles(dir, { [leftover]: '{}', 'run.json': '{}' });
    recoverRunFolder(dir);
    expect(readdirSync(dir)).toEqual(['run.json']);
  });
});

describe('housekeeping after a kill', () => {
  it('a prune killed mid-delete leaves a trash folder, never a step-N that looks complete; the next start removes it', () => {
    const run = tempDir();
    for (const step of [1, 2, 3]) {
      writeFiles(path.join(run, 'checkpoints', `step-${step}`), {
        'model.safetensors': 'w',
        'trainer_state.json': `{"step": ${step}}`,
      });
    }
    fault.failRemoveOf = '.trash-step-1';
    expect(() => pruneCheckpoints(run, 2)).toThrow('killed while deleting');
    fault.failRemoveOf = '';
    expect(listCheckpoints(run).map((c) => c.step)).toEqual([2, 3]);
    expect(readdirSync(path.join(run, 'checkpoints')).sort()).toEqual([
      `.trash-step-1-${process.pid}`,
      'step-2',
      'step-3',
    ]);
    expect(recoverRunFolder(run)).toEqual([`removed checkpoints/.trash-step-1-${process.pid}`]);
    expect(readdirSync(path.join(run, 'checkpoints')).sort()).toEqual(['step-2', 'step-3']);
  });

  it('restores final/ when a save was killed between its two renames, and cleans temporary folders', () => {
    const run = writeFiles(tempDir(), {
      '.old-final-4242/model.safetensors': 'the saved model',
      '.tmp-final-4242/model.safetensors': 'half of a new one',
      'checkpoints/.tmp-step-9-4242/model.safetensors': 'half',
    });
    expect(recoverRunFolder(run)).toEqual([
      'restored final/ from .old-final-4242 (a save of final/ was interrupted)',
      'removed .tmp-final-4242',
      'removed checkpoints/.tmp-step-9-4242',
    ]);
    expect(readFileSync(path.join(run, 'final', 'model.safetensors'), 'utf8')).toBe('the saved model');
    expect(readdirSync(run).sort()).toEqual(['checkpoints', 'final']);
  });

  it('resuming from an earlier checkpoint sets the newer ones and final/ aside, so latest and pruning see one history', () => {
    const run = tempDir();
    for (const step of [10, 20, 30]) {
      writeFiles(path.join(run, 'checkpoints', `step-${step}`), { 'trainer_state.json': `{"step":${step}}` });
    }
    writeFiles(path.join(run, 'final'), { 'model.safetensors': 'x' });
    mkdirSync(path.join(run, 'checkpoints', 'abandoned-step-20')); // from an earlier rewind
    expect(setAsideNewerCheckpoints(run, 10)).toEqual([
      path.join('checkpoints', 'abandoned-step-20-2'),
      path.join('checkpoints', 'abandoned-step-30'),
      'abandoned-final',
    ]);
    expect(listCheckpoints(run).map((c) => c.step)).toEqual([10]);
    expect(readFileSync(path.join(run, 'abandoned-final', 'model.safetensors'), 'utf8')).toBe('x');
    // From the newest: nothing to set aside.
    expect(setAsideNewerCheckpoints(run, 10)).toEqual([]);
  });

  it('a resume cuts metrics.jsonl (by step) and trace.jsonl (by time) back to the checkpoint', () => {
    const run = writeFiles(tempDir(), {
      'metrics.jsonl':
        [1, 2, 3, 4].map((step) => JSON.stringify({ name: 'loss', value: 1 / step, step })).join('\n') +
        '\n{"name": "loss", "val', // a line cut by the kill
      'trace.jsonl': [100, 200, 300].map((start) => JSON.stringify({ hook: 'log_step', start })).join('\n') + '\n',
    });
    expect(truncateForResume(run, 2, 200)).toBe(4);
    const steps = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(steps.map((l) => JSON.parse(l).step)).toEqual([1, 2]);
    const trace = readFileSync(path.join(run, 'trace.jsonl'), 'utf8').trim().split('\n');
    expect(trace.map((l) => JSON.parse(l).start)).toEqual([100, 200]);
  });
});

describe('a full disk while rewriting run.json', () => {
  it('names the file, keeps the old run.json whole, and leaves no temporary file', () => {
    const dir = tempDir();
    writeRunRecord(dir, record('running'));
    fault.failWritesTo = 'run.json';
    let error: DumboError | undefined;
    try {
      writeRunRecord(dir, record('completed'));
    } catch (e) {
      error = e as DumboError;
    }
    expect(formatError(error)).toBe(`${path.join(dir, 'run.json')}: cannot write: no space left on device (ENOSPC)`);
    expect(readRunRecord(dir)?.status).toBe('running');
    expect(readdirSync(dir)).toEqual(['run.json']);
  });

  it("a run whose last run.json write fails reports that failure, not an end the record doesn't show", async () => {
    setConsoleLogLevel('off');
    // The trainer fills the disk (for run.json) just before it returns: the final status cannot be written.
    const dir = writeFiles(tempDir(), {
      'filler/index.js': `import { BasePlugin, Ok } from 'dumbo';
export class Filler extends BasePlugin {
  static provides = ['trainer'];
  hooks() { return { trainer: () => { globalThis.__dumboFillDisk(); return Ok({ steps: 1, finalLoss: 1 }); } }; }
}
export const AVAILABLE_PLUGINS = [Filler];
`,
      'run.yaml': 'plugins: [./filler]\n',
    });
    (globalThis as { __dumboFillDisk?: () => void }).__dumboFillDisk = () => (fault.failWritesTo = 'run.json');
    const messages: HostMessage[] = [];
    const outcome = await executeRun(
      { type: 'start', configFile: path.join(dir, 'run.yaml'), cwd: dir, outputDir: 'out', userPluginDir: tempDir() },
      (m) => messages.push(m),
    );
    setConsoleLogLevel('info');
    const runJson = path.join(dir, 'out', 'run.json');
    expect(outcome).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(outcome.error?.message).toBe(`cannot write: no space left on device (ENOSPC)`);
    expect(outcome.error?.location?.file).toBe(runJson);
    expect(readRunRecord(path.join(dir, 'out'))?.status).toBe('running'); // the last record that was written
    expect(readdirSync(path.join(dir, 'out')).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(messages.some((m) => m.type === 'status' && m.status === 'completed')).toBe(false);
  });
});

describe('OpenRunFolder: the files of one run, held by this host', () => {
  const open = (cwd: string) =>
    OpenRunFolder.open(
      { type: 'start', configFile: 'c.yaml', outputDir: 'out' },
      parseConfig('plugins: []\n', path.join(cwd, 'c.yaml')),
      'c',
      cwd,
    );

  it('gives its lock back when the folder cannot be made ready (a full disk for config.yaml)', () => {
    const cwd = tempDir();
    fault.failWritesTo = 'config.yaml';
    expect(() => open(cwd)).toThrow(/no space left on device/);
    expect(readdirSync(path.join(cwd, 'out'))).toEqual([]);
  });

  it('reads the signal its stop file names, and on close removes the stop file and gives the lock up', () => {
    const folder = open(tempDir());
    expect(readdirSync(folder.dir).sort()).toEqual([
      LOCK_FILE,
      'config.yaml',
      'log.txt',
      'metrics.jsonl',
      'trace.jsonl',
    ]);
    expect(folder.stopRequest()).toBeUndefined();
    writeFileSync(folder.files.stop, JSON.stringify({ at: 1, signal: 'SIGTERM' }));
    expect(folder.stopRequest()).toEqual({ signal: 'SIGTERM' });
    writeFileSync(folder.files.stop, '1700000000'); // an older host's stop file: a plain stop
    expect(folder.stopRequest()).toEqual({});
    folder.begin({ name: 'c', configFile: '/c.yaml', versions: { dumbo: '0', node: process.version, plugins: [] } });
    folder.setStatus('completed');
    folder.close();
    expect(readRunRecord(folder.dir)).toMatchObject({ name: 'c', status: 'completed', runFolder: folder.dir });
    expect(existsSync(folder.files.stop)).toBe(false);
    expect(existsSync(folder.files.lock)).toBe(false);
  });
});
