// History as a place to manage runs: a resumed run's time is the sum of its parts, the history's columns
// (eval loss, tokens/s) come from metrics.jsonl, the history lists every runs folder and run folder the
// settings remember, Resume continues a run another process started, Delete never removes a live run.
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricStats, runDurationS } from '../../src/services/run-history.js';
import { SettingsStore } from '../../src/services/settings.js';
import type { AppEvent, RunSummary } from '../../src/shared/api.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { tempDir, writeFiles } from '../helpers.js';
import { harness, statuses } from './harness.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();

/** A run folder as a run host leaves it, written by hand. */
function fakeRun(folder: string, record: Record<string, unknown> = {}, metrics: object[] = []): string {
  return writeFiles(folder, {
    'run.json': JSON.stringify({
      name: path.basename(folder),
      status: 'stopped',
      configFile: path.join(folder, '..', 'config.yaml'),
      runFolder: folder,
      startedAt: at(0),
      endedAt: at(10),
      versions: { dumbo: '0', node: process.version, plugins: [] },
      observerFailures: [],
      ...record,
    }),
    'config.yaml': 'name: fake\ntraining:\n  learning_rate: 0.01\n',
    'metrics.jsonl': metrics.map((m) => JSON.stringify(m) + '\n').join(''),
  });
}

describe("a run's duration", () => {
  it('is its end minus its start when it ran in one go', () => {
    expect(runDurationS({ startedAt: at(0), endedAt: at(10) })).toBe(10);
  });

  it('counts only the parts a resumed run ran, not the time it lay stopped', () => {
    const resumes = [
      { at: at(100), checkpoint: 'step-5', previousEndedAt: at(10) },
      { at: at(1000), checkpoint: 'step-9', previousEndedAt: at(130) },
    ];
    expect(runDurationS({ startedAt: at(0), endedAt: at(1005), resumes })).toBe(10 + 30 + 5);
  });

  it('ends a part whose end was not recorded when the next began, and a run still going now', () => {
    const resumes = [{ at: at(100), checkpoint: 'latest' }];
    expect(runDurationS({ startedAt: at(0), endedAt: at(110), resumes })).toBe(110);
    expect(runDurationS({ startedAt: at(0), resumes }, Date.parse(at(130)))).toBe(130);
    expect(runDurationS({ startedAt: at(0) })).toBeUndefined();
  });
});

describe("the history's columns", () => {
  it('best and final eval loss and the median tokens/s, read again when metrics.jsonl changes', () => {
    const folder = fakeRun(path.join(tempDir(), 'r'), {}, [
      { name: 'eval/loss', value: 3, step: 10, timestamp: 1 },
      { name: 'eval/loss', value: 2, step: 20, timestamp: 2 },
      { name: 'eval/loss', value: 2.5, step: 30, timestamp: 3 },
      { name: 'tokens_per_s', value: 10, step: 1, timestamp: 1 },
      { name: 'tokens_per_s', value: 400, step: 2, timestamp: 2 },
      { name: 'tokens_per_s', value: 500, step: 3, timestamp: 3 },
      { name: 'loss', value: 9, step: 3, timestamp: 3 },
    ]);
    expect(metricStats(folder)).toEqual({ bestEvalLoss: 2, finalEvalLoss: 2.5, tokensPerS: 400 });
    const file = path.join(folder, 'metrics.jsonl');
    writeFileSync(file, JSON.stringify({ name: 'eval/loss', value: 1, step: 1, timestamp: 1 }) + '\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(metricStats(folder)).toEqual({ bestEvalLoss: 1, finalEvalLoss: 1 });
    expect(metricStats(path.join(folder, 'nothing'))).toEqual({});
  });
});

describe('the run places the settings remember', () => {
  it('keep the most recent first, each once, and forget the oldest past their caps', () => {
    const settings = new SettingsStore({ cwd: tempDir() });
    const roots = Array.from({ length: 25 }, (_, i) => `/r${i}/runs`);
    for (const root of roots) settings.recordRunFolder(`${root}/2026-01-01-000000-x`);
    settings.recordRunFolder('/r3/runs/2026-01-02-000000-y');
    // r0..r4 went past the cap of 20; r3, run again, comes back first and r5 goes.
    expect(settings.runRoots()).toEqual(['/r3/runs', ...roots.slice(6).reverse()]);
    for (let i = 0; i < 205; i++) settings.recordRunFolder(`/mine/out-${i}`);
    expect(settings.runFolders()).toHaveLength(200);
    expect(settings.runFolders()[0]).toBe('/mine/out-204');
    settings.forgetRunFolder('/mine/out-204');
    expect(settings.runFolders()[0]).toBe('/mine/out-203');
  });
});

const isStatus = (id: string, status: string) => (e: AppEvent) =>
  e.type === 'run-status' && e.run.id === id && e.run.status === status;

describe('services: the history manages runs', () => {
  // Two services on the same settings with different working folders: the desktop app and `dumbo serve`
  // started elsewhere, or a server restarted in another folder.
  const a = harness({ stopGraceMs: 1_000 });
  const b = harness({ stopGraceMs: 1_000, settingsDir: a.settingsDir });
  writeFiles(a.cwd, {
    't/index.js': toyTrainerJs,
    'busy.yaml': 'name: busy\nplugins: [./t]\ntoy_trainer: {steps: 500, busy_ms: 20}\n',
    'toy.yaml': 'name: toy\nplugins: [./t]\ntoy_trainer: {steps: 2}\n',
  });
  let busy: RunSummary;

  it("lists the runs of another service's runs folder, and resumes one it did not start", async () => {
    busy = await a.services.calls.startRun('busy.yaml');
    await a.waitFor((e) => e.type === 'run-metrics' && e.runId === busy.id);
    await a.services.calls.stopRun(busy.id);
    await a.waitFor(isStatus(busy.id, 'stopped'));

    const listed = (await b.services.calls.listRuns()).find((r) => r.runFolder === busy.runFolder);
    expect(listed).toMatchObject({ name: 'busy', status: 'stopped' });
    expect(listed!.id).toMatch(/^ext-[0-9a-f]{8}-/);
    const detail = await b.services.calls.getRun(listed!.id);
    expect(detail.config).toMatch(/toy_trainer:\s+steps: 500/);

    const resumed = await b.services.calls.resumeRun(listed!.id);
    expect(resumed).toMatchObject({ id: listed!.id, runFolder: busy.runFolder, status: 'running' });
    await b.waitFor((e) => e.type === 'run-metrics' && e.runId === listed!.id);
    // While b runs it, a neither resumes nor deletes it: its folder is held by a live run host.
    await expect(a.services.calls.resumeRun(busy.id)).rejects.toThrow(/in use by process \d+|is running/);
    await expect(a.services.calls.deleteRun(busy.id)).rejects.toThrow(/in use by process \d+|is running/);
    await expect(b.services.calls.deleteRun(listed!.id)).rejects.toThrow(/is running: stop it before deleting it/);
    await b.services.calls.stopRun(listed!.id);
    await b.waitFor(isStatus(listed!.id, 'stopped'));
    expect(statuses(b.events, listed!.id)).toEqual(['running', 'stopping', 'stopped']);

    const record = JSON.parse(readFileSync(path.join(busy.runFolder, 'run.json'), 'utf8'));
    expect(record.resumes).toHaveLength(1);
    expect(record.resumes[0].previousEndedAt).toEqual(expect.any(String));
    const again = (await a.services.calls.listRuns()).find((r) => r.id === busy.id)!;
    const wallS = (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000;
    const idleS = (Date.parse(record.resumes[0].at) - Date.parse(record.resumes[0].previousEndedAt)) / 1000;
    expect(again.durationS).toBeCloseTo(wallS - idleS, 3);
  });

  it('resumes only a stopped or crashed run', async () => {
    const toy = await a.services.calls.startRun('toy.yaml');
    await a.waitFor(isStatus(toy.id, 'completed'));
    await expect(a.services.calls.resumeRun(toy.id)).rejects.toThrow(
      `run ${toy.id} is completed: only a stopped or crashed run can be resumed`,
    );
    await expect(a.services.calls.resumeRun('nope')).rejects.toThrow(/no run 'nope'/);
  });

  it('lists every runs folder and run folder the settings remember (as `dumbo run` records them)', async () => {
    const elsewhere = tempDir();
    const inRoot = fakeRun(path.join(elsewhere, 'runs', '2026-01-01-000000-cli'));
    const ownFolder = fakeRun(path.join(elsewhere, 'my-output'));
    const settings = new SettingsStore({ cwd: a.settingsDir });
    settings.recordRunFolder(inRoot);
    settings.recordRunFolder(ownFolder);
    expect(settings.runRoots()).toContain(path.join(elsewhere, 'runs'));
    expect(settings.runFolders()).toContain(ownFolder);
    // A second run of that runs folder, never recorded itself, is listed with it.
    const sibling = fakeRun(path.join(elsewhere, 'runs', '2026-01-02-000000-other'));
    const folders = (await b.services.calls.listRuns()).map((r) => r.runFolder);
    expect(folders).toEqual(expect.arrayContaining([inRoot, ownFolder, sibling]));
  });

  it('deletes a run folder after it ended, never one a live process holds or whose record says it runs', async () => {
    const root = path.join(a.cwd, 'runs');
    const ended = fakeRun(path.join(root, 'ended'));
    const locked = fakeRun(path.join(root, 'locked'));
    writeFileSync(
      path.join(locked, '.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }),
    );
    const remote = fakeRun(path.join(root, 'remote'), { status: 'running', host: 'another-machine', pid: 1 });

    await expect(a.services.calls.deleteRun('locked')).rejects.toThrow(
      `run locked is in use by process ${process.pid} on ${os.hostname()}: stop it first`,
    );
    await expect(a.services.calls.deleteRun('remote')).rejects.toThrow(/run remote is running: stop it before/);
    expect(existsSync(locked) && existsSync(remote)).toBe(true);

    await a.services.calls.deleteRun('ended');
    expect(existsSync(ended)).toBe(false);
    expect((await a.services.calls.listRuns()).map((r) => r.id)).not.toContain('ended');
    await expect(a.services.calls.deleteRun('ended')).rejects.toThrow(/no run 'ended'/);
    await expect(a.services.calls.deleteRun('../work')).rejects.toThrow(/no run/);
  });

  it('waits for the ended run host of another process to let go of the folder, then resumes', async () => {
    const folder = fakeRun(path.join(a.cwd, 'runs', 'closing'));
    const lock = path.join(folder, '.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }));
    const resuming = a.services.calls.resumeRun('closing');
    await new Promise((resolve) => setTimeout(resolve, 300));
    rmSync(lock);
    // It went on to start a run host (which refuses the hand-written config, or runs it): not "in use".
    const outcome = await resuming.then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(outcome).not.toMatch(/in use/);
  });

  it('forgets a deleted run folder of its own choosing', async () => {
    const own = fakeRun(path.join(tempDir(), 'picked'));
    const settings = new SettingsStore({ cwd: a.settingsDir });
    settings.recordRunFolder(own);
    const id = (await a.services.calls.listRuns()).find((r) => r.runFolder === own)!.id;
    await a.services.calls.deleteRun(id);
    expect(existsSync(own)).toBe(false);
    expect(settings.runFolders()).not.toContain(own);
  });
});
