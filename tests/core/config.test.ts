import { describe, expect, expectTypeOf, it } from 'vitest';
import path from 'node:path';
import {
  DumboError,
  formatError,
  parseConfig,
  readPluginMeta,
  validatePluginSections,
  BasePlugin,
  DEFAULT_SEED,
  RUN_KEYS,
  RUN_SCHEMA,
  type BackendChoice,
  type RunConfig,
} from '../../src/core/index.js';
import { tempDir, writeFiles } from '../helpers.js';
import { loadConfig } from '../../src/core/config.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DumboError);
    return formatError(e);
  }
  throw new Error('expected an error');
}

class Logger extends BasePlugin {
  static configKey = 'file_logger';
  static configSchema = {
    type: 'object',
    properties: {
      log_path: { type: 'string', default: 'training.log' },
      every: { type: 'integer', minimum: 1 },
      level: { enum: ['info', 'debug'] },
    },
    required: [],
    additionalProperties: false,
  };
}
const meta = (readPluginMeta(Logger) as { ok: true; meta: import('../../src/core/index.js').PluginMeta }).meta;

describe('config loading', () => {
  it('reads plugins and sections, keeping positions', () => {
    const c = parseConfig('plugins:\n  - file_logger\nfile_logger:\n  log_path: a.log\n', 'conf/run.yaml');
    expect(c.data.plugins).toEqual(['file_logger']);
    expect(c.section('file_logger')).toEqual({ log_path: 'a.log' });
    expect(c.section('absent')).toEqual({});
    expect(c.locate(['file_logger', 'log_path'])).toEqual({ file: path.join('conf', 'run.yaml'), line: 4, column: 13 });
    expect(c.locate(['file_logger', 'log_path'], { key: true })).toMatchObject({ line: 4, column: 3 });
  });

  it('reports a YAML syntax error as FILE:LINE:COL', () => {
    const msg = errorOf(() => parseConfig('plugins:\n  - a\nfile_logger:\n  log_path: a\n  oops\n', 'bad.yaml'));
    expect(msg).toBe('bad.yaml:5:3: YAML syntax error: Implicit map keys need to be followed by map values');
  });

  it('reports a tab-indented mapping at its line and column', () => {
    const msg = errorOf(() => parseConfig('plugins: [a]\nfile_logger:\n\tlog_path: x\n', 'tabs.yaml'));
    expect(msg).toMatch(/^tabs\.yaml:3:1: YAML syntax error: /);
  });

  it('reports a duplicated key', () => {
    expect(errorOf(() => parseConfig('plugins: [a]\nplugins: [b]\n', 'dup.yaml'))).toBe(
      'dup.yaml:2:1: YAML syntax error: Map keys must be unique',
    );
  });

  it('needs a plugins list', () => {
    expect(errorOf(() => parseConfig('file_logger: {}\n', 'x.yaml'))).toBe(
      "x.yaml:1:1: 'plugins' is missing: expected a list of plugin names, e.g. plugins: [file_logger]",
    );
    expect(errorOf(() => parseConfig('plugins: file_logger\n', 'x.yaml'))).toBe(
      `x.yaml:1:10: 'plugins' must be a list of plugin names, got string "file_logger"`,
    );
    expect(errorOf(() => parseConfig('plugins:\n  - ok\n  - 3\n', 'x.yaml'))).toBe(
      'x.yaml:3:5: plugins[1] must be a plugin name or path (a non-empty string), got number 3',
    );
    expect(errorOf(() => parseConfig('- a\n- b\n', 'x.yaml'))).toBe(
      'x.yaml:1:1: the config must be a mapping of sections (plugins: [...], and one section per plugin)',
    );
  });

  it('says when the config file cannot be read', async () => {
    const dir = tempDir();
    await expect(loadConfig(path.join(dir, 'missing.yaml'))).rejects.toThrow('cannot read config: no such file');
  });
});

describe("plugin sections are validated with the plugin's JSON Schema", () => {
  const validate = (yaml: string) => {
    const c = parseConfig(yaml, 'run.yaml');
    return { c, errors: validatePluginSections(c, [{ meta, entryIndex: 0 }]).map((e) => formatError(e)) };
  };

  it('a wrong type is reported at the value', () => {
    expect(validate('plugins: [file_logger]\nfile_logger:\n  log_path: 3\n').errors).toEqual([
      'run.yaml:3:13: file_logger.log_path: expected string, got number 3',
    ]);
  });

  it('an unknown field is reported at its key with the fields that exist', () => {
    expect(validate('plugins: [file_logger]\nfile_logger:\n  log_pth: a\n').errors).toEqual([
      "run.yaml:3:3: file_logger: unknown field 'log_pth' (expected one of: log_path, every, level)",
    ]);
  });

  it('every error is reported, each at its place', () => {
    expect(validate('plugins: [file_logger]\nfile_logger:\n  every: 0\n  level: loud\n').errors).toEqual([
      'run.yaml:3:10: file_logger.every: must be >= 1',
      'run.yaml:4:10: file_logger.level: expected one of "info", "debug"',
    ]);
  });

  it('fills in defaults, also for a section that is absent', () => {
    const { c, errors } = validate('plugins: [file_logger]\n');
    expect(errors).toEqual([]);
    expect(c.section('file_logger')).toEqual({ log_path: 'training.log' });
  });

  it('a section that is not a mapping is an error', () => {
    expect(validate('plugins: [file_logger]\nfile_logger: [1]\n').errors).toEqual([
      "run.yaml:2:14: 'file_logger' must be a mapping of settings for plugin logger, got a list",
    ]);
  });

  it('reads from a file on disk', async () => {
    const dir = writeFiles(tempDir(), { 'c.yaml': 'plugins: [file_logger]\n' });
    const c = await loadConfig(path.join(dir, 'c.yaml'));
    expect(c.dir).toBe(dir);
    expect(c.data.plugins).toEqual(['file_logger']);
  });
});

describe('backend: and webgpu:', () => {
  it('accepts every backend name and a webgpu section, and points at a wrong value with the choices', () => {
    for (const b of ['auto', 'gpu', 'webgpu', 'native', 'cpu', 'wasm']) {
      expect(parseConfig(`plugins: []\nbackend: ${b}\n`, 'run.yaml').data.backend).toBe(b);
    }
    const ok = parseConfig(
      'plugins: []\nbackend: webgpu\nwebgpu:\n  allow_software: true\n  adapter: nvidia\n',
      'run.yaml',
    );
    expect(ok.data.webgpu).toEqual({ allow_software: true, adapter: 'nvidia' });
    expect(errorOf(() => parseConfig('plugins: []\nbackend: cuda\n', 'run.yaml'))).toBe(
      "run.yaml:2:10: backend: expected one of auto, gpu, webgpu, native, native-cpu, cpu, wasm, got 'cuda'",
    );
  });

  it('checks the webgpu section field by field, at the line and column of the mistake', () => {
    expect(errorOf(() => parseConfig('plugins: []\nwebgpu:\n  allow_softwar: true\n', 'run.yaml'))).toBe(
      "run.yaml:3:3: webgpu: unknown field 'allow_softwar' (expected one of: allow_software, adapter, low_power, max_binding_bytes)",
    );
    expect(errorOf(() => parseConfig('plugins: []\nwebgpu:\n  allow_software: "yes"\n', 'run.yaml'))).toBe(
      'run.yaml:3:19: webgpu.allow_software: expected boolean, got string "yes"',
    );
    expect(errorOf(() => parseConfig('plugins: []\nwebgpu: true\n', 'run.yaml'))).toBe(
      "run.yaml:2:9: 'webgpu' must be a mapping (allow_software, adapter, ...), got boolean true",
    );
  });
});

describe("the run's keys (RUN_SCHEMA)", () => {
  it('gives the run its keys typed, with the seed defaulting to DEFAULT_SEED, and leaves the data as written', () => {
    const c = parseConfig('plugins: [a]\nname: demo\nbackend: cpu\nwebgpu: { low_power: true }\nmodel: {}\n', 'r.yaml');
    expect(c.run).toEqual({ plugins: ['a'], name: 'demo', backend: 'cpu', webgpu: { low_power: true }, seed: 42 });
    expect(DEFAULT_SEED).toBe(42);
    expect(c.data.seed).toBeUndefined();
    expect(parseConfig('plugins: []\nseed: 7\n', 'r.yaml').run.seed).toBe(7);
    expectTypeOf(c.run.seed).toEqualTypeOf<number>();
    expectTypeOf(c.run.backend).toEqualTypeOf<BackendChoice | undefined>();
    expectTypeOf(c.run.webgpu?.max_binding_bytes).toEqualTypeOf<number | undefined>();
    expectTypeOf<RunConfig['plugins']>().toEqualTypeOf<string[]>();
  });

  it('names the run keys in the order of the schema, as the unknown-key message lists them', () => {
    expect(RUN_KEYS).toEqual(['plugins', 'name', 'output_dir', 'seed', 'backend', 'webgpu', 'resume_from']);
    expect(RUN_KEYS).toEqual(Object.keys(RUN_SCHEMA.properties));
  });

  it('says what each run key must be, at its line', () => {
    const cases: [string, string][] = [
      ['name: 3', "r.yaml:2:7: 'name' must be a string, got number 3"],
      ['output_dir: [a]', "r.yaml:2:13: 'output_dir' must be a string, got a list"],
      ['resume_from: { a: 1 }', "r.yaml:2:14: 'resume_from' must be a string, got a mapping"],
      ['backend: 3', "r.yaml:2:10: 'backend' must be a string, got number 3"],
      ['seed: 1.5', "r.yaml:2:7: 'seed' must be an integer, got number 1.5"],
      ['seed: .nan', "r.yaml:2:7: 'seed' must be an integer, got number NaN"],
      ['seed: .inf', 'r.yaml:2:7: seed: expected a finite number, got Infinity'],
      [
        'plugins: [a, "  "]',
        'r.yaml:1:14: plugins[1] must be a plugin name or path (a non-empty string), got string "  "',
      ],
    ];
    for (const [line, message] of cases) {
      const text = line.startsWith('plugins') ? `${line}\n` : `plugins: []\n${line}\n`;
      expect(errorOf(() => parseConfig(text, 'r.yaml'))).toBe(message);
    }
  });
});
