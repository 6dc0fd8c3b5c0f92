// What the editor completes and documents from: the catalog's cards carry their section as field docs (from
// each plugin's configSchema), and listPlugins the run's own keys (core's RUN_SCHEMA); validateConfig's
// cards do not, so that the call made at each pause in typing stays small.
import { describe, expect, it } from 'vitest';
import { harness } from './harness.js';

describe('services: field docs for the editor', () => {
  const h = harness();

  it("listPlugins gives each plugin's section as field docs, and the run's own keys", async () => {
    const { cards, runFields } = await h.services.calls.listPlugins();
    const trainer = cards.find((c) => c.folder === 'transformers_trainer')!;
    expect(trainer.section).toMatchObject({ name: 'training', type: 'object' });
    expect(trainer.section?.open).toBeUndefined(); // additionalProperties: false: a typo can be caught
    expect(trainer.section?.fields?.find((f) => f.name === 'learning_rate')).toEqual({
      name: 'learning_rate',
      type: 'number',
      default: 0.0005,
      description: 'Above 0 and below 1 (typical: 1e-5 to 1e-3).',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
    });
    expect(runFields.map((f) => f.name)).toEqual([
      'plugins',
      'name',
      'output_dir',
      'seed',
      'backend',
      'webgpu',
      'resume_from',
    ]);
    expect(runFields.find((f) => f.name === 'seed')).toMatchObject({ type: 'integer', default: 42 });
    expect(runFields.find((f) => f.name === 'plugins')).toMatchObject({ type: 'string[]', required: true });
  });

  it("validateConfig's cards leave the field docs out", async () => {
    const result = await h.services.calls.validateConfig('plugins: [console_logger]\n', 'c.yaml');
    expect(result.plugins.map((c) => c.folder)).toEqual(['console_logger']);
    expect(result.plugins[0]!.section).toBeUndefined();
  });
});
