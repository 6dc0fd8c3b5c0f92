// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import DataTable from '../../../src/renderer/src/components/common/DataTable.vue';
import DismissibleError from '../../../src/renderer/src/components/common/DismissibleError.vue';
import OnDemandResult from '../../../src/renderer/src/components/common/OnDemandResult.vue';
import TitledPanel from '../../../src/renderer/src/components/common/TitledPanel.vue';

describe('TitledPanel', () => {
  it('is a section labelled by its title, with the controls beside the heading', () => {
    const wrapper = mount(TitledPanel, {
      props: { title: 'Plugins' },
      slots: { actions: '<button>Refresh</button>', default: '<p>content</p>' },
    });
    expect(wrapper.get('section').attributes('aria-label')).toBe('Plugins');
    expect(wrapper.get('header h2').text()).toBe('Plugins');
    expect(wrapper.get('header button').text()).toBe('Refresh');
    expect(wrapper.get('section > p').text()).toBe('content');
  });
});

describe('DismissibleError', () => {
  it('shows nothing while there is no error', () => {
    expect(mount(DismissibleError).find('p').exists()).toBe(false);
  });

  it('shows the error as an alert and says when the user dismisses it', async () => {
    const wrapper = mount(DismissibleError, { props: { message: 'Cannot open q.yaml' } });
    expect(wrapper.get('[role="alert"]').text()).toContain('Cannot open q.yaml');
    await wrapper.get('button').trigger('click');
    expect(wrapper.emitted('dismiss')).toHaveLength(1);
  });
});

describe('DataTable', () => {
  it('heads each column, right-aligns the numeric ones and keeps the rows it is given', () => {
    const wrapper = mount(DataTable, {
      props: {
        columns: [
          { label: 'run', title: 'The run folder' },
          { label: 'steps', numeric: true },
        ],
      },
      slots: { default: '<tr><td>quickstart</td><td class="num">120</td></tr>' },
    });
    const headings = wrapper.findAll('thead th');
    expect(headings.map((th) => th.text())).toEqual(['run', 'steps']);
    expect(headings.map((th) => th.classes('num'))).toEqual([false, true]);
    expect(headings[0]!.attributes('title')).toBe('The run folder');
    expect(headings[1]!.attributes('title')).toBeUndefined();
    expect(wrapper.findAll('tbody td').map((td) => td.text())).toEqual(['quickstart', '120']);
  });
});

describe('OnDemandResult', () => {
  const props = { label: 'Estimate', busyLabel: 'Estimating…', busy: false, buttonTestid: 'estimate-button' };
  const slots = { default: '<div data-testid="answer">about 2 min</div>' };

  it('asks when its button is clicked, and shows what came back', async () => {
    const wrapper = mount(OnDemandResult, { props, slots });
    await wrapper.get('[data-testid="estimate-button"]').trigger('click');
    expect(wrapper.emitted('ask')).toHaveLength(1);
    expect(wrapper.get('[data-testid="answer"]').text()).toBe('about 2 min');
  });

  it('cannot be asked again while busy', () => {
    const button = mount(OnDemandResult, { props: { ...props, busy: true }, slots }).get('button');
    expect(button.text()).toBe('Estimating…');
    expect(button.attributes('disabled')).toBeDefined();
  });

  it('shows the error instead of the last answer when asking failed', () => {
    const wrapper = mount(OnDemandResult, {
      props: { ...props, error: 'no trainer', errorTestid: 'estimate-error' },
      slots,
    });
    expect(wrapper.get('[data-testid="estimate-error"]').text()).toBe('no trainer');
    expect(wrapper.find('[data-testid="answer"]').exists()).toBe(false);
  });
});
