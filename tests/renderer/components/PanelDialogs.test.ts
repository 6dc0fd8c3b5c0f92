// @vitest-environment happy-dom
// The workbench's popover and drawer: the settings popover and the plugin drawer open from their buttons
// and close on Escape or a press outside; the trust dialog inside the drawer takes Escape for itself.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import PluginDrawer from '../../../src/renderer/src/components/plugins/PluginDrawer.vue';
import PluginSummary from '../../../src/renderer/src/components/plugins/PluginSummary.vue';
import SettingsPanel from '../../../src/renderer/src/components/settings/SettingsPanel.vue';
import { usePluginsStore } from '../../../src/renderer/src/stores/plugins.js';
import { useSettingsStore } from '../../../src/renderer/src/stores/settings.js';
import type { PluginCard } from '../../../src/shared/api.js';
import { createFakeApi, type FakeApi } from '../fake-api.js';

let api: FakeApi;
let pinia: ReturnType<typeof createPinia>;

beforeEach(() => {
  document.body.innerHTML = '';
  api = createFakeApi();
  provideClient(api);
  pinia = createPinia();
  setActivePinia(pinia);
});

const escape = () => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));

describe('SettingsPanel', () => {
  it('opens from its button and closes on Escape, with the button saying whether it is open', async () => {
    await useSettingsStore().load();
    const wrapper = mount(SettingsPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    const button = wrapper.get('[data-testid="settings-button"]');
    expect(wrapper.find('[data-testid="settings-panel"]').exists()).toBe(false);
    await button.trigger('click');
    expect(wrapper.get('[data-testid="settings-panel"]').attributes('role')).toBe('dialog');
    expect(button.attributes('aria-expanded')).toBe('true');
    expect((wrapper.get('[data-testid="default-backend"]').element as HTMLSelectElement).value).toBe('auto');
    escape();
    await flushPromises();
    expect(wrapper.find('[data-testid="settings-panel"]').exists()).toBe(false);
    expect(button.attributes('aria-expanded')).toBe('false');
    expect(document.activeElement).toBe(button.element);
    wrapper.unmount();
  });

  it('closes on a press outside it, not on one inside it', async () => {
    const outside = document.createElement('main');
    document.body.append(outside);
    const wrapper = mount(SettingsPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await wrapper.get('[data-testid="settings-button"]').trigger('click');
    wrapper
      .get('[data-testid="plugin-folder-setting"]')
      .element.dispatchEvent(new Event('pointerdown', { bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-testid="settings-panel"]').exists()).toBe(true);
    outside.dispatchEvent(new Event('pointerdown', { bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-testid="settings-panel"]').exists()).toBe(false);
    wrapper.unmount();
  });
});

const card = (folder: string, error?: string): PluginCard => ({
  id: `builtin:${folder}:X`,
  folder,
  name: folder,
  className: 'X',
  configKey: folder,
  source: 'builtin',
  location: `/app/plugins/${folder}`,
  provides: [],
  requires: [],
  conflicts: [],
  ...(error ? { error } : {}),
});

describe('the plugin summary and drawer', () => {
  it('sums up the used plugins and the broken ones, and asks to open the drawer', async () => {
    api.listPlugins.mockResolvedValueOnce({
      cards: [card('polars'), card('wandb'), card('mine', 'SyntaxError: oops')],
      used: ['builtin:polars:X'],
      runFields: [],
    } as Awaited<ReturnType<FakeApi['listPlugins']>>);
    await usePluginsStore().load();
    const wrapper = mount(PluginSummary, { props: { open: false }, global: { plugins: [pinia] } });
    expect(wrapper.findAll('[data-testid="plugin-summary-used"]').map((l) => l.text())).toEqual(['polars']);
    expect(wrapper.get('[data-testid="plugin-summary-broken"]').text()).toBe('1 failed to load');
    const button = wrapper.get('[data-testid="plugin-drawer-button"]');
    expect(button.text()).toBe('All plugins (3)…');
    expect(button.attributes('aria-expanded')).toBe('false');
    await button.trigger('click');
    expect(wrapper.emitted('open')).toHaveLength(1);
  });

  it('closes the open drawer on Escape, its Close button and a press beside it', async () => {
    const wrapper = mount(PluginDrawer, {
      props: { open: false },
      global: { plugins: [pinia] },
      attachTo: document.body,
    });
    escape();
    expect(wrapper.emitted('close')).toBeUndefined();
    await wrapper.setProps({ open: true } as Parameters<typeof wrapper.setProps>[0]);
    await flushPromises();
    expect(wrapper.get('[data-testid="plugin-drawer"]').attributes('aria-modal')).toBe('true');
    escape();
    await wrapper.get('[data-testid="plugin-drawer-close"]').trigger('click');
    await wrapper.get('[data-testid="plugin-drawer-backdrop"]').trigger('pointerdown');
    await wrapper.get('[data-testid="plugin-drawer"]').trigger('pointerdown');
    expect(wrapper.emitted('close')).toHaveLength(3);
    wrapper.unmount();
  });

  it('leaves the drawer open when Escape cancels the trust dialog inside it', async () => {
    const plugins = usePluginsStore();
    const wrapper = mount(PluginDrawer, {
      props: { open: true },
      global: { plugins: [pinia] },
      attachTo: document.body,
    });
    await plugins.inspectFolder('/tmp/my-plugin');
    await flushPromises();
    const trust = wrapper.get('[data-testid="trust-dialog"]');
    trust.element.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-testid="trust-dialog"]').exists()).toBe(false);
    expect(plugins.trust).toBeUndefined();
    expect(wrapper.emitted('close')).toBeUndefined();
    wrapper.unmount();
  });
});
