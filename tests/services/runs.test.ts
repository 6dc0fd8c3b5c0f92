// The run manager of the service layer: runs in forked run hosts (dist/host/entry.js), their live events,
// stop, crash, resume, and the history read back from run folders.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { AppEvent, MetricPoint, RunSummary } from '../../src/shared/api.js';
import { deafTrainerJs, toyTrainerJs } from '../fixtures/plugins.js';
import { writeFiles } from '../helpers.js';
import { harness, statuses } from './harness.js';

const crasherJs = `import { BasePlugin } from 'dumbo';
export class Crasher extends BasePlugin {
  static provides = ['trainer'];
  hooks() { return { trainer: () => { process.stderr.write('about to die\\n'); process.exit(7); } }; }
}
export const AVAILABLE_PLUGINS = [Crasher];
`;

// A trainer whose timer throws where no hook can catch it: the host dies of it.
const killerJs = `import { BasePlugin } from 'dumbo';
export class Killer extends BasePlugin {
  static provides = ['trainer'];
  hooks() { return { trainer: () => new Promise(() => setTimeout(() => { throw new Error('boom in a timer'); }, 10)) }; }
}
export const AVAILABLE_PLUGINS = [Killer];
`;

// A model loader whose model reports its info (what log_model and the app's model panel get).
const toyModelJs = `import { ModelLoaderPlugin, Ok } from 'dumbo';
export class ToyModel extends ModelLoaderPlugin {
  static configKey = 'toy_model';
  static provides = ['model_loader'];
  loadModel() {
    const info = { architecture: 'ToyLM', layers: 2, parametersTotal: 10, tensors: [{ name: 'w', shape: [2, 5], parameters: 10, trainable: true }] };
    return Ok({ architecture: 'ToyLM', config: {}, info: () => info });
  }
}
export const AVAILABLE_PLUGINS = [ToyModel];
`;

const isStatus = (id: string, status: string) => (e: AppEvent) =>
  e.type === 'run-status' && e.run.id === id && e.run.status === status;

describe('services: runs', () => {
  const h = harness({ stopGraceMs: 1_000 });
  const files = () =>
    writeFiles(h.cwd, {
      't/index.js': toyTrainerJs,
      'm/index.js': toyModelJs,
      'c/index.js': crasherJs,
      'k/index.js': killerJs,
      's/index.js': deafTrainerJs,
      'toy.yaml': 'name: toy\nplugins: [./m, ./t]\ntoy_trainer: {steps: 3}\n',
      'busy.yaml': 'name: busy\nplugins: [./t]\ntoy_trainer: {steps: 500, busy_ms: 20}\n',
      'crash.yaml': 'name: crash\nplugins: [./c]\n',
      'dead.yaml': 'name: dead\nplugins: [./k]\n',
      'stubborn.yaml': 'name: stubborn\nplugins: [./s]\n',
      'bad.yaml': 'plugins: [./t]\ntoy_trainer: {steps: zero}\n',
    });
  let toy: RunSummary;
  let busy: RunSummary;

  it('startRun runs a config in a run host and streams status, metrics, progress, log and trace events', async () => {
    files();
    toy = await h.services.calls.startRun('toy.yaml');
    expect(toy).toMatchObject({ name: 'toy', status: 'running', configFile: path.join(h.cwd, 'toy.yaml') });
    expect(path.dirname(toy.runFolder)).toBe(path.join(h.cwd, 'runs'));
    expect(toy.id).toBe(path.basename(toy.runFolder));
    const done = await h.waitFor(isStatus(toy.id, 'completed'));
    expect(done.type === 'run-status' && done.run).toMatchObject({ steps: 3, exitReason: 'completed' });
    expect(statuses(h.events, toy.id)).toEqual(['running', 'completed']);

    const points = h.events.flatMap((e) => (e.type === 'run-metrics' && e.runId === toy.id ? e.points : []));
    expect(points.filter((p) => p.name === 'loss').map((p) => p.step)).toEqual([1, 2, 3]);
    const progress = h.events.filter((e) => e.type === 'run-progress' && e.runId === toy.id);
    expect(progress.at(-1)).toMatchObject({ step: 3, totalSteps: 3 });
    const lines = h.events.flatMap((e) => (e.type === 'run-log' && e.runId === toy.id ? e.lines : []));
    expect(lines.some((l) => l.includes(`run folder: ${toy.runFolder}`))).toBe(true);
    const rows = h.events.flatMap((e) => (e.type === 'run-trace' && e.runId === toy.id ? e.rows : []));
    expect(rows.find((r) => r.hook === 'trainer')).toMatchObject({ ok: true });
    const model = h.events.find((e) => e.type === 'run-model' && e.runId === toy.id);
    expect(model).toMatchObject({ info: { architecture: 'ToyLM', layers: 2, parametersTotal: 10 } });
    // Coalesced: fewer metric events than metric points (3 steps × 2 metrics).
    expect(h.events.filter((e) => e.type === 'run-metrics' && e.runId === toy.id).length).toBeLessThan(points.length);
  });

  it('a config error rejects startRun with its location, and leaves no run', async () => {
    await expect(h.services.calls.startRun('bad.yaml')).rejects.toThrow(/bad\.yaml:2:\d+: toy_trainer\.steps/);
  });

  it('stopRun on a busy run: stopping, then stopped after the current step', async () => {
    busy = await h.services.calls.startRun('busy.yaml');
    await h.waitFor((e) => e.type === 'run-metrics' && e.runId === busy.id);
    await h.services.calls.stopRun(busy.id);
    await h.waitFor(isStatus(busy.id, 'stopped'));
    expect(statuses(h.events, busy.id)).toEqual(['running', 'stopping', 'stopped']);
    const record = JSON.parse(readFileSync(path.join(busy.runFolder, 'run.json'), 'utf8'));
    expect(record).toMatchObject({ status: 'stopped', exitReason: 'stopped by the user' });
    expect(record.steps).toBeLessThan(500);
    // The host removes its stop file as it ends.
    await vi.waitFor(() => expect(existsSync(path.join(busy.runFolder, '.stop'))).toBe(false));
    await expect(h.services.calls.stopRun(busy.id)).rejects.toThrow(/not running \(stopped\)/);
  });

  it("a trainer's process.exit() fails the run naming the plugin; a host that dies makes it crashed", async () => {
    const run = await h.services.calls.startRun('crash.yaml');
    const failed = await h.waitFor(isStatus(run.id, 'failed'));
    expect(failed.type === 'run-status' && failed.run.exitReason).toMatch(
      /plugin crasher, hook trainer: called process\.exit\(7\)/,
    );
    expect(existsSync(path.join(run.runFolder, 'config.yaml'))).toBe(true);

    const dead = await h.services.calls.startRun('dead.yaml');
    const crashed = await h.waitFor(isStatus(dead.id, 'crashed'));
    expect(crashed.type === 'run-status' && crashed.run.exitReason).toMatch(
      /the run host exited with code 1: plugin killer, hook trainer: boom in a timer/,
    );
    const record = JSON.parse(readFileSync(path.join(dead.runFolder, 'run.json'), 'utf8'));
    expect(record).toMatchObject({ status: 'crashed', exitReason: expect.stringMatching(/boom in a timer/) });
  });

  it('a run that ignores the stop request is killed after the grace period, and recorded as stopped', async () => {
    const run = await h.services.calls.startRun('stubborn.yaml');
    await h.waitFor((e) => e.type === 'run-metrics' && e.runId === run.id);
    await h.services.calls.stopRun(run.id);
    const stopped = await h.waitFor(isStatus(run.id, 'stopped'));
    expect(stopped.type === 'run-status' && stopped.run.exitReason).toMatch(/did not stop within 1 s/);
    expect(JSON.parse(readFileSync(path.join(run.runFolder, 'run.json'), 'utf8')).status).toBe('stopped');
  });

  it('listRuns and getRun read the history from the run folders', async () => {
    const runs = await h.services.calls.listRuns();
    expect(runs.map((r) => r.name).sort()).toEqual(['busy', 'crash', 'dead', 'stubborn', 'toy']);
    const summary = runs.find((r) => r.id === toy.id)!;
    expect(summary).toMatchObject({ status: 'completed', steps: 3, finalLoss: expect.closeTo(4 * 0.8 ** 3, 6) });
    expect(summary.durationS).toBeGreaterThan(0);
    // A run that failed before its first step keeps its folder (config, log, the reason), marked failed,
    // and is listed once.
    const crashed = runs.filter((r) => r.name === 'crash');
    expect(crashed).toHaveLength(1);
    expect(crashed[0]).toMatchObject({ status: 'failed', exitReason: expect.stringMatching(/process\.exit\(7\)/) });
    expect(crashed[0]!.steps ?? 0).toBe(0);

    const detail = await h.services.calls.getRun(toy.id);
    expect(detail.summary.id).toBe(toy.id);
    expect(detail.metrics.filter((p: MetricPoint) => p.name === 'loss')).toHaveLength(3);
    expect(detail.trace.some((r) => r.hook === 'trainer' && r.ok)).toBe(true);
    expect(detail.log.some((l) => l.includes('run folder:'))).toBe(true);
    expect(detail.progress).toEqual({ step: 3 });
    expect(detail.modelInfo).toMatchObject({
      architecture: 'ToyLM',
      tensors: [{ name: 'w', shape: [2, 5], parameters: 10, trainable: true }],
    });
    await expect(h.services.calls.getRun('nope')).rejects.toThrow(/no run 'nope'/);
    await expect(h.services.calls.getRun('../..')).rejects.toThrow(/no run/);
  });

  it('startRun with a run id resumes it in its own folder (resume_from: latest)', async () => {
    const from = h.events.length;
    const starting = h.services.calls.startRun('busy.yaml', busy.id);
    // A second Resume before the first host has started: refused, not a second host in the folder.
    await expect(h.services.calls.startRun('busy.yaml', busy.id)).rejects.toThrow(
      `run ${busy.id} is being resumed already`,
    );
    const again = await starting;
    expect(again.id).toBe(busy.id);
    expect(again.runFolder).toBe(busy.runFolder);
    await h.waitFor((e) => e.type === 'run-metrics' && e.runId === busy.id, { from });
    const record = JSON.parse(readFileSync(path.join(busy.runFolder, 'run.json'), 'utf8'));
    expect(record.resumeFrom).toBe('latest');
    await h.services.calls.stopRun(busy.id);
    await h.waitFor(isStatus(busy.id, 'stopped'), { from });
    expect(statuses(h.events.slice(from), busy.id)).toEqual(['running', 'stopping', 'stopped']);
  });
});
