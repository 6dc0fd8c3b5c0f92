// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { provideClient } from '../../../src/renderer/src/client.js';
import { useConfigStore, VALIDATE_DELAY_MS } from '../../../src/renderer/src/stores/config.js';
import type { ValidationResult } from '../../../src/shared/api.js';
import { createFakeApi, type FakeApi } from '../fake-api.js';

let api: FakeApi;

beforeEach(() => {
  vi.useFakeTimers();
  api = createFakeApi({
    openConfig: async (path) => ({ path, text: 'name: x\n' }),
    validateConfig: async (text, path): Promise<ValidationResult> =>
      text.includes('trainer: 3')
        ? {
            valid: false,
            problems: [{ message: 'trainer: expected a mapping', file: path, line: 2, column: 10 }],
            plugins: [],
          }
        : { valid: true, problems: [], plugins: [] },
  });
  provideClient(api);
  setActivePinia(createPinia());
});
afterEach(() => vi.useRealTimers());

describe('the config store', () => {
  it('validates once typing pauses, and shows the problems at their line and column', async () => {
    const config = useConfigStore();
    await config.open('/c/run.yaml');
    api.validateConfig.mockClear();

    config.edit('name: x\ntrainer: 3\n');
    config.edit('name: x\ntrainer: 3\n# more\n');
    await vi.advanceTimersByTimeAsync(VALIDATE_DELAY_MS - 50);
    expect(api.validateConfig).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(50);

    expect(api.validateConfig).toHaveBeenCalledOnce();
    expect(api.validateConfig).toHaveBeenCalledWith('name: x\ntrainer: 3\n# more\n', '/c/run.yaml');
    expect(config.valid).toBe(false);
    expect(config.problems).toEqual([
      { message: 'trainer: expected a mapping', file: '/c/run.yaml', line: 2, column: 10 },
    ]);
  });

  it('keeps only the answer to the latest text', async () => {
    let answer: (r: ValidationResult) => void = () => {};
    api.validateConfig.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    const config = useConfigStore();
    const slow = config.validate();
    config.edit('name: y\n');
    await vi.advanceTimersByTimeAsync(VALIDATE_DELAY_MS);
    answer({ valid: false, problems: [{ message: 'stale' }], plugins: [] });
    await slow;
    expect(config.problems).toEqual([]);
    expect(config.valid).toBe(true);
  });

  it('validates an unsaved config under a placeholder name', async () => {
    const config = useConfigStore();
    config.edit('name: z\n');
    await vi.advanceTimersByTimeAsync(VALIDATE_DELAY_MS);
    expect(api.validateConfig).toHaveBeenCalledWith('name: z\n', 'untitled.yaml');
  });

  it('knows when the text is not saved, and saves it', async () => {
    const config = useConfigStore();
    await config.open('/c/run.yaml');
    expect(config.dirty).toBe(false);
    config.edit('name: changed\n');
    expect(config.dirty).toBe(true);
    expect(await config.save()).toBe(true);
    expect(api.saveConfig).toHaveBeenCalledWith('/c/run.yaml', 'name: changed\n');
    expect(config.dirty).toBe(false);
  });

  it('asks before opening another file over unsaved changes', async () => {
    const config = useConfigStore();
    await config.open('/c/a.yaml');
    config.edit('name: mine\n');
    await config.open('/c/b.yaml');
    expect(config.pendingOpen).toBe('/c/b.yaml');
    expect(config.path).toBe('/c/a.yaml');
    await config.open('/c/b.yaml', { discardChanges: true });
    expect(config.path).toBe('/c/b.yaml');
    expect(config.pendingOpen).toBeUndefined();
  });

  it('keeps a failed open or save as an error to show, never throws', async () => {
    api.openConfig.mockRejectedValueOnce(new Error('no such file'));
    const config = useConfigStore();
    await config.open('/c/missing.yaml');
    expect(config.error).toBe('Cannot open /c/missing.yaml: no such file');
    expect(await config.save()).toBe(false);
    expect(config.error).toMatch(/Choose a file/);
  });

  it('points model.base_model at a picked model, keeping the rest of the text', async () => {
    api.openConfig.mockResolvedValueOnce({ path: '/c/a.yaml', text: 'model:\n  base_model: old # here\n' });
    const config = useConfigStore();
    await config.open('/c/a.yaml');
    config.chooseBaseModel({ label: 'shape', path: '/models/shape', source: 'local', weights: false });
    expect(config.text).toBe('model:\n  base_model: /models/shape # here\n');
  });

  const fromConfig = 'model:\n  base_model: ../m\n  init: from_config\n  config:\n    n_layer: 2 # small\nseed: 1\n';
  const trained = { label: 'quickstart (run r1)', path: '/runs/r1/final', source: 'local', weights: true } as const;

  it("asks before dropping model.config's overrides for a trained model, and changes nothing on cancel", async () => {
    api.openConfig.mockResolvedValueOnce({ path: '/c/a.yaml', text: fromConfig });
    const config = useConfigStore();
    await config.open('/c/a.yaml');
    config.chooseBaseModel(trained);
    expect(config.pendingModel).toEqual({ choice: trained, overrides: ['n_layer'] });
    expect(config.text).toBe(fromConfig);
    config.cancelModel();
    expect(config.pendingModel).toBeUndefined();
    expect(config.text).toBe(fromConfig);
  });

  it('a trained model, once confirmed, is fine-tuned: init: pretrained and no overrides', async () => {
    api.openConfig.mockResolvedValueOnce({ path: '/c/a.yaml', text: fromConfig });
    const config = useConfigStore();
    await config.open('/c/a.yaml');
    config.chooseBaseModel(trained);
    config.chooseBaseModel(trained, { force: true });
    expect(config.pendingModel).toBeUndefined();
    expect(config.text).toBe('model:\n  base_model: /runs/r1/final\n  init: pretrained\nseed: 1\n');
  });

  it('a trained model without overrides is set at once, init: pretrained added', async () => {
    api.openConfig.mockResolvedValueOnce({ path: '/c/a.yaml', text: 'model:\n  base_model: ../m\n' });
    const config = useConfigStore();
    await config.open('/c/a.yaml');
    config.chooseBaseModel(trained);
    expect(config.pendingModel).toBeUndefined();
    expect(config.text).toBe('model:\n  base_model: /runs/r1/final\n  init: pretrained\n');
  });

  it('opens text as an untitled copy, asking first over unsaved changes', async () => {
    const config = useConfigStore();
    await config.open('/c/a.yaml');
    config.edit('name: mine\n');
    await config.openUntitled('name: copy\n', '/ex/q.yaml');
    expect(config.pendingCopy).toEqual({ text: 'name: copy\n', from: '/ex/q.yaml' });
    expect(config.text).toBe('name: mine\n');
    await config.discardAndOpen();
    expect(config.text).toBe('name: copy\n');
    expect([config.path, config.copiedFrom, config.filePath]).toEqual(['', '/ex/q.yaml', '/ex/q.yaml']);
    expect(config.pendingCopy).toBeUndefined();
    // Save As makes it the new file's config.
    expect(await config.save('/c/mine.yaml')).toBe(true);
    expect(api.saveConfig).toHaveBeenLastCalledWith('/c/mine.yaml', 'name: copy\n');
    expect([config.path, config.copiedFrom]).toEqual(['/c/mine.yaml', '']);
  });

  it('opens an example from the desktop menu by its path', async () => {
    api.listExamples.mockResolvedValueOnce([{ name: 'q', path: '/ex/q.yaml', description: 'q', text: 'name: q\n' }]);
    const config = useConfigStore();
    await config.openExampleFile('/ex/q.yaml');
    expect([config.text, config.path, config.copiedFrom]).toEqual(['name: q\n', '', '/ex/q.yaml']);
    await config.openExampleFile('/elsewhere/x.yaml');
    expect(config.error).toMatch(/not among the examples/);
  });
});
