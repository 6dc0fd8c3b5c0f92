// @vitest-environment happy-dom
// History's components: a run's actions (Delete asked in place and answered by keyboard, Resume showing the
// workbench, no Delete for a live run) and the compare chart (one colour per run, the raw curve faint behind
// the smoothed one, a legend that says how each run's config differs).
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import type { CompareLine } from '../../../src/renderer/src/stores/history.js';
import { createFakeApi, summary, type FakeApi } from '../fake-api.js';

// happy-dom has no canvas: a stand-in for chart.js keeps what the chart was given.
const charts = vi.hoisted(() => [] as { data: { datasets: Record<string, unknown>[] }; options: unknown }[]);
vi.mock('chart.js', () => {
  class Chart {
    static register() {}
    data: { datasets: Record<string, unknown>[] };
    options: unknown;
    constructor(_ctx: unknown, config: { data: { datasets: Record<string, unknown>[] }; options: unknown }) {
      [this.data, this.options] = [config.data, config.options];
      charts.push(this);
    }
    update() {}
    destroy() {}
  }
  const part = {};
  const parts = ['CategoryScale', 'Decimation', 'Legend', 'LinearScale', 'LineController', 'LineElement'];
  const more = ['LogarithmicScale', 'PointElement', 'Tooltip'];
  return { Chart, ...Object.fromEntries([...parts, ...more].map((name) => [name, part])) };
});

const { default: RunActions } = await import('../../../src/renderer/src/components/history/RunActions.vue');
const { default: CompareChart } = await import('../../../src/renderer/src/components/compare/CompareChart.vue');

beforeAll(() => {
  HTMLCanvasElement.prototype.getContext = (() => ({})) as unknown as HTMLCanvasElement['getContext'];
});

let api: FakeApi;
beforeEach(() => {
  api = createFakeApi();
  provideClient(api);
  setActivePinia(createPinia());
  charts.length = 0;
});

describe('RunActions', () => {
  it('asks before Delete, with the focus on the question; Escape says no and gives the focus back', async () => {
    const wrapper = mount(RunActions, {
      props: { run: summary({ id: 'r', status: 'stopped' }) },
      attachTo: document.body,
    });
    await wrapper.get('[data-testid="delete-run"]').trigger('click');
    await flushPromises();
    const confirm = wrapper.get('[data-testid="confirm-delete"]');
    expect(document.activeElement).toBe(confirm.element);
    await confirm.trigger('keydown', { key: 'Escape' });
    await flushPromises();
    expect(wrapper.find('[data-testid="confirm-delete"]').exists()).toBe(false);
    expect(document.activeElement).toBe(wrapper.get('[data-testid="delete-run"]').element);
    expect(api.deleteRun).not.toHaveBeenCalled();

    await wrapper.get('[data-testid="delete-run"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="confirm-delete"]').trigger('click');
    await flushPromises();
    expect(api.deleteRun).toHaveBeenCalledWith('r');
    wrapper.unmount();
  });

  it('Resume shows the workbench and continues the run; a live run has no Resume and no Delete', async () => {
    const stopped = mount(RunActions, { props: { run: summary({ id: 'r', status: 'stopped' }) } });
    await stopped.get('[data-testid="resume-run"]').trigger('click');
    await flushPromises();
    expect(stopped.emitted('show-workbench')).toHaveLength(1);
    expect(api.resumeRun).toHaveBeenCalledWith('r');

    const running = mount(RunActions, { props: { run: summary({ id: 'l', status: 'running' }) } });
    expect(running.find('[data-testid="resume-run"]').exists()).toBe(false);
    expect(running.get('[data-testid="delete-run"]').attributes('disabled')).toBeDefined();
  });
});

describe('CompareChart', () => {
  const line = (runId: string, difference: string): CompareLine => ({
    runId,
    label: `${runId} · today`,
    difference,
    raw: [
      { x: 1, y: 3 },
      { x: 2, y: 1 },
    ],
    smoothed: [
      { x: 1, y: 3 },
      { x: 2, y: 2 },
    ],
  });

  it('draws each run in its own colour, the smoothed curve over the faint raw one, with a legend of differences', async () => {
    const wrapper = mount(CompareChart, {
      props: { title: 'Eval loss', lines: [line('a', 'lr=5e-3'), line('b', 'lr=0.01')], xAxis: 'step', smoothed: true },
    });
    const datasets = charts[0]!.data.datasets;
    expect(datasets.map((d) => [d.label, d.borderColor])).toEqual([
      ['a · today', '#2563eb'],
      ['a · today (raw)', '#2563eb40'],
      ['b · today', '#dc2626'],
      ['b · today (raw)', '#dc262640'],
    ]);
    expect(datasets[0]!.data).toEqual(line('a', '').smoothed);
    const legend = wrapper
      .findAll('[data-testid="compare-legend-item"]')
      .map((li) => [li.get('.name').text(), li.get('[data-testid="compare-legend-difference"]').text()]);
    expect(legend).toEqual([
      ['a · today', 'lr=5e-3'],
      ['b · today', 'lr=0.01'],
    ]);

    await wrapper.setProps({ smoothed: false, xAxis: 'time' } as Parameters<typeof wrapper.setProps>[0]);
    expect(charts[0]!.data.datasets.map((d) => d.label)).toEqual(['a · today', 'b · today']);
    const options = charts[0]!.options as { scales: { x: { title: { text: string } } } };
    expect(options.scales.x.title.text).toBe('minutes since the run started');
  });
});
