import { describe, expect, it } from 'vitest';
import {
  configRows,
  differenceLabel,
  differingKeys,
  flattenConfig,
  formatConfigValue,
} from '../../../src/renderer/src/lib/config-diff.js';
import { hyperparameters, rerunnableConfig } from '../../../src/renderer/src/lib/run-config.js';
import { emaSmooth, smoothXY, toXY } from '../../../src/renderer/src/lib/smoothing.js';
import type { MetricPoint } from '../../../src/shared/api.js';

const config = (lr: number, extra = '') =>
  `name: run-${lr}\nseed: 7\nplugins: [a, b]\nmodel:\n  base_model: m\n  config: {}\ntraining:\n  learning_rate: ${lr}\n  batch_size: 8\n${extra}`;

describe('config differences', () => {
  it('flattens a config to dotted keys, numbers short and lists as flow', () => {
    expect([...flattenConfig(config(0.005))]).toEqual([
      ['name', 'run-0.005'],
      ['seed', '7'],
      ['plugins', '["a","b"]'],
      ['model.base_model', 'm'],
      ['model.config', '{}'],
      ['training.learning_rate', '5e-3'],
      ['training.batch_size', '8'],
    ]);
    expect(flattenConfig('- not: a mapping').size).toBe(0);
    expect(flattenConfig('a: [unclosed').size).toBe(0);
    expect([0.01, 1e-8, 1.5e-4, 2e6, 0, true, null].map(formatConfigValue)).toEqual([
      '0.01',
      '1e-8',
      '1.5e-4',
      '2e6',
      '0',
      'true',
      'null',
    ]);
  });

  it('finds the keys that differ, a key one run lacks included, the name and where runs went left out', () => {
    const a = flattenConfig(config(0.005));
    const b = flattenConfig(config(0.01, '  warmup_steps: 2\noutput_dir: x\n'));
    expect(differingKeys([a, b])).toEqual(['training.learning_rate', 'training.warmup_steps']);
    expect(differingKeys([a])).toEqual([]);
    expect(differingKeys([a, flattenConfig(config(0.005))])).toEqual([]);
  });

  it('labels a run by its differences in short names, at most three', () => {
    const a = flattenConfig(config(0.005));
    const keys = ['training.learning_rate', 'training.warmup_steps'];
    expect(differenceLabel(a, keys)).toBe('lr=5e-3 warmup=—');
    expect(differenceLabel(a, ['seed', 'model.base_model', 'training.batch_size', 'plugins'])).toBe(
      'seed=7 base_model=m bs=8 …',
    );
    // The same last part under two sections: the whole path says which.
    const both = flattenConfig('x:\n  size: 1\ny:\n  size: 2\n');
    expect(differenceLabel(both, ['x.size', 'y.size'])).toBe('x.size=1 y.size=2');
  });

  it('puts two configs side by side, key by key', () => {
    const rows = configRows(flattenConfig('a: 1\nb: 2\n'), flattenConfig('a: 1\nb: 3\nc: 4\n'));
    expect(rows).toEqual([
      { key: 'a', left: '1', right: '1', differs: false },
      { key: 'b', left: '2', right: '3', differs: true },
      { key: 'c', right: '4', differs: true },
    ]);
  });
});

describe("a past run's config", () => {
  it('runs again without the keys that tie it to its folder, comments and the rest kept', () => {
    const text = 'name: x # mine\noutput_dir: /runs/x\nresume_from: latest\ntraining:\n  learning_rate: 0.01\n';
    expect(rerunnableConfig(text)).toBe('name: x # mine\ntraining:\n  learning_rate: 0.01\n');
    const plain = 'name: x\n';
    expect(rerunnableConfig(plain)).toBe(plain);
    expect(rerunnableConfig('a: [broken')).toBe('a: [broken');
  });

  it('has as hyperparameters the seed, the model start, the trainer and adapters, in the config order', () => {
    const flat = flattenConfig(`${config(0.01)}lora:\n  r: 8\ndataset:\n  path: d\n`);
    expect(hyperparameters(flat).map(([k]) => k)).toEqual([
      'seed',
      'model.base_model',
      'training.learning_rate',
      'training.batch_size',
      'lora.r',
    ]);
  });
});

describe('smoothing and axes', () => {
  it('smooths as TensorBoard does: de-biased at the start, weight 0 leaves values, non-finite kept', () => {
    expect(emaSmooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = emaSmooth([10, 10, 10], 0.9);
    for (const v of s) expect(v).toBeCloseTo(10, 10); // no pull towards zero at the start
    const [a, b] = emaSmooth([0, 10], 0.5);
    expect(a).toBe(0);
    expect(b).toBeCloseTo((0.5 * 0.5 * 0 + 0.5 * 10) / (1 - 0.25), 10);
    expect(emaSmooth([1, NaN, 1], 0.5)[1]).toBeNaN();
    expect(emaSmooth([1, NaN, 3], 0.5)[2]).toBeCloseTo((0.25 * 1 + 0.5 * 3) / 0.75, 10);
  });

  it('puts points on x by step or by minutes since the first point', () => {
    const points: MetricPoint[] = [
      { name: 'loss', value: 3, step: 10, timestamp: 1000 },
      { name: 'loss', value: 2, step: 20, timestamp: 1090 },
    ];
    expect(toXY(points, 'step')).toEqual([
      { x: 10, y: 3 },
      { x: 20, y: 2 },
    ]);
    expect(toXY(points, 'time')).toEqual([
      { x: 0, y: 3 },
      { x: 1.5, y: 2 },
    ]);
    expect(smoothXY(toXY(points, 'step'), 0).map((p) => p.y)).toEqual([3, 2]);
  });
});
