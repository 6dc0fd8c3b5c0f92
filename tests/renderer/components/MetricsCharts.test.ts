// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { MetricPoint } from '../../../src/shared/api.js';

// happy-dom has no canvas: a stand-in for chart.js records what the charts are given.
const charts = vi.hoisted(
  () =>
    [] as {
      config: { options: Record<string, unknown> };
      updates: number;
      modes: unknown[];
      data: { datasets: { data: unknown[] }[] };
    }[],
);
vi.mock('chart.js', () => {
  class Chart {
    static register() {}
    data: { datasets: { data: unknown[] }[] };
    updates = 0;
    modes: unknown[] = [];
    constructor(
      _ctx: unknown,
      public config: { data: { datasets: { data: unknown[] }[] }; options: Record<string, unknown> },
    ) {
      this.data = config.data;
      charts.push(this);
    }
    update(mode?: string) {
      this.updates++;
      this.modes.push(mode);
    }
    destroy() {}
  }
  const part = {};
  return {
    Chart,
    CategoryScale: part,
    Decimation: part,
    Legend: part,
    LinearScale: part,
    LineController: part,
    LineElement: part,
    LogarithmicScale: part,
    PointElement: part,
    Tooltip: part,
  };
});

const { default: MetricsCharts } = await import('../../../src/renderer/src/components/charts/MetricsCharts.vue');

beforeAll(() => {
  HTMLCanvasElement.prototype.getContext = (() => ({})) as unknown as HTMLCanvasElement['getContext'];
});

const nextFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const loss = (step: number): MetricPoint => ({ name: 'loss', value: 3 / step, step, timestamp: step });

describe('MetricsCharts', () => {
  it('draws loss with decimation, no parsing, a linear step axis and no animation', () => {
    mount(MetricsCharts, { props: { series: new Map([['loss', [loss(1)]]]), revision: 0 } });
    const options = charts[0]!.config.options as {
      animation: boolean;
      parsing: boolean;
      plugins: { decimation: { enabled: boolean } };
      scales: { x: { type: string } };
    };
    expect(options.animation).toBe(false);
    expect(options.parsing).toBe(false);
    expect(options.plugins.decimation.enabled).toBe(true);
    expect(options.scales.x.type).toBe('linear');
  });

  it('reads thousands of new points in one redraw per frame, and says how many it has', async () => {
    charts.length = 0;
    const points = [loss(1)];
    const series = new Map([['loss', points]]);
    const wrapper = mount(MetricsCharts, { props: { series, revision: 0 } });
    const chart = charts[0]!;
    await flushPromises();
    const updatesBefore = chart.updates;
    expect(wrapper.get('[data-testid="loss-chart"]').attributes('data-points')).toBe('1');

    for (let batch = 0; batch < 5; batch++) {
      for (let i = 0; i < 1000; i++) points.push(loss(points.length + 1));
      await wrapper.setProps({ revision: batch + 1 } as Parameters<typeof wrapper.setProps>[0]);
    }
    await nextFrame();

    expect(chart.updates).toBe(updatesBefore + 1);
    expect(chart.data.datasets[0]!.data).toHaveLength(5001);
    expect(chart.data.datasets[0]!.data[5000]).toEqual({ x: 5001, y: 3 / 5001 });
    expect(wrapper.get('[data-testid="loss-chart"]').attributes('data-points')).toBe('5001');
  });

  it('marks a single eval point, and stops marking the points once the line is dense', async () => {
    charts.length = 0;
    const evalLoss: MetricPoint[] = [{ name: 'eval/loss', value: 2.5, step: 40, timestamp: 40 }];
    const losses = [loss(1)];
    const series = new Map([
      ['loss', losses],
      ['eval/loss', evalLoss],
    ]);
    const wrapper = mount(MetricsCharts, { props: { series, revision: 0 } });
    await flushPromises();
    const evalChart = wrapper.get('[data-testid="eval-loss-chart"]');
    expect(evalChart.attributes('data-points')).toBe('1');
    expect(Number(evalChart.attributes('data-point-radius'))).toBeGreaterThan(0);
    const evalDataset = charts[1]!.data.datasets[0] as { pointRadius?: number };
    expect(evalDataset.pointRadius).toBeGreaterThan(0);

    for (let i = 0; i < 99; i++) losses.push(loss(losses.length + 1));
    await wrapper.setProps({ revision: 1 } as Parameters<typeof wrapper.setProps>[0]);
    await nextFrame();
    expect(wrapper.get('[data-testid="loss-chart"]').attributes('data-point-radius')).toBe('0');
    expect((charts[0]!.data.datasets[0] as { pointRadius?: number }).pointRadius).toBe(0);
    // chart.js would keep the old radius through a quick ('none') update: a new one takes a full update.
    expect(charts[0]!.modes.at(-1)).toBeUndefined();
    await wrapper.setProps({ revision: 2 } as Parameters<typeof wrapper.setProps>[0]);
    await nextFrame();
    expect(charts[0]!.modes.at(-1)).toBe('none');
  });
});
