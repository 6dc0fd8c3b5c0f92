// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import RunControls from '../../../src/renderer/src/components/run/RunControls.vue';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { useRunsStore } from '../../../src/renderer/src/stores/runs.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

let api: FakeApi;
let pinia: ReturnType<typeof createPinia>;

beforeEach(() => {
  api = createFakeApi({
    openConfig: async (path) => ({ path, text: 'name: q\n' }),
    validateConfig: async (text) =>
      text.includes('::')
        ? { valid: false, problems: [{ message: 'YAML syntax error: bad', line: 1, column: 7 }], plugins: [] }
        : { valid: true, problems: [], plugins: [] },
  });
  provideClient(api);
  pinia = createPinia();
  setActivePinia(pinia);
  api.onEvent((event) => useRunsStore().receive(event));
});

const mountControls = () => mount(RunControls, { global: { plugins: [pinia] } });

describe('RunControls', () => {
  it('disables Run while the config has errors, showing the first one, and enables it once fixed', async () => {
    const config = useConfigStore();
    await config.open('/c/q.yaml');
    const wrapper = mountControls();
    config.edit('name: q::\n');
    await config.validate();
    await flushPromises();
    const run = wrapper.get('[data-testid="run-button"]');
    expect(run.attributes('disabled')).toBeDefined();
    expect(wrapper.get('[data-testid="run-blocked"]').text()).toBe('Fix the config first: 1:7 YAML syntax error: bad');
    expect(run.attributes('title')).toBe('Fix the config first: 1:7 YAML syntax error: bad');
    config.edit('name: q\n');
    await config.validate();
    await flushPromises();
    expect(run.attributes('disabled')).toBeUndefined();
    expect(wrapper.find('[data-testid="run-blocked"]').exists()).toBe(false);
    expect(run.text()).toBe('Run');
  });

  it('says which config the run came from, and warns when the editor shows another', async () => {
    const config = useConfigStore();
    await config.open('/c/q.yaml');
    const wrapper = mountControls();
    await wrapper.get('[data-testid="run-button"]').trigger('click');
    await flushPromises();
    api.emit({
      type: 'run-status',
      run: summary({ status: 'running', configFile: '/c/q.yaml', configSource: 'edited' }),
    });
    await flushPromises();
    const source = wrapper.get('[data-testid="run-config-source"]');
    expect(source.text()).toBe('Config: q.yaml (edited, unsaved)');
    expect(source.attributes('data-differs')).toBe('false');

    await config.open('/c/other.yaml');
    await flushPromises();
    expect(source.text()).toBe('Config: q.yaml (edited, unsaved) — not the one in the editor');
    expect(source.attributes('data-differs')).toBe('true');
  });
});
