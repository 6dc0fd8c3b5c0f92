// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import ModelInfo from '../../../src/renderer/src/components/model/ModelInfo.vue';

describe('ModelInfo', () => {
  it('shows the size formatted, and the exact parameter count as data-parameters', () => {
    const wrapper = mount(ModelInfo, {
      props: {
        info: {
          architecture: 'gpt2',
          layers: 2,
          parametersTotal: 141_056,
          parametersTrainable: 141_056,
          bytes: 564_224,
          dtype: 'float32',
          backend: 'cpu',
          tokenizer: { vocabSize: 512, specialTokens: { eos: '<|endoftext|>' } },
          tensors: [{ name: 'wte.weight', shape: [512, 64], parameters: 32_768, trainable: true }],
        },
      },
    });
    const el = wrapper.get('[data-testid="model-info"]');
    expect(el.attributes('data-parameters')).toBe('141056');
    expect(el.text()).toContain('141.06K');
    expect(el.text()).toContain('141,056');
    expect(el.text()).toContain('551.0 KiB');
    expect(el.text()).toContain('eos: <|endoftext|>');
    expect(wrapper.get('[data-testid="model-architecture"]').text()).toBe('gpt2');
    expect(wrapper.get('[data-testid="model-tensors"]').text()).toContain('[512, 64]');
  });
});
