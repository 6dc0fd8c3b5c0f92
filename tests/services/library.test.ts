// The app's own files: the examples gallery read from resources/examples/index.json, the model folders and
// whether they hold trained weights, and the check that flags `init: from_config` on such a folder.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelInitProblem } from '../../src/host/worker/model-init.js';
import { listExamples, listModels } from '../../src/services/library.js';
import { hasSafetensorsWeights } from '../../src/engine/safetensors.js';
import type { RunSummary } from '../../src/shared/api.js';
import { tempDir, writeFiles } from '../helpers.js';
import { harness } from './harness.js';

describe('services: the examples gallery', () => {
  it('lists the index entries first, in its order, with description, duration and text; others from their comments', () => {
    const dir = writeFiles(tempDir(), {
      'index.json': JSON.stringify([
        { file: 'b.yaml', description: 'B shows this.', duration: 'about 5 s', needs: 'a first' },
        { file: 'a.yaml', description: 'A shows that.', duration: 'about 9 s' },
      ]),
      'a.yaml': 'name: a\n',
      'b.yaml': 'name: b\n',
      'c.yaml': '# C, described by its header.\n# More.\nname: c\n',
      'notes.txt': 'not an example',
    });
    expect(listExamples(dir)).toEqual([
      {
        name: 'b',
        path: path.join(dir, 'b.yaml'),
        description: 'B shows this.',
        duration: 'about 5 s',
        needs: 'a first',
        text: 'name: b\n',
      },
      {
        name: 'a',
        path: path.join(dir, 'a.yaml'),
        description: 'A shows that.',
        duration: 'about 9 s',
        text: 'name: a\n',
      },
      {
        name: 'c',
        path: path.join(dir, 'c.yaml'),
        description: 'C, described by its header.',
        text: expect.any(String),
      },
    ]);
  });

  it('without an index every example is described by its header comment', () => {
    const dir = writeFiles(tempDir(), { 'q.yaml': '# Quick: a run.\nname: q\n' });
    expect(listExamples(dir)).toEqual([
      { name: 'q', path: path.join(dir, 'q.yaml'), description: 'Quick: a run.', text: '# Quick: a run.\nname: q\n' },
    ]);
  });
});

describe('services: model folders and init', () => {
  const root = writeFiles(tempDir(), {
    'runs/r1/run.json': '{}',
    'runs/r1/final/config.json': '{}',
    'runs/r1/final/model.safetensors': 'x',
    'runs/r2/run.json': '{}',
    'runs/r2/final/config.json': '{}',
    'shape/config.json': '{}',
    'shape/tokenizer.json': '{}',
  });
  const run = (id: string) => ({ id, name: id, runFolder: path.join(root, 'runs', id) }) as RunSummary;

  it('tells a folder of trained weights from one with only a config and tokenizer', async () => {
    expect(hasSafetensorsWeights(path.join(root, 'runs', 'r1', 'final'))).toBe(true);
    expect(hasSafetensorsWeights(path.join(root, 'shape'))).toBe(false);
    expect(hasSafetensorsWeights(path.join(root, 'missing'))).toBe(false);
    const models = await listModels([run('r1'), run('r2')]);
    expect(models.filter((m) => m.label.includes('(run ')).map((m) => [m.label, m.weights])).toEqual([
      ['r1 (run r1)', true],
      ['r2 (run r2)', false],
    ]);
    // The quickstart's model folder ships without weights: it stays `init: from_config`.
    expect(models.find((m) => m.label.startsWith('quickstart model'))?.weights).toBe(false);
  });

  it('flags init: from_config on a folder of trained weights, at init, naming the field and the fix', () => {
    const file = path.join(root, 'c.yaml');
    const text = 'name: x\nmodel:\n  base_model: runs/r1/final\n  init: from_config\n';
    expect(modelInitProblem(text, file)).toEqual({
      message: expect.stringMatching(/^model\.init: from_config builds a new model .* set init: pretrained/),
      file,
      line: 4,
      column: 9,
    });
    expect(modelInitProblem(text.replace('from_config', 'pretrained'), file)).toBeUndefined();
    expect(modelInitProblem(text.replace('runs/r1/final', 'shape'), file)).toBeUndefined();
    expect(modelInitProblem('model: [broken\n', file)).toBeUndefined();
  });
});

describe('services: validateConfig adds the model check', () => {
  const h = harness();

  it('a config that builds a fresh model from trained weights is not valid', async () => {
    writeFiles(h.cwd, { 'trained/config.json': '{}', 'trained/model.safetensors': 'x' });
    const text = 'plugins: [transformers]\nmodel:\n  base_model: trained\n  init: from_config\n';
    const result = await h.services.calls.validateConfig(text, 'c.yaml');
    expect(result.valid).toBe(false);
    expect(result.problems).toEqual([
      expect.objectContaining({
        file: path.join(h.cwd, 'c.yaml'),
        line: 4,
        message: expect.stringMatching(/^model\.init/),
      }),
    ]);
    expect((await h.services.calls.validateConfig(text.replace('from_config', 'pretrained'), 'c.yaml')).valid).toBe(
      true,
    );
  });
});
