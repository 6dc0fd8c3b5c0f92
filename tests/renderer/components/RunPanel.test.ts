// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import RunPanel from '../../../src/renderer/src/components/run/RunPanel.vue';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { useRunsStore } from '../../../src/renderer/src/stores/runs.js';
import { RUN_STATUSES, type RunStatus } from '../../../src/shared/api.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

let api: FakeApi;
let pinia: ReturnType<typeof createPinia>;

beforeEach(() => {
  api = createFakeApi({ openConfig: async (path) => ({ path, text: 'name: q\n' }) });
  provideClient(api);
  pinia = createPinia();
  setActivePinia(pinia);
  api.onEvent((event) => useRunsStore().receive(event));
});

const mountPanel = () => mount(RunPanel, { global: { plugins: [pinia] } });

describe('RunPanel', () => {
  it.each(RUN_STATUSES)('shows the status %s as exactly that word', async (status: RunStatus) => {
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="run-button"]').trigger('click');
    await flushPromises();
    api.emit({ type: 'run-status', run: summary({ status }) });
    await flushPromises();
    expect(wrapper.get('[data-testid="run-status"]').element.textContent).toBe(status);
  });

  it('has no status before any run', () => {
    const wrapper = mountPanel();
    expect(wrapper.find('[data-testid="run-status"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="stop-button"]').exists()).toBe(false);
  });

  it("runs the editor's config, then offers Stop while it runs", async () => {
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="run-button"]').trigger('click');
    await flushPromises();
    expect(api.runConfig).toHaveBeenCalledWith('name: q\n', '/c/q.yaml');
    api.emit({
      type: 'run-status',
      run: summary({ status: 'running', backend: 'cpu', backendReason: 'no GPU found' }),
    });
    await flushPromises();
    expect(wrapper.get('[data-testid="run-button"]').attributes('disabled')).toBeDefined();
    expect(wrapper.get('[data-testid="backend-badge"]').text()).toBe('cpu — no GPU found');
    await wrapper.get('[data-testid="stop-button"]').trigger('click');
    expect(api.stopRun).toHaveBeenCalledWith('run-1');
  });

  it('names the GPU a WebGPU run uses in the backend badge', async () => {
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="run-button"]').trigger('click');
    await flushPromises();
    api.emit({
      type: 'run-status',
      run: summary({
        status: 'running',
        backend: 'webgpu',
        backendDevice: 'nvidia nvidia-h200',
        backendReason: 'the best available; adapter nvidia nvidia-h200 (hopper), hardware',
      }),
    });
    await flushPromises();
    const badge = wrapper.get('[data-testid="backend-badge"]');
    expect(badge.text()).toBe(
      'webgpu · nvidia nvidia-h200 — the best available; adapter nvidia nvidia-h200 (hopper), hardware',
    );
    expect(badge.classes()).toContain('webgpu');
  });

  it('shows a run that could not start as an error', async () => {
    api.runConfig.mockRejectedValueOnce(new Error('q.yaml:1:1: no trainer'));
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="run-button"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="run-error"]').text()).toContain('q.yaml:1:1: no trainer');
  });

  it('shows the estimate with the slow-backend warning before running', async () => {
    api.estimateRun.mockResolvedValueOnce({
      parameters: 141_056,
      tokensPerStep: 512,
      steps: 120,
      secondsPerStep: 1.5,
      totalSeconds: 180,
      memoryBytes: 4 << 20,
      backend: 'cpu',
      backendReason: 'tfjs-node is not installed',
      slowBackendWarning: 'Only the slow pure-JS backend is available: install @tensorflow/tfjs-node.',
    });
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="estimate-button"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="slow-backend-warning"]').text()).toContain('slow pure-JS backend');
    expect(wrapper.get('[data-testid="run-estimate"]').text()).toContain('3 min 0 s');
  });

  it('shows why the estimate failed instead of an estimate', async () => {
    api.estimateRun.mockRejectedValueOnce(new Error('q.yaml:4:3: unknown plugin trainer_x'));
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="estimate-button"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="estimate-error"]').text()).toBe('q.yaml:4:3: unknown plugin trainer_x');
    expect(wrapper.find('[data-testid="run-estimate"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="estimate-button"]').attributes('disabled')).toBeUndefined();
  });

  it('shows progress, the log tail and the hook trace of the run', async () => {
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="run-button"]').trigger('click');
    await flushPromises();
    api.emit({ type: 'run-progress', runId: 'run-1', step: 30, totalSteps: 120 });
    api.emit({ type: 'run-log', runId: 'run-1', lines: ['step 30 loss 2.1'] });
    api.emit({
      type: 'run-trace',
      runId: 'run-1',
      rows: [{ hook: 'log_step', plugin: 'console_logger', start: 0, durationMs: 0.42, ok: false, error: 'boom' }],
    });
    useRunsStore().flush();
    await flushPromises();
    expect(wrapper.get('[data-testid="progress"]').text()).toContain('step 30 of 120 (25%)');
    expect(wrapper.get('[data-testid="log-tail"]').text()).toBe('step 30 loss 2.1');
    const row = wrapper.get('[data-testid="trace-row"]');
    expect(row.findAll('td').map((td) => td.text())).toEqual(['log_step', 'console_logger', '0.4', 'err: boom']);
  });

  it('shows the first batch with masked label positions marked', async () => {
    api.previewDataset.mockResolvedValueOnce({
      rows: [
        {
          tokens: [
            { text: 'Q:', masked: true },
            { text: ' hi', masked: false },
          ],
        },
      ],
      rawRows: [{ prompt: 'hi' }],
      examples: 1,
      truncated: 0,
      dropped: 0,
    });
    const wrapper = mountPanel();
    await wrapper.get('[data-testid="dataset-preview-button"]').trigger('click');
    await flushPromises();
    const tokens = wrapper.get('[data-testid="dataset-row"]').findAll('span');
    expect(tokens.map((t) => [t.text(), t.classes('masked')])).toEqual([
      ['Q:', true],
      ['·hi', false],
    ]);
  });
});
