import { describe, expect, it } from 'vitest';
import {
  BasePlugin,
  LoggingPlugin,
  ModelLoaderPlugin,
  ModelPatcherPlugin,
  Ok,
  readPluginMeta,
  snakeCase,
  standaloneContext,
  TokenizerLoaderPlugin,
  type Model,
} from '../../src/core/index.js';

const model: Model = { architecture: 'GPT2LMHeadModel', config: {} };

describe('plugin metadata', () => {
  it('names a plugin by its class name in snake_case', () => {
    expect(snakeCase('FileLoggingPlugin')).toBe('file_logging_plugin');
    expect(snakeCase('HTTPServerPlugin')).toBe('http_server_plugin');
    expect(snakeCase('ProbeNeedy')).toBe('probe_needy');
  });

  it('reads static metadata and defaults configKey to the snake_case name', () => {
    class ProbeNeedy extends BasePlugin {
      static requires = ['x'];
    }
    const r = readPluginMeta(ProbeNeedy);
    expect(r).toMatchObject({
      ok: true,
      meta: { name: 'probe_needy', configKey: 'probe_needy', requires: ['x'], provides: [] },
    });
  });

  it('keeps an explicit configKey, which several plugins may share', () => {
    class A extends ModelLoaderPlugin {
      static configKey = 'model';
      loadModel() {
        return Ok(model);
      }
    }
    class B extends TokenizerLoaderPlugin {
      static configKey = 'model';
      loadTokenizer() {
        return Ok({ vocabSize: 1, encode: () => [], decode: () => '' });
      }
    }
    expect(readPluginMeta(A)).toMatchObject({ ok: true, meta: { configKey: 'model', provides: ['model_loader'] } });
    expect(readPluginMeta(B)).toMatchObject({ ok: true, meta: { configKey: 'model', provides: ['tokenizer_loader'] } });
  });

  it('explains why a value is not a plugin class', () => {
    expect(readPluginMeta({})).toEqual({ ok: false, reason: 'it is an object, not a class' });
    expect(readPluginMeta(class NoHooks {})).toEqual({ ok: false, reason: 'it has no hooks() method' });
    class BadProvides extends BasePlugin {
      static provides = 'logging' as unknown as string[];
    }
    expect(readPluginMeta(BadProvides)).toEqual({
      ok: false,
      reason: 'static provides must be an array of capability names (strings)',
    });
  });

  it('accepts a plain JS class with a hooks() method (duck typing, no instanceof)', () => {
    class Plain {
      static configKey = 'plain';
      hooks() {
        return {};
      }
    }
    expect(readPluginMeta(Plain)).toMatchObject({ ok: true, meta: { name: 'plain', configKey: 'plain' } });
  });
});

describe('kind base classes wire their methods to hooks', () => {
  it('ModelLoaderPlugin.loadModel -> model_loader, ModelPatcherPlugin.patchModel -> model_patcher', async () => {
    class Loader extends ModelLoaderPlugin {
      loadModel() {
        return Ok(model);
      }
    }
    class Patcher extends ModelPatcherPlugin {
      patchModel(m: Model) {
        return Ok({ ...m, architecture: m.architecture + '+lora' });
      }
    }
    const ctx = standaloneContext('test');
    expect((await new Loader().hooks().model_loader!({}, ctx)).unwrap()).toBe(model);
    expect((await new Patcher().hooks().model_patcher!(model, {}, ctx)).unwrap().architecture).toBe(
      'GPT2LMHeadModel+lora',
    );
  });

  it('LoggingPlugin wires only the methods it has', () => {
    class OnlyInit extends LoggingPlugin {
      initialize() {
        return Ok(undefined);
      }
    }
    expect(Object.keys(new OnlyInit().hooks())).toEqual(['log_init']);
  });

  it("a subclass's own hooks() replaces the default map", () => {
    class Custom extends ModelLoaderPlugin {
      loadModel() {
        return Ok(model);
      }
      hooks() {
        return { log_init: () => Ok(undefined) };
      }
    }
    expect(Object.keys(new Custom().hooks())).toEqual(['log_init']);
  });
});
