// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { useRunsStore } from '../../../src/renderer/src/stores/runs.js';
import type { MetricPoint, RunSummary } from '../../../src/shared/api.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

const nextFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const loss = (step: number): MetricPoint => ({ name: 'loss', value: 1 / step, step, timestamp: step });

let api: FakeApi;
beforeEach(() => {
  api = createFakeApi({ openConfig: async (path) => ({ path, text: 'name: q\n' }) });
  provideClient(api);
  setActivePinia(createPinia());
  // As the workbench does on start (lib/startup.ts).
  api.onEvent((event) => useRunsStore().receive(event));
});

async function startedRun() {
  const config = useConfigStore();
  await config.open('/c/q.yaml');
  const runs = useRunsStore();
  await runs.start();
  return runs;
}

describe('the runs store', () => {
  it('applies a burst of metric events in one reactive update, on the next frame', async () => {
    const runs = await startedRun();
    const before = runs.revision;

    api.emit({ type: 'run-metrics', runId: 'run-1', points: [loss(1), loss(2)] });
    api.emit({ type: 'run-metrics', runId: 'run-1', points: [loss(3)] });
    api.emit({ type: 'run-metrics', runId: 'run-1', points: [loss(4), { ...loss(4), name: 'lr', value: 0.01 }] });
    expect(runs.revision).toBe(before);
    expect(runs.series.get('loss')).toBeUndefined();

    await nextFrame();
    expect(runs.revision).toBe(before + 1);
    expect(runs.series.get('loss')!.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(runs.series.get('lr')!.length).toBe(1);
  });

  it('takes the status from run-status events', async () => {
    const runs = await startedRun();
    expect(runs.status).toBe('pending');
    api.emit({ type: 'run-status', run: summary({ status: 'running', backend: 'cpu', backendReason: 'no GPU' }) });
    expect(runs.status).toBe('running');
    expect(runs.active).toBe(true);
    expect(runs.run?.backend).toBe('cpu');
  });

  it('ignores the live data of other runs', async () => {
    const runs = await startedRun();
    api.emit({ type: 'run-metrics', runId: 'other', points: [loss(1)] });
    api.emit({ type: 'run-log', runId: 'other', lines: ['x'] });
    await nextFrame();
    expect(runs.series.size).toBe(0);
    expect(runs.log).toEqual([]);
  });

  it("runs the editor's unsaved text, checked first, with its file's path, and saves nothing", async () => {
    const config = useConfigStore();
    await config.open('/c/q.yaml');
    config.edit('name: changed\n');
    const runs = useRunsStore();
    await runs.start();
    expect(api.validateConfig).toHaveBeenLastCalledWith('name: changed\n', '/c/q.yaml');
    expect(api.runConfig).toHaveBeenCalledWith('name: changed\n', '/c/q.yaml');
    expect(api.saveConfig).not.toHaveBeenCalled();
    expect(api.startRun).not.toHaveBeenCalled();
    expect(config.dirty).toBe(true);
    expect(runs.run?.id).toBe('run-1');
  });

  it('does not run a config with errors, and says why', async () => {
    api.validateConfig.mockResolvedValue({
      valid: false,
      problems: [{ message: 'YAML syntax error: bad indentation', line: 2, column: 3 }],
      plugins: [],
    });
    const config = useConfigStore();
    await config.open('/c/q.yaml');
    config.edit('name: q\n  x: : \n');
    const runs = useRunsStore();
    await runs.start();
    expect(api.runConfig).not.toHaveBeenCalled();
    expect(api.saveConfig).not.toHaveBeenCalled();
    expect(runs.error).toBe('Fix the config first: 2:3 YAML syntax error: bad indentation');
    expect(config.runBlocker).toBe(runs.error);
  });

  it("runs an example's untitled copy with the example's path (its relative paths), writing no file", async () => {
    const config = useConfigStore();
    const example = { name: 'quickstart', path: '/ex/quickstart.yaml', description: 'q', text: 'name: qs\n' };
    await config.openExample(example);
    expect(config.path).toBe('');
    const runs = useRunsStore();
    await runs.start();
    expect(api.runConfig).toHaveBeenCalledWith('name: qs\n', '/ex/quickstart.yaml');
    expect(api.saveConfig).not.toHaveBeenCalled();
  });

  it('keeps the events that arrive before runConfig answers', async () => {
    api.runConfig.mockImplementationOnce(async () => {
      api.emit({ type: 'run-status', run: summary({ status: 'running' }) });
      api.emit({ type: 'run-log', runId: 'run-1', lines: ['loading plugins'] });
      return summary({ status: 'pending' });
    });
    const runs = await startedRun();
    expect(runs.status).toBe('running');
    await nextFrame();
    expect(runs.log).toEqual(['loading plugins']);
  });

  it('shows a failed start as an error, not a thrown one', async () => {
    api.runConfig.mockRejectedValueOnce(new Error('run.yaml:3:1: no trainer'));
    const runs = await startedRun();
    expect(runs.error).toBe('run.yaml:3:1: no trainer');
    expect(runs.starting).toBe(false);
  });

  it('runs an untitled config without a path, and refuses an empty one', async () => {
    const runs = useRunsStore();
    await runs.start();
    expect(api.runConfig).not.toHaveBeenCalled();
    expect(runs.error).toMatch(/The config is empty/);
    useConfigStore().edit('name: new\n');
    await runs.start();
    expect(api.runConfig).toHaveBeenCalledWith('name: new\n', undefined);
  });

  it('stops the run, and resumes a stopped one in its folder', async () => {
    const runs = await startedRun();
    await runs.stop();
    expect(api.stopRun).toHaveBeenCalledWith('run-1');
    api.emit({ type: 'run-status', run: summary({ status: 'stopped', configFile: '/c/q.yaml' }) });
    expect(runs.canResume).toBe(true);
    await runs.resume();
    expect(api.resumeRun).toHaveBeenLastCalledWith('run-1');
    expect(runs.status).toBe('running');
  });

  it('follows progress and reads the whole record once the run ends', async () => {
    const runs = await startedRun();
    api.emit({ type: 'run-status', run: summary({ status: 'running' }) });
    api.emit({ type: 'run-progress', runId: 'run-1', step: 3, totalSteps: 10 });
    expect(runs.progress).toEqual({ step: 3, totalSteps: 10 });

    const done: RunSummary = summary({ status: 'completed', finalLoss: 0.5 });
    api.getRun.mockResolvedValueOnce({ summary: done, metrics: [loss(1), loss(2)], trace: [], log: ['done'] });
    api.emit({ type: 'run-status', run: done });
    await nextFrame();
    expect(api.getRun).toHaveBeenCalledWith('run-1');
    expect(runs.status).toBe('completed');
    expect(runs.log).toEqual(['done']);
    expect(runs.series.get('loss')!.length).toBe(2);
  });

  it('follows a run started elsewhere when none is going here', async () => {
    const runs = useRunsStore();
    api.getRun.mockResolvedValueOnce({
      summary: summary({ id: 'cli-run', status: 'running' }),
      metrics: [loss(1)],
      trace: [],
      log: ['started by the CLI'],
      progress: { step: 1, totalSteps: 5 },
    });
    api.emit({ type: 'run-status', run: summary({ id: 'cli-run', status: 'running' }) });
    await nextFrame();
    expect(runs.run?.id).toBe('cli-run');
    expect(runs.log).toEqual(['started by the CLI']);
    expect(runs.progress).toEqual({ step: 1, totalSteps: 5 });
  });

  it('estimates the run and keeps its slow-backend warning', async () => {
    api.estimateRun.mockResolvedValueOnce({
      ...(await api.estimateRun('', 'x')),
      slowBackendWarning: 'Only the pure-JS backend is available',
    });
    const runs = useRunsStore();
    await runs.estimateCost();
    expect(runs.estimate?.slowBackendWarning).toBe('Only the pure-JS backend is available');
  });
});
