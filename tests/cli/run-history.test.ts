// `dumbo run` remembers where its runs went in the user's settings (the file the app and `dumbo serve`
// read), so that their history lists the CLI's runs too: a default run folder by its runs folder, a folder
// of its own choosing (--output) by itself.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SettingsStore } from '../../src/services/settings.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { runDumbo, tempDir, writeFiles } from '../helpers.js';

describe('dumbo run and the run history', () => {
  it('records the runs folder of a default run folder, and a run folder given with --output', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'toy.yaml': 'name: toy\nplugins: [./t]\ntoy_trainer: {steps: 2}\n',
    });
    const env = { XDG_CONFIG_HOME: path.join(dir, 'config') };
    expect((await runDumbo(['run', 'toy.yaml'], { cwd: dir, env })).code).toBe(0);
    expect((await runDumbo(['run', 'toy.yaml', '--output', 'mine'], { cwd: dir, env })).code).toBe(0);

    const settings = new SettingsStore({ cwd: path.join(dir, 'config', 'Dumbo') });
    expect(settings.runRoots()).toEqual([path.join(dir, 'runs')]);
    expect(settings.runFolders()).toEqual([path.join(dir, 'mine')]);
  });
});
