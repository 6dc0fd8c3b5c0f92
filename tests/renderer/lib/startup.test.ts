// @vitest-environment happy-dom
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import { configFromPageUrl, startWorkbench } from '../../../src/renderer/src/lib/startup.js';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { useRunHistoryStore } from '../../../src/renderer/src/stores/history.js';
import { useRunsStore } from '../../../src/renderer/src/stores/runs.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

let api: FakeApi;
beforeEach(() => {
  api = createFakeApi({
    getSettings: async () => ({ recentConfigs: ['/c/recent.yaml'], pluginFolder: '/p', defaultBackend: 'auto' }),
    listRuns: async () => [summary({ id: 'old', status: 'completed' }), summary({ id: 'live', status: 'running' })],
  });
  provideClient(api);
  setActivePinia(createPinia());
});

describe('opening the workbench', () => {
  it('reads the config to open from the page URL', () => {
    expect(configFromPageUrl('?config=%2Fhome%2Fme%2Frun.yaml')).toBe('/home/me/run.yaml');
    expect(configFromPageUrl('')).toBeUndefined();
  });

  it('opens that config, lists what there is, and follows a run already going', async () => {
    const stop = startWorkbench('/c/from-url.yaml');
    await flushPromises();
    expect(useConfigStore().path).toBe('/c/from-url.yaml');
    expect(api.listPlugins).toHaveBeenCalled();
    expect(api.listExamples).toHaveBeenCalled();
    expect(useRunHistoryStore().runs).toHaveLength(2);
    expect(useRunsStore().run?.id).toBe('live');

    api.emit({ type: 'run-status', run: summary({ id: 'live', status: 'stopping' }) });
    expect(useRunsStore().status).toBe('stopping');
    stop();
  });

  it('opens the most recent config when the URL names none', async () => {
    startWorkbench(undefined)();
    await flushPromises();
    expect(useConfigStore().path).toBe('/c/recent.yaml');
  });
});
