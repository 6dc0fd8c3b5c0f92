// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import FormView from '../../../src/renderer/src/components/config/FormView.vue';
import { useConfigStore } from '../../../src/renderer/src/stores/config.js';
import { usePluginsStore } from '../../../src/renderer/src/stores/plugins.js';
import { createFakeApi } from '../fake-api.js';
import { CARDS } from '../lib/schema-fixture.js';

const TEXT =
  'plugins: [transformers, transformers_trainer]\ntraining:\n  learning_rate: 0.01 # tuned\n  batch_size: 0\n';

let pinia: ReturnType<typeof createPinia>;

beforeEach(async () => {
  const api = createFakeApi({
    openConfig: async (path) => ({ path, text: TEXT }),
    listPlugins: async () => ({
      cards: CARDS,
      used: CARDS.filter((c) => c.folder.startsWith('transformers')).map((c) => c.id),
      runFields: [],
    }),
  });
  provideClient(api);
  pinia = createPinia();
  setActivePinia(pinia);
  await useConfigStore().open('/c/q.yaml');
  await usePluginsStore().load();
});

describe('FormView', () => {
  it("shows the trainer's common fields with the values the text holds, and what the schema says of them", async () => {
    const wrapper = mount(FormView, { global: { plugins: [pinia] } });
    const input = (name: string) => wrapper.get<HTMLInputElement>(`[data-testid="form-field-${name}"]`).element;
    expect(input('learning_rate').value).toBe('0.01');
    expect(input('epochs').value).toBe('');
    expect(input('epochs').placeholder).toBe('default 1');
    expect(wrapper.text()).toContain('number, default 0.0005, > 0, < 1');
    // A value typed in the YAML that the schema refuses is flagged here too.
    expect(wrapper.get('[data-testid="form-error-batch_size"]').text()).toBe('must be at least 1');
    expect(wrapper.find('[data-testid="form-field-r"]').exists()).toBe(false);
  });

  it('checks a value as it is typed, and writes it into the text only once it passes, when the field is left', async () => {
    const config = useConfigStore();
    const wrapper = mount(FormView, { global: { plugins: [pinia] } });
    const lr = wrapper.get('[data-testid="form-field-learning_rate"]');
    await lr.setValue('1.5');
    expect(wrapper.get('[data-testid="form-error-learning_rate"]').text()).toBe('must be below 1');
    await lr.trigger('change');
    expect(config.text).toBe(TEXT);
    await lr.setValue('0.002');
    expect(wrapper.find('[data-testid="form-error-learning_rate"]').exists()).toBe(false);
    await lr.trigger('change');
    await flushPromises();
    expect(config.text).toBe(TEXT.replace('0.01 # tuned', '0.002 # tuned'));
  });

  it('folds away and opens again from its summary', async () => {
    const wrapper = mount(FormView, { global: { plugins: [pinia] } });
    const details = wrapper.get('[data-testid="form-view"]');
    expect(details.attributes('open')).toBeDefined();
    await wrapper.get('[data-testid="form-toggle"]').trigger('click');
    expect(details.attributes('open')).toBeUndefined();
  });
});
