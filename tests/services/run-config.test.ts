// runConfig: the app runs the editor's text, saved or not, and never reads it from or writes it to the
// config's file; run.json says where the text came from, relative paths resolve against the config's folder
// (the working folder for an untitled config), and a resumed run keeps its name and source.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AppEvent } from '../../src/shared/api.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { writeFiles } from '../helpers.js';
import { harness } from './harness.js';

const isStatus = (id: string, status: string) => (e: AppEvent) =>
  e.type === 'run-status' && e.run.id === id && e.run.status === status;
const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const record = (folder: string) => JSON.parse(readFileSync(path.join(folder, 'run.json'), 'utf8'));
const runConfigYaml = (folder: string) => parse(readFileSync(path.join(folder, 'config.yaml'), 'utf8'));

describe('services: runConfig runs the editor text', () => {
  const h = harness({ stopGraceMs: 1_000 });
  const saved = 'name: toy\nplugins: [./t]\ntoy_trainer: {steps: 2}\n';

  it('runs edited text with the paths of its file, leaving the file as it was, and records "edited"', async () => {
    // The config lives in a folder of its own: `./t` is its folder's plugin, not the working folder's.
    writeFiles(h.cwd, { 'cfg/t/index.js': toyTrainerJs, 'cfg/toy.yaml': saved });
    const file = path.join(h.cwd, 'cfg', 'toy.yaml');
    const before = hash(file);
    const run = await h.services.calls.runConfig(saved.replace('steps: 2', 'steps: 3'), file);
    expect(run).toMatchObject({ name: 'toy', configFile: file, configSource: 'edited' });
    await h.waitFor(isStatus(run.id, 'completed'));
    expect(hash(file)).toBe(before);
    expect(record(run.runFolder)).toMatchObject({ configFile: file, configSource: 'edited', steps: 3 });
    expect(runConfigYaml(run.runFolder)).toMatchObject({ toy_trainer: { steps: 3 } });
    expect((await h.services.calls.getRun(run.id)).summary.configSource).toBe('edited');
  });

  it('text equal to the saved file is a run of that file: no configSource', async () => {
    const file = path.join(h.cwd, 'cfg', 'toy.yaml');
    const run = await h.services.calls.runConfig(saved, file);
    expect(run.configSource).toBeUndefined();
    await h.waitFor(isStatus(run.id, 'completed'));
    expect(record(run.runFolder).configSource).toBeUndefined();
  });

  it('an untitled config runs in the working folder, named untitled, recorded "untitled"', async () => {
    writeFiles(h.cwd, { 'here/index.js': toyTrainerJs });
    const run = await h.services.calls.runConfig('plugins: [./here]\ntoy_trainer: {steps: 1}\n');
    expect(run).toMatchObject({ name: 'untitled', configSource: 'untitled' });
    expect(run.configFile).toBe(path.join(h.cwd, 'untitled.yaml'));
    await h.waitFor(isStatus(run.id, 'completed'));
    expect(existsSync(path.join(h.cwd, 'untitled.yaml'))).toBe(false);
    expect(record(run.runFolder)).toMatchObject({ configSource: 'untitled', steps: 1 });
  });

  it('a config error rejects with its line in the named file, and makes no run folder', async () => {
    const runs = readdirSync(path.join(h.cwd, 'runs')).length;
    const file = path.join(h.cwd, 'cfg', 'toy.yaml');
    await expect(h.services.calls.runConfig('plugins: [./t]\ntoy_trainer: {steps: zero}\n', file)).rejects.toThrow(
      /toy\.yaml:2:\d+: toy_trainer\.steps/,
    );
    await expect(h.services.calls.runConfig('plugins: [./t\n', file)).rejects.toThrow(/toy\.yaml:\d+:\d+: YAML/);
    expect(readdirSync(path.join(h.cwd, 'runs'))).toHaveLength(runs);
  });

  it('a resumed text run keeps its name and source, and its config.yaml, whatever the file says now', async () => {
    const file = path.join(h.cwd, 'cfg', 'toy.yaml');
    const busy = await h.services.calls.runConfig(
      'name: busy-edit\nplugins: [./t]\ntoy_trainer: {steps: 500, busy_ms: 20}\n',
      file,
    );
    await h.waitFor((e) => e.type === 'run-metrics' && e.runId === busy.id);
    await h.services.calls.stopRun(busy.id);
    await h.waitFor(isStatus(busy.id, 'stopped'));
    const from = h.events.length;
    const resumed = await h.services.calls.startRun(file, busy.id);
    expect(resumed).toMatchObject({ id: busy.id, name: 'busy-edit', configSource: 'edited', configFile: file });
    await h.waitFor((e) => e.type === 'run-metrics' && e.runId === busy.id, { from });
    expect(runConfigYaml(busy.runFolder)).toMatchObject({ toy_trainer: { steps: 500 } });
    await h.services.calls.stopRun(busy.id);
    await h.waitFor(isStatus(busy.id, 'stopped'), { from });
    expect(record(busy.runFolder)).toMatchObject({ name: 'busy-edit', configSource: 'edited' });
  });

  it('the doors refuse runConfig arguments of the wrong shape', async () => {
    const { ARGS_VALID } = await import('../../src/shared/api.js');
    expect(ARGS_VALID.runConfig(['name: x\n'])).toBe(true);
    expect(ARGS_VALID.runConfig(['name: x\n', '/c/x.yaml'])).toBe(true);
    expect(ARGS_VALID.runConfig([])).toBe(false);
    expect(ARGS_VALID.runConfig([1])).toBe(false);
    expect(ARGS_VALID.runConfig(['x', ''])).toBe(false);
    expect(ARGS_VALID.runConfig(['x', 'a\0b'])).toBe(false);
    expect(ARGS_VALID.runConfig(['x', '/c.yaml', 'extra'])).toBe(false);
  });
});
