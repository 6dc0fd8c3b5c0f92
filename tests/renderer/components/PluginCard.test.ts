// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import PluginCard from '../../../src/renderer/src/components/plugins/PluginCard.vue';
import type { PluginCard as Card } from '../../../src/shared/api.js';

const card: Card = {
  id: 'user:lora:LoraPatcher',
  folder: 'lora',
  name: 'lora_patcher',
  className: 'LoraPatcher',
  configKey: 'lora',
  source: 'user',
  location: '/home/me/.dumbo/plugins/lora',
  description: 'Adds LoRA adapters to attention layers',
  version: '1.2.0',
  provides: ['model_patcher', 'lora'],
  requires: ['model_loader'],
  conflicts: ['full_finetune'],
};

describe('PluginCard', () => {
  it('shows what the plugin provides, requires and conflicts with', () => {
    const wrapper = mount(PluginCard, { props: { card, used: false, enabled: false } });
    expect(wrapper.get('[data-testid="plugin-card"]').text()).toContain('lora_patcher');
    expect(wrapper.get('[data-testid="plugin-provides"]').text()).toBe('model_patcher, lora');
    expect(wrapper.get('[data-testid="plugin-requires"]').text()).toBe('model_loader');
    expect(wrapper.get('[data-testid="plugin-conflicts"]').text()).toBe('full_finetune');
    expect(wrapper.text()).toContain('Adds LoRA adapters');
    expect(wrapper.find('[data-testid="plugin-used"]').exists()).toBe(false);
  });

  it('shows why the plugin could not be loaded', () => {
    const broken = { ...card, error: "index.ts:3:1: Cannot find module 'left-pad'", provides: [], requires: [] };
    const wrapper = mount(PluginCard, { props: { card: broken, used: false, enabled: false } });
    expect(wrapper.get('[data-testid="plugin-error"]').text()).toBe("index.ts:3:1: Cannot find module 'left-pad'");
    expect(wrapper.get('[data-testid="plugin-provides"]').text()).toBe('—');
  });

  it('marks a plugin this config uses', () => {
    const wrapper = mount(PluginCard, { props: { card, used: true, enabled: true } });
    expect(wrapper.get('[data-testid="plugin-used"]').text()).toBe('used by this config');
    expect(wrapper.get('[data-testid="plugin-card"]').attributes('data-used')).toBe('true');
  });

  it('asks for the plugin to be added to or taken out of the config', async () => {
    const wrapper = mount(PluginCard, { props: { card, used: false, enabled: false } });
    await wrapper.get('[data-testid="plugin-toggle"]').setValue(true);
    expect(wrapper.emitted('toggle')).toEqual([[true]]);
  });

  it('removes an installed plugin only after a second click', async () => {
    const wrapper = mount(PluginCard, { props: { card, used: false, enabled: false } });
    expect(wrapper.find('[data-testid="plugin-remove"]').exists()).toBe(false);
    await wrapper.get('button').trigger('click');
    await wrapper.get('[data-testid="plugin-remove"]').trigger('click');
    expect(wrapper.emitted('remove')).toHaveLength(1);
  });
});
