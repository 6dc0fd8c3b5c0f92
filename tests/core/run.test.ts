import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Err,
  HookBus,
  Ok,
  activatePlugins,
  defineHook,
  formatError,
  loadConfiguredPlugins,
  parseConfig,
  prepareRun,
  runLifecycle,
  type LoadedPlugin,
  type TraceEntry,
} from '../../src/core/index.js';
import { failingLoaderJs, probeLoggerJs, probeLoggerTs, toyTrainerJs } from '../fixtures/plugins.js';
import { tempDir, writeFiles } from '../helpers.js';

function records(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Writes plugin folders and a config into a temp dir and prepares the run. */
async function setup(files: Record<string, string>, yaml: string) {
  const dir = writeFiles(tempDir(), { ...files, 'run.yaml': yaml });
  const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
  return { dir, prepared };
}

describe('one run, in order', () => {
  it('every hook reaches a third-party logging plugin in the order of DESIGN.md, and its collector gets the events', async () => {
    const dir0 = tempDir();
    const rec = path.join(dir0, 'calls.jsonl');
    const { prepared } = await setup(
      { 'probe/index.js': probeLoggerJs(), 'trainer/index.js': toyTrainerJs },
      `plugins: [./probe, ./trainer]\nprobe:\n  record: ${rec}\ntoy_trainer:\n  steps: 2\n`,
    );
    const trace: TraceEntry[] = [];
    const outcome = await runLifecycle(prepared, { onTrace: (e) => trace.push(e) });
    expect(outcome.status).toBe('completed');
    expect(outcome.summary).toMatchObject({ steps: 2 });
    const calls = records(rec).map((r) =>
      r.hook ? `${r.hook}${r.arg !== undefined ? `:${JSON.stringify(r.arg)}` : ''}` : `collector:${r.collector}`,
    );
    expect(calls).toEqual([
      'log_init',
      'metrics_collector',
      'log_hyperparameters',
      'log_training_start',
      'log_step:1',
      'log_metrics:["loss","step_time_s"]',
      'collector:loss',
      'collector:step_time_s',
      'log_step:2',
      'log_metrics:["loss","step_time_s"]',
      'collector:loss',
      'collector:step_time_s',
      'log_training_end',
      'finish',
      'collector:finalize',
    ]);
    expect(trace.map((t) => `${t.hook}/${t.plugin}`)).toContain('trainer/toy_trainer');
    expect(trace.every((t) => t.ok && t.durationMs >= 0 && t.start > 0)).toBe(true);
  });

  it('without a trainer runs init, hyperparameters and finish, and says nothing trains', async () => {
    const dir0 = tempDir();
    const rec = path.join(dir0, 'calls.jsonl');
    const { prepared } = await setup(
      { 'probe/index.js': probeLoggerJs() },
      `plugins: [./probe]\nprobe: {record: ${rec}}\n`,
    );
    const outcome = await runLifecycle(prepared);
    expect(outcome).toMatchObject({ status: 'completed', hasTrainer: false });
    expect(records(rec).map((r) => r.hook ?? r.collector)).toEqual([
      'log_init',
      'metrics_collector',
      'log_hyperparameters',
      'finish',
      'finalize',
    ]);
  });

  it('a TypeScript plugin receives its hooks', async () => {
    const dir0 = tempDir();
    const rec = path.join(dir0, 'calls.jsonl');
    const files = Object.fromEntries(Object.entries(probeLoggerTs).map(([k, v]) => [`ts/${k}`, v]));
    const { prepared } = await setup(
      { ...files, 'trainer/index.js': toyTrainerJs },
      `plugins: [./ts, ./trainer]\nts_probe: {record: ${rec}}\ntoy_trainer: {steps: 1}\n`,
    );
    await runLifecycle(prepared);
    expect(records(rec).map((r) => r.hook)).toEqual(['log_init', 'log_step', 'log_metrics', 'finish']);
  });

  it('a throwing observer hook does not stop the run and is reported with its plugin', async () => {
    const dir0 = tempDir();
    const rec = path.join(dir0, 'calls.jsonl');
    const { prepared } = await setup(
      { 'probe/index.js': probeLoggerJs({ throwIn: 'log_step' }), 'trainer/index.js': toyTrainerJs },
      `plugins: [./probe, ./trainer]\nprobe: {record: ${rec}}\ntoy_trainer: {steps: 3}\n`,
    );
    const outcome = await runLifecycle(prepared);
    expect(outcome.status).toBe('completed');
    expect(outcome.summary?.steps).toBe(3);
    expect(outcome.failures).toEqual(
      [1, 2, 3].map(() => ({ hook: 'log_step', plugin: 'probe_logger', error: 'probe exploded in log_step' })),
    );
    expect(records(rec).filter((r) => r.hook === 'log_metrics')).toHaveLength(3);
  });

  it('finish runs for every initialized plugin, in reverse order, after a failed loader', async () => {
    const dir0 = tempDir();
    const rec = path.join(dir0, 'calls.jsonl');
    const { prepared } = await setup(
      {
        'first/index.js': probeLoggerJs({ className: 'FirstProbe', configKey: 'first' }),
        'broken/index.js': failingLoaderJs,
        'second/index.js': probeLoggerJs({ className: 'SecondProbe', configKey: 'second' }),
      },
      `plugins: [./first, ./broken, ./second]\nfirst: {record: ${rec}}\nsecond: {record: ${rec}}\nbroken: {}\n`,
    );
    const outcome = await runLifecycle(prepared);
    expect(outcome.status).toBe('failed');
    expect(formatError(outcome.error)).toBe(
      `${path.join(prepared.config.dir, 'run.yaml')}:4:1: model_loader failed: broken_loader: no model folder at ./nowhere`,
    );
    const finishes = records(rec)
      .filter((r) => r.hook === 'finish')
      .map((r) => r.plugin);
    expect(finishes).toEqual(['SecondProbe', 'FirstProbe']);
    expect(records(rec).some((r) => r.hook === 'log_training_start')).toBe(false);
  });

  it('a loader that throws is a failed run too, with the thrown message', async () => {
    const { prepared } = await setup(
      { 'broken/index.js': failingLoaderJs },
      'plugins: [./broken]\nbroken: {throw: true}\n',
    );
    const outcome = await runLifecycle(prepared);
    expect(outcome.status).toBe('failed');
    expect(formatError(outcome.error)).toMatch(/:2:1: model_loader failed: broken_loader: weights file is corrupt$/);
  });

  it('stops between phases and during training when asked', async () => {
    const dir0 = tempDir();
    const rec = path.join(dir0, 'calls.jsonl');
    const { prepared } = await setup(
      { 'probe/index.js': probeLoggerJs(), 'trainer/index.js': toyTrainerJs },
      `plugins: [./probe, ./trainer]\nprobe: {record: ${rec}}\ntoy_trainer: {steps: 50}\n`,
    );
    let steps = 0;
    const outcome = await runLifecycle(prepared, {
      stopRequested: () => steps >= 3,
      onTrace: (e) => {
        if (e.hook === 'log_step') steps += 1;
      },
    });
    expect(outcome.status).toBe('stopped');
    expect(outcome.summary).toMatchObject({ steps: 3, stopped: true });
    expect(records(rec).filter((r) => r.hook === 'finish')).toHaveLength(1);
  });
});

describe('hook bus calling rules', () => {
  async function active(specs: Record<string, string>) {
    const files: Record<string, string> = {};
    for (const [name, body] of Object.entries(specs)) {
      files[`${name}/index.js`] =
        `import { BasePlugin, Ok, Err } from 'dumbo';\nexport class ${name} extends BasePlugin { hooks() { return ${body}; } }\nexport const AVAILABLE_PLUGINS = [${name}];\n`;
    }
    const dir = writeFiles(tempDir(), files);
    const config = parseConfig(
      `plugins: [${Object.keys(specs)
        .map((n) => `./${n}`)
        .join(', ')}]\n`,
      path.join(dir, 'r.yaml'),
    );
    const loaded: LoadedPlugin[] = await loadConfiguredPlugins(config, { userPluginDir: tempDir() });
    return activatePlugins(loaded);
  }

  it('first: the first Ok wins and later loaders are not asked', async () => {
    const plugins = await active({
      Declines: `{ model_loader: () => Err(new Error('not mine')) }`,
      Accepts: `{ model_loader: () => Ok({ architecture: 'A', config: {} }) }`,
      NeverAsked: `{ model_loader: () => { throw new Error('asked') } }`,
    });
    const trace: TraceEntry[] = [];
    const bus = new HookBus(plugins, { onTrace: (e) => trace.push(e) });
    const r = await bus.first('model_loader', () => [{}]);
    expect(r?.plugin.meta.name).toBe('accepts');
    expect(r?.value.architecture).toBe('A');
    expect(trace.map((t) => [t.plugin, t.ok, t.error])).toEqual([
      ['declines', false, 'not mine'],
      ['accepts', true, undefined],
    ]);
  });

  it('first: when every loader fails the error lists each', async () => {
    const plugins = await active({
      A: `{ model_loader: () => Err(new Error('no')) }`,
      B: `{ model_loader: () => Err(new Error('nope')) }`,
    });
    await expect(new HookBus(plugins).first('model_loader', () => [{}])).rejects.toThrow(
      'model_loader failed: a: no; b: nope',
    );
  });

  it('pipe: each patcher gets the previous result, and an Err stops', async () => {
    const plugins = await active({
      AddLora: `{ model_patcher: (m) => Ok({ ...m, architecture: m.architecture + '+lora' }) }`,
      AddFused: `{ model_patcher: (m) => Ok({ ...m, architecture: m.architecture + '+fused' }) }`,
    });
    const out = await new HookBus(plugins).pipe('model_patcher', { architecture: 'm', config: {} }, (_p, m) => [m, {}]);
    expect(out.architecture).toBe('m+lora+fused');
    const failing = await active({ Bad: `{ model_patcher: () => Err(new Error('rank too large')) }` });
    await expect(
      new HookBus(failing).pipe('model_patcher', { architecture: 'm', config: {} }, (_p, m) => [m, {}]),
    ).rejects.toThrow('model_patcher failed: bad: rank too large');
  });

  it('a hook that returns something other than a Result is an error that says what to return', async () => {
    const plugins = await active({ Raw: `{ model_loader: () => ({ architecture: 'x' }) }` });
    await expect(new HookBus(plugins).first('model_loader', () => [{}])).rejects.toThrow(
      'model_loader failed: raw: model_loader returned an object (Object) instead of a Result (return Ok(value) or Err(error))',
    );
  });

  it('an unknown hook name is refused when the plugin is activated, with a suggestion', async () => {
    await expect(active({ Typo: `{ log_stpe: () => Ok(undefined) }` })).rejects.toThrow(
      "plugin typo has hook 'log_stpe', which is not a known hook (did you mean 'log_step'?)",
    );
  });

  it('defineHook adds a hook that plugins may then implement', async () => {
    defineHook('custom_eval', { mode: 'observe', description: 'after a custom evaluation' });
    const plugins = await active({ Evaluator: `{ custom_eval: () => Ok(undefined) }` });
    const bus = new HookBus(plugins);
    // Added hooks are called by name through the same rules.
    const r = await bus.observe('custom_eval' as 'finish', () => []);
    expect(r).toHaveLength(1);
    expect(Ok(1).ok && Err(1).ok === false).toBe(true);
  });
});
