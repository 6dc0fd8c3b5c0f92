// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import HookTrace from '../../../src/renderer/src/components/run/HookTrace.vue';
import type { TraceRow } from '../../../src/shared/api.js';

const row = (hook: string, plugin: string, durationMs = 1): TraceRow => ({
  hook,
  plugin,
  start: 0,
  durationMs,
  ok: true,
});
const rows = [
  row('model_loader', 'transformers', 20),
  row('log_step', 'console', 1),
  row('log_step', 'tensorboard', 4),
  row('log_step', 'console', 3),
  row('log_step', 'tensorboard', 2),
  row('log_training_end', 'console', 5),
];
const cells = (wrapper: ReturnType<typeof mount>) =>
  wrapper.findAll('[data-testid="trace-row"]').map((r) => r.findAll('td').map((td) => td.text()));

describe('HookTrace', () => {
  it('shows the latest call first, a stretch of log_step calls as one row per plugin with its count and mean time', () => {
    const wrapper = mount(HookTrace, { props: { rows } });
    expect(cells(wrapper)).toEqual([
      ['log_training_end', 'console', '5.0', 'ok'],
      ['log_step ×2', 'tensorboard', '3.0', 'ok'],
      ['log_step ×2', 'console', '2.0', 'ok'],
      ['model_loader', 'transformers', '20.0', 'ok'],
    ]);
    expect(wrapper.findAll('[data-testid="trace-row"]').map((r) => r.attributes('data-count'))).toEqual([
      '1',
      '2',
      '2',
      '1',
    ]);
  });

  it('narrows the rows to the hook and the plugin chosen', async () => {
    const wrapper = mount(HookTrace, { props: { rows } });
    const hooks = wrapper.get('[data-testid="trace-filter-hook"]');
    expect(hooks.findAll('option').map((o) => o.text())).toEqual([
      'all hooks',
      'model_loader',
      'log_step',
      'log_training_end',
    ]);
    await hooks.setValue('log_step');
    expect(cells(wrapper).map((c) => c[1])).toEqual(['tensorboard', 'console']);
    await wrapper.get('[data-testid="trace-filter-plugin"]').setValue('console');
    expect(cells(wrapper)).toEqual([['log_step ×2', 'console', '2.0', 'ok']]);
    await hooks.setValue('model_loader');
    expect(cells(wrapper)).toEqual([]);
    expect(wrapper.text()).toContain('No call matches.');
  });
});
