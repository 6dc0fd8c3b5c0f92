// `dumbo plugins --fields NAME`: a plugin's section documented field by field, in the words of the
// editor's hover (src/shared/field-docs.ts renders both).

import { describe, expect, it } from 'vitest';
import { lastLine, runDumbo, tempDir, writeFiles } from '../helpers.js';

describe('dumbo plugins --fields', () => {
  it("prints each field of a built-in plugin's section with its type, default, bounds and description", async () => {
    const r = await runDumbo(['plugins', '--fields', 'transformers_trainer']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('transformers_trainer (TransformersTrainer, built-in): the training: section');
    const at = lines.indexOf('  learning_rate: number, default 0.0005, > 0, < 1');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe('      Above 0 and below 1 (typical: 1e-5 to 1e-3).');
    expect(lines).toContain('  lr_scheduler: linear | cosine | constant, default linear');
    expect(lines).toContain('  max_steps: integer, >= 1');
  });

  it('finds a plugin by its section, shows the classes of a folder that share one once, and answers --json', async () => {
    const r = await runDumbo(['plugins', '--fields', 'model', '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.endsWith('the model: section'))).toEqual([
      'transformers (TransformersModelLoader, TransformersTokenizerLoader, built-in): the model: section',
    ]);
    const json = JSON.parse(lastLine(r.stdout)) as { plugins: { className: string; fields: { name: string }[] }[] };
    expect(json.plugins.map((p) => p.className)).toEqual(['TransformersModelLoader', 'TransformersTokenizerLoader']);
    expect(json.plugins[0]!.fields.map((f) => f.name)).toContain('base_model');
  });

  it('documents a plugin the config names by path, and says which name was meant when it is misspelt', async () => {
    const dir = writeFiles(tempDir(), {
      'run.yaml': 'plugins: [./probe]\n',
      'probe/index.js': `import { BasePlugin } from 'dumbo';
export class Probe extends BasePlugin {
  static configKey = 'probe';
  static configSchema = {
    type: 'object',
    properties: { record: { type: 'string', description: 'Where the probe writes.' } },
  };
  hooks() { return {}; }
}
export const AVAILABLE_PLUGINS = [Probe];
`,
    });
    const r = await runDumbo(['plugins', 'run.yaml', '--fields', 'probe'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  record: string\n      Where the probe writes.\n  (other fields are accepted too)\n');

    const typo = await runDumbo(['plugins', '--fields', 'transformers_traner']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(
      "no plugin named 'transformers_traner' (did you mean 'transformers_trainer'?): 'dumbo plugins' lists them",
    );
  });
});
