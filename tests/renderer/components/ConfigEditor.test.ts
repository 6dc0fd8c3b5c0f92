// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import ConfigEditor from '../../../src/renderer/src/components/config/ConfigEditor.vue';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { createFakeApi, type FakeApi } from '../fake-api.js';

let api: FakeApi;
let pinia: ReturnType<typeof createPinia>;

beforeEach(() => {
  api = createFakeApi({
    openConfig: async (path) => ({ path, text: 'name: q\ntraining:\n  max_steps: many\n' }),
    validateConfig: async (_text, path) => ({
      valid: false,
      problems: [
        { message: 'training.max_steps: expected an integer', file: path, line: 3, column: 14 },
        { message: 'no plugin provides trainer' },
      ],
      plugins: [],
    }),
    listExamples: async () => [
      {
        name: 'quickstart',
        path: '/ex/quickstart.yaml',
        description: 'A tiny GPT-2 from scratch',
        duration: 'about 2.5 min on 2 CPU cores',
        text: 'name: quickstart\n',
      },
      {
        name: 'full-sft',
        path: '/ex/full-sft.yaml',
        description: 'Fine-tunes the quickstart model',
        duration: 'about 1 min',
        needs: 'the quickstart',
        text: 'name: full-sft\n',
      },
    ],
  });
  provideClient(api);
  pinia = createPinia();
  setActivePinia(pinia);
});

describe('ConfigEditor', () => {
  it('lists the problems as "line:col message"', async () => {
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mount(ConfigEditor, { global: { plugins: [pinia] }, attachTo: document.body });
    await flushPromises();
    expect(wrapper.find('[data-testid="config-editor"]').exists()).toBe(true);
    expect(wrapper.findAll('[data-testid="config-error"]').map((e) => e.text())).toEqual([
      '3:14 training.max_steps: expected an integer',
      'no plugin provides trainer',
    ]);
    wrapper.unmount();
  });

  it('shows the text in the YAML editor and underlines the problem there', async () => {
    await useConfigStore().open('/c/q.yaml');
    const wrapper = mount(ConfigEditor, { global: { plugins: [pinia] }, attachTo: document.body });
    await flushPromises();
    // CodeMirror lives in the editor element's shadow root (its styles go to an adopted sheet there, so
    // the page's CSP needs no inline styles).
    const editor = wrapper.get('[data-testid="yaml-editor"]').element.shadowRoot!;
    expect(editor.querySelector('.cm-content')!.textContent).toContain('max_steps: many');
    const underlined = editor.querySelector('.cm-lintRange-error');
    expect(underlined?.textContent).toBe('many');
    wrapper.unmount();
  });

  it('shows a card per example with what it shows, how long it takes and what must run first', async () => {
    const config = useConfigStore();
    await config.loadExamples();
    const wrapper = mount(ConfigEditor, { global: { plugins: [pinia] } });
    const cards = wrapper.findAll('[data-testid="example-card"]');
    expect(cards.map((c) => c.attributes('data-example'))).toEqual(['quickstart', 'full-sft']);
    expect(cards[0]!.get('[data-testid="example-description"]').text()).toBe('A tiny GPT-2 from scratch');
    expect(cards[0]!.get('[data-testid="example-duration"]').text()).toBe('about 2.5 min on 2 CPU cores');
    expect(cards[0]!.find('[data-testid="example-needs"]').exists()).toBe(false);
    expect(cards[1]!.get('[data-testid="example-needs"]').text()).toBe('First: the quickstart');
    wrapper.unmount();
  });

  it('opens an example as an untitled copy: its shipped file is not the one Save writes', async () => {
    const config = useConfigStore();
    await config.loadExamples();
    const wrapper = mount(ConfigEditor, { global: { plugins: [pinia] } });
    await wrapper.get('[data-testid="example-card"] [data-testid="example-open"]').trigger('click');
    await flushPromises();
    expect(api.openConfig).not.toHaveBeenCalled();
    expect(config.text).toBe('name: quickstart\n');
    expect(config.path).toBe('');
    expect(config.dirty).toBe(false);
    // Validated where the example lives: its relative paths are relative to its folder.
    expect(api.validateConfig).toHaveBeenLastCalledWith('name: quickstart\n', '/ex/quickstart.yaml');
    expect(wrapper.get('[data-testid="config-title"]').text()).toBe('Untitled copy of quickstart.yaml');
    expect(wrapper.get('[data-testid="save-button"]').attributes('disabled')).toBeDefined();
    wrapper.unmount();
  });

  it('shows the path of the file as it is, its slashes in place', async () => {
    await useConfigStore().open('/tmp/x.yaml');
    const wrapper = mount(ConfigEditor, { global: { plugins: [pinia] } });
    await flushPromises();
    const title = wrapper.get('[data-testid="config-title"]');
    expect(title.text()).toBe('/tmp/x.yaml');
    // The title is cut at its start when too long (rtl); the path inside is isolated, read left to right.
    expect(title.get('bdi').text()).toBe('/tmp/x.yaml');
    wrapper.unmount();
  });
});
