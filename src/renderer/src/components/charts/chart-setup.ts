/**
 * chart.js, registered once with only what the metric charts use (tree-shaken), and the options every
 * metric chart shares: linear step axis, no parsing (points are given as {x, y}), decimation on so tens
 * of thousands of points draw as a few hundred, no animation.
 */

import {
  CategoryScale,
  Chart,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartOptions,
} from 'chart.js';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  CategoryScale,
  Decimation,
  Tooltip,
  Legend,
);

export { Chart };

export const LINE_COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

export function lineChartOptions(options: { logScale?: boolean; legend?: boolean }): ChartOptions<'line'> {
  return {
    animation: false,
    parsing: false,
    normalized: true,
    responsive: true,
    maintainAspectRatio: false,
    indexAxis: 'x',
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.5, tension: 0 } },
    scales: {
      x: { type: 'linear', title: { display: false, text: 'step' }, ticks: { maxTicksLimit: 6 } },
      y: { type: options.logScale ? 'logarithmic' : 'linear', ticks: { maxTicksLimit: 5 } },
    },
    plugins: {
      decimation: { enabled: true, algorithm: 'min-max' },
      legend: { display: options.legend ?? false, labels: { boxWidth: 10 } },
      tooltip: { enabled: true },
    },
  };
}
