// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import { useRunHistoryStore } from '../../../src/renderer/src/stores/history.js';
import type { MetricPoint } from '../../../src/shared/api.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

const loss = (step: number, value: number): MetricPoint => ({ name: 'loss', value, step, timestamp: step });

let api: FakeApi;
beforeEach(() => {
  api = createFakeApi({
    listRuns: async () => [
      summary({ id: 'a', name: 'first', status: 'completed' }),
      summary({ id: 'b', name: 'second', status: 'failed' }),
    ],
    getRun: async (id) => ({
      summary: summary({ id, name: id === 'a' ? 'first' : 'second', status: id === 'a' ? 'completed' : 'failed' }),
      metrics: [loss(1, 2), loss(2, 1), { name: 'lr', value: 0.1, step: 1, timestamp: 1 }],
      trace: [],
      log: [],
    }),
  });
  provideClient(api);
  setActivePinia(createPinia());
});

describe('the run history store', () => {
  it('lists past runs and opens one with its series', async () => {
    const history = useRunHistoryStore();
    await history.loadRuns();
    expect(history.runs.map((r) => r.name)).toEqual(['first', 'second']);
    await history.openRun('a');
    expect(history.selected?.summary.id).toBe('a');
    expect(history.selectedSeries.get('loss')!.length).toBe(2);
  });

  it('overlays the loss curves of at most two runs', async () => {
    const history = useRunHistoryStore();
    await history.toggleOverlay('a');
    await history.toggleOverlay('b');
    expect(history.overlay.map((l) => [l.label, l.points.length])).toEqual([
      ['first', 2],
      ['second', 2],
    ]);
    await history.toggleOverlay('c');
    expect(history.overlayIds).toEqual(['b', 'c']);
    await history.toggleOverlay('b');
    expect(history.overlayIds).toEqual(['c']);
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
    history.receive({ type: 'run-status', run: summary({ id: 'c', name: 'third', status: 'running' }) });
    history.receive({ type: 'run-status', run: summary({ id: 'b', name: 'second', status: 'crashed' }) });
    expect(history.runs.map((r) => `${r.id}:${r.status}`)).toEqual(['c:running', 'a:completed', 'b:crashed']);
  });
});
