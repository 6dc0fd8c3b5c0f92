import { describe, expect, it } from 'vitest';
import { pointRadius, SPARSE_POINTS } from '../../../src/renderer/src/lib/chart-points.js';
import { generateOptions } from '../../../src/renderer/src/lib/generate-options.js';
import { pluginSummary } from '../../../src/renderer/src/lib/plugin-summary.js';
import type { PluginCard } from '../../../src/shared/api.js';

describe('chart points', () => {
  it('marks a line of one point, so that it shows at all', () => {
    expect(pointRadius(1)).toBeGreaterThan(0);
  });
  it('marks the points of a sparse line, and not those of a dense one or of none', () => {
    expect(pointRadius(3)).toBeGreaterThan(0);
    expect(pointRadius(SPARSE_POINTS)).toBe(0);
    expect(pointRadius(0)).toBe(0);
  });
});

describe('the Generate form', () => {
  const form = { maxNewTokens: 20, temperature: 0.8 };
  it('leaves out the cuts that cut nothing and an empty seed', () => {
    expect(generateOptions({ ...form, topK: '', topP: '', seed: '' })).toEqual(form);
    expect(generateOptions({ ...form, topK: 0, topP: 1, seed: '' })).toEqual(form);
  });
  it('passes top-k, top-p and the seed the user gave (seed 0 included)', () => {
    expect(generateOptions({ ...form, topK: 5, topP: 0.9, seed: 0 })).toEqual({ ...form, topK: 5, topP: 0.9, seed: 0 });
  });
});

describe('the plugin summary', () => {
  const card = (name: string, extra: Partial<PluginCard> = {}): PluginCard => ({
    id: `builtin:${name}:${extra.className ?? name}`,
    folder: name,
    name,
    className: extra.className ?? name,
    configKey: name,
    source: 'builtin',
    location: `/plugins/${name}`,
    provides: [],
    requires: [],
    conflicts: [],
    ...extra,
  });
  it('names each used plugin folder once, counts every plugin and the ones that failed to load', () => {
    const cards = [
      card('transformers', { className: 'ModelLoader' }),
      card('transformers', { className: 'TokenizerLoader' }),
      card('polars'),
      card('wandb'),
      card('broken', { error: 'SyntaxError' }),
    ];
    const used = new Set([
      'builtin:transformers:ModelLoader',
      'builtin:transformers:TokenizerLoader',
      'builtin:polars:polars',
    ]);
    expect(pluginSummary(cards, (c) => used.has(c.id))).toEqual({
      used: ['transformers', 'polars'],
      total: 5,
      broken: 1,
    });
  });
});
