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
    listExamples: async () => [{ name: 'quickstart', path: '/ex/quickstart.yaml', description: 'A tiny GPT-2' }],
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

  it('opens an example', async () => {
    const config = useConfigStore();
    await config.loadExamples();
    const wrapper = mount(ConfigEditor, { global: { plugins: [pinia] } });
    await wrapper.get('[data-testid="example-card"] button').trigger('click');
    await flushPromises();
    expect(api.openConfig).toHaveBeenCalledWith('/ex/quickstart.yaml');
    expect(config.path).toBe('/ex/quickstart.yaml');
    wrapper.unmount();
  });
});
