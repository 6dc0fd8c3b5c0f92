// Plugin API v2: the bus takes only hooks of its calling rule (at compile time and at run time), every hook
// call gets the plugin's context, plugins call the hooks they define through `context.emit`, and the kernels
// hook fills the engine's table before any model is loaded.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addLogSink,
  HookBus,
  Ok,
  prepareRun,
  runLifecycle,
  defineHook,
  getHookSpec,
  standaloneContext,
  type HookReturn,
  type KernelRegistry,
  type LogRecord,
  type PluginHooks,
  type TraceEntry,
} from '../../src/core/index.js';
import { tempDir, writeFiles } from '../helpers.js';

declare global {
  var __pluginApiRecords: unknown[] | undefined;
}

// A hook added as docs/plugins.md says: its arguments and its rule, by declaration merging. The SDK must still
// compile with it (the built-in table is closed), and `emit` is typed by it.
declare module 'dumbo' {
  interface HookSpecs {
    my_typed_eval(report: { step: number; score: number }): HookReturn<void>;
  }
  interface HookModes {
    my_typed_eval: 'observe';
  }
}

afterEach(() => {
  globalThis.__pluginApiRecords = undefined;
});

const emitterJs = `import { defineHook, Ok } from 'dumbo';
const record = (r) => (globalThis.__pluginApiRecords ??= []).push(r);
defineHook('my_report', { mode: 'observe', description: 'a report others may answer' });
defineHook('my_transform', { mode: 'pipe', description: 'a value others transform in turn' });
export class Emitter {
  static configKey = 'emitter';
  hooks() {
    return {
      log_init: (_config, ctx) => {
        const { plugin, runFolder, configDir, configFile, seed, backend } = ctx;
        record({ context: { plugin, runFolder, configDir, configFile, seed, backend } });
        record({ metrics: typeof ctx.metrics.logMetrics });
        ctx.logger.info('hello from the context logger');
        return Ok(undefined);
      },
      log_hyperparameters: async (_h, ctx) => {
        const heard = await ctx.emit('my_report', 'r1');
        const piped = await ctx.emit('my_transform', 1, 'tag');
        const refused = await ctx.emit('model_loader', {}).then(() => 'called', (e) => e.message);
        const unknown = await ctx.emit('my_reprot', 1).then(() => 'called', (e) => e.message);
        record({ heard, piped, refused, unknown });
        return Ok(undefined);
      },
    };
  }
}
export const AVAILABLE_PLUGINS = [Emitter];
`;

const listenersJs = `import { Ok } from 'dumbo';
export class Times10 {
  static configKey = 'times10';
  hooks() {
    return {
      my_report: (x, ctx) => Ok('heard ' + x + ' in ' + ctx.plugin),
      my_transform: (v, tag) => Ok(v * 10 + (tag === 'tag' ? 0 : 1000)),
    };
  }
}
export class Plus1 {
  static configKey = 'plus1';
  hooks() {
    return { my_transform: (v) => Ok(v + 1) };
  }
}
export const AVAILABLE_PLUGINS = [Times10, Plus1];
`;

const kernelsJs = `import { Ok } from 'dumbo';
export class Fused {
  static configKey = 'fused';
  hooks() {
    return {
      kernels: (registry, ctx) => {
        registry.register('gelu_new', (x) => x, { plugin: ctx.plugin, backends: ['webgpu'] });
        return Ok(registry);
      },
      model_loader: () => Ok({ architecture: 'Toy', config: {} }),
    };
  }
}
export const AVAILABLE_PLUGINS = [Fused];
`;

async function setup(files: Record<string, string>, yaml: string) {
  const dir = writeFiles(tempDir(), { ...files, 'run.yaml': yaml });
  const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
  return { dir, prepared };
}

describe('the hook bus is typed by calling rule', () => {
  it('does not compile a call by the wrong rule, and refuses it at run time too (plain JS callers)', async () => {
    const bus = new HookBus([]);
    // @ts-expect-error log_init is an observer hook: `first` does not take it
    const wrong = () => bus.first('log_init', () => [{}]);
    await expect(wrong()).rejects.toThrow("hook 'log_init' is called by rule 'observe', not 'first'");
    // @ts-expect-error model_loader is a `first` hook: `pipe` does not take it
    const alsoWrong = () => bus.pipe('model_loader', undefined as never, () => [{}]);
    await expect(alsoWrong()).rejects.toThrow("hook 'model_loader' is called by rule 'first', not 'pipe'");
    expect(await bus.first('model_loader', () => [{}])).toBeUndefined();
  });

  it('types each hook with the context as its last argument', () => {
    const hooks: PluginHooks = {
      log_metrics: (_metrics, step, ctx) => {
        const seed: number = ctx.seed;
        const where: string = ctx.configDir;
        return Ok(void [seed, where, step]);
      },
    };
    expect(typeof hooks.log_metrics).toBe('function');
  });
});

describe('hooks a plugin adds', () => {
  it('are typed for emit by their HookSpecs and HookModes entries', async () => {
    defineHook('my_typed_eval', { mode: 'observe', description: 'a typed custom evaluation' });
    const ctx = standaloneContext('typed');
    const call = () => ctx.emit('my_typed_eval', { step: 1, score: 0.5 });
    // @ts-expect-error the hook takes a report, not a number
    const wrong = () => ctx.emit('my_typed_eval', 3);
    expect([typeof call, typeof wrong]).toEqual(['function', 'function']);
    await expect(call()).rejects.toThrow("typed emitted 'my_typed_eval' outside a run");
  });

  it('redefining a built-in hook does not make it one plugins may emit', () => {
    defineHook('finish', { mode: 'observe', description: 'cleanup', caller: 'plugin' });
    expect(getHookSpec('finish')?.caller).toBe('run');
  });
});

describe('the plugin context', () => {
  it("gives every hook the run's facts, a logger named for the plugin and the metrics registry", async () => {
    const logs: LogRecord[] = [];
    const stop = addLogSink((r) => logs.push(r));
    try {
      const { dir, prepared } = await setup({ 'emitter/index.js': emitterJs }, 'seed: 1234\nplugins: [./emitter]\n');
      const runFolder = tempDir();
      const outcome = await runLifecycle(prepared, { runFolder, run: { backend: 'cpu' } });
      expect(outcome.status).toBe('completed');
      const records = globalThis.__pluginApiRecords!;
      expect(records[0]).toEqual({
        context: {
          plugin: 'emitter',
          runFolder,
          configDir: dir,
          configFile: path.join(dir, 'run.yaml'),
          seed: 1234,
          backend: 'cpu',
        },
      });
      expect(records[1]).toEqual({ metrics: 'function' });
      expect(logs.find((r) => r.message === 'hello from the context logger')?.logger).toBe('emitter');
    } finally {
      stop();
    }
  });

  it('lets a plugin call the hooks it defined (observe, pipe in plugins: order), never the run hooks', async () => {
    const { prepared } = await setup(
      { 'emitter/index.js': emitterJs, 'listeners/index.js': listenersJs },
      'plugins: [./emitter, ./listeners]\n',
    );
    const trace: TraceEntry[] = [];
    const outcome = await runLifecycle(prepared, { onTrace: (e) => trace.push(e) });
    expect(outcome.status).toBe('completed');
    const emitted = globalThis.__pluginApiRecords!.at(-1);
    expect(emitted).toEqual({
      heard: ['heard r1 in times10'],
      piped: 11, // (1 * 10) + 1: times10 first, then plus1, each with the same extra argument
      refused: "plugin emitter emitted 'model_loader': that hook is called by the run itself",
      unknown: "plugin emitter emitted 'my_reprot', which is not a known hook (did you mean 'my_report'?)",
    });
    // Emitted calls are traced like any other.
    expect(trace.filter((e) => e.hook.startsWith('my_')).map((e) => `${e.hook}:${e.plugin}`)).toEqual([
      'my_report:times10',
      'my_transform:times10',
      'my_transform:plus1',
    ]);
  });
});

describe('the kernels hook', () => {
  it("fills the engine's kernel table before the model is loaded", async () => {
    const { prepared } = await setup({ 'fused/index.js': kernelsJs }, 'plugins: [./fused]\n');
    const registered: unknown[] = [];
    const table: KernelRegistry = {
      names: () => ['gelu_new'],
      register: (name, _impl, options) => void registered.push({ name, ...options }),
    };
    const trace: TraceEntry[] = [];
    const outcome = await runLifecycle(prepared, { kernels: table, onTrace: (e) => trace.push(e) });
    expect(outcome.status).toBe('completed');
    expect(registered).toEqual([{ name: 'gelu_new', plugin: 'fused', backends: ['webgpu'] }]);
    expect(trace.map((e) => e.hook)).toEqual(['kernels', 'model_loader']);
  });
});
