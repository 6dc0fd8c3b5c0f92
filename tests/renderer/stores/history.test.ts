// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { useRunHistoryStore } from '../../../src/renderer/src/stores/history.js';
import { useRunsStore } from '../../../src/renderer/src/stores/runs.js';
import type { MetricPoint, RunDetail } from '../../../src/shared/api.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

const point = (name: string, step: number, value: number): MetricPoint => ({
  name,
  value,
  step,
  timestamp: 1000 + step * 60,
});

const DETAILS: Record<string, RunDetail> = {
  a: {
    summary: summary({ id: 'a', name: 'first', status: 'completed', configFile: '/c/first.yaml' }),
    metrics: [point('loss', 1, 2), point('loss', 2, 1), point('eval/loss', 2, 1.5), point('lr', 1, 0.1)],
    trace: [],
    log: [],
    config: 'name: first\ntraining:\n  learning_rate: 0.005\n  batch_size: 8\n',
  },
  b: {
    summary: summary({ id: 'b', name: 'second', status: 'stopped', configFile: '/c/second.yaml' }),
    metrics: [point('loss', 1, 3), point('eval/loss', 1, 2.5)],
    trace: [],
    log: [],
    config: 'name: second\nresume_from: latest\ntraining:\n  learning_rate: 0.01\n  batch_size: 8\n',
  },
  c: {
    summary: summary({ id: 'c', name: 'third', status: 'crashed', configSource: 'untitled' }),
    metrics: [],
    trace: [],
    log: [],
    config: 'name: third\ntraining:\n  learning_rate: 0.02\n  batch_size: 8\n',
  },
};

let api: FakeApi;
beforeEach(() => {
  api = createFakeApi({
    listRuns: async () => Object.values(DETAILS).map((d) => d.summary),
    getRun: async (id) => {
      const detail = DETAILS[id];
      if (!detail) throw new Error(`no run '${id}'`);
      return detail;
    },
  });
  provideClient(api);
  setActivePinia(createPinia());
});

describe('the run history store', () => {
  it('lists past runs and opens one with its series and config', async () => {
    const history = useRunHistoryStore();
    await history.loadRuns();
    expect(history.runs.map((r) => r.name)).toEqual(['first', 'second', 'third']);
    await history.openRun('a');
    expect(history.selected?.summary.id).toBe('a');
    expect(history.selectedSeries.get('loss')!.length).toBe(2);
    expect(history.selectedConfig.get('training.learning_rate')).toBe('5e-3');
  });

  it('compares any number of runs on the chosen metric, labelled by how their configs differ', async () => {
    const history = useRunHistoryStore();
    for (const id of ['a', 'b', 'c']) await history.toggleCompare(id);
    expect(history.compareIds).toEqual(['a', 'b', 'c']);
    expect(history.differences).toEqual(['training.learning_rate']);
    expect(history.compareMetric).toBe('eval/loss');
    expect(history.compareLines.map((l) => [l.runId, l.difference, l.raw.length])).toEqual([
      ['a', 'lr=5e-3', 1],
      ['b', 'lr=0.01', 1],
      ['c', 'lr=0.02', 0],
    ]);
    expect(history.compareLines[0]!.label).toMatch(/^first · /);

    history.compareMetric = 'loss';
    history.smoothing = 0;
    expect(history.compareLines[0]!.smoothed).toEqual([
      { x: 1, y: 2 },
      { x: 2, y: 1 },
    ]);
    history.xAxis = 'time';
    expect(history.compareLines[0]!.raw.map((p) => p.x)).toEqual([0, 1]);

    // The first two side by side; taking one out compares the others.
    expect(history.configDiff?.rows.find((r) => r.key === 'training.learning_rate')).toMatchObject({
      left: '5e-3',
      right: '0.01',
      differs: true,
    });
    await history.toggleCompare('a');
    expect(history.configDiff?.left.id).toBe('b');
    await history.toggleCompare('nope');
    expect(history.compareIds).toEqual(['b', 'c']);
    expect(history.error).toMatch(/Cannot read run nope/);
  });

  it('resumes a run through the run panel, which then shows it', async () => {
    const history = useRunHistoryStore();
    await history.loadRuns();
    await history.resume('b');
    expect(api.resumeRun).toHaveBeenCalledWith('b');
    const live = useRunsStore();
    expect(live.run?.id).toBe('b');
    // The panel shows what the run recorded before it stopped, not only what comes after the resume.
    expect(api.getRun).toHaveBeenCalledWith('b');
    expect(live.series.get('loss')?.map((p) => p.step)).toEqual([1]);
    expect(history.notice).toBe('Resumed second: the Workbench shows it.');

    api.resumeRun.mockRejectedValueOnce(new Error('run b is completed: only a stopped or crashed run can be resumed'));
    await history.resume('b');
    expect(history.error).toMatch(/Cannot resume run b: .*only a stopped or crashed run/);
  });

  it("clones a run's config into the editor as untitled, its relative paths still the config's", async () => {
    const history = useRunHistoryStore();
    const config = useConfigStore();
    expect(await history.cloneToEditor('b')).toBe(true);
    expect(config.text).toBe('name: second\ntraining:\n  learning_rate: 0.01\n  batch_size: 8\n');
    expect(config.path).toBe('');
    expect(config.filePath).toBe('/c/second.yaml');
    // An untitled run's config stays untitled.
    await history.cloneToEditor('c');
    expect(config.filePath).toBe('untitled.yaml');
  });

  it('re-runs a run as a new run of its config', async () => {
    const history = useRunHistoryStore();
    await history.rerun('b');
    expect(api.runConfig).toHaveBeenCalledWith(
      'name: second\ntraining:\n  learning_rate: 0.01\n  batch_size: 8\n',
      '/c/second.yaml',
    );
    await history.rerun('c');
    expect(api.runConfig).toHaveBeenLastCalledWith(expect.stringContaining('name: third'), undefined);
    api.runConfig.mockRejectedValueOnce(new Error('untitled.yaml:1:1: no trainer'));
    await history.rerun('c');
    expect(history.error).toMatch(/Cannot re-run c: untitled\.yaml:1:1: no trainer/);
  });

  it('deletes a run only after the yes, and forgets it everywhere', async () => {
    const history = useRunHistoryStore();
    await history.loadRuns();
    await history.openRun('a');
    await history.toggleCompare('a');
    history.askDelete('a');
    expect(history.pendingDelete).toBe('a');
    history.cancelDelete();
    await history.confirmDelete();
    expect(api.deleteRun).not.toHaveBeenCalled();

    history.askDelete('a');
    await history.confirmDelete();
    expect(api.deleteRun).toHaveBeenCalledWith('a');
    expect(history.runs.map((r) => r.id)).toEqual(['b', 'c']);
    expect(history.selected).toBeUndefined();
    expect(history.compareIds).toEqual([]);

    api.deleteRun.mockRejectedValueOnce(new Error('run b is running: stop it before deleting it'));
    history.askDelete('b');
    await history.confirmDelete();
    expect(history.error).toMatch(/Cannot delete run b: run b is running/);
    expect(history.runs.map((r) => r.id)).toEqual(['b', 'c']);
  });

  it('generates text from a completed run only', async () => {
    const history = useRunHistoryStore();
    await history.openRun('b');
    await history.generate('Once', { maxNewTokens: 5, temperature: 0.7 });
    expect(api.generate).not.toHaveBeenCalled();
    expect(history.generateError).toMatch(/completed run/);

    await history.openRun('a');
    await history.generate('Once', { maxNewTokens: 5, temperature: 0.7 });
    expect(api.generate).toHaveBeenCalledWith('a', 'Once', { maxNewTokens: 5, temperature: 0.7 });
    expect(history.generated).toBe('generated text');
  });

  it('adds and updates runs as their status changes', async () => {
    const history = useRunHistoryStore();
    await history.loadRuns();
    history.receive({ type: 'run-status', run: summary({ id: 'd', name: 'fourth', status: 'running' }) });
    history.receive({ type: 'run-status', run: summary({ id: 'b', name: 'second', status: 'crashed' }) });
    expect(history.runs.map((r) => `${r.id}:${r.status}`)).toEqual([
      'd:running',
      'a:completed',
      'b:crashed',
      'c:crashed',
    ]);
  });
});
