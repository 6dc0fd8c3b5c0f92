import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DumboError,
  formatError,
  loadConfiguredPlugins,
  parseConfig,
  resolvePlugins,
  scanCatalog,
  findPluginEntry,
} from '../../src/core/index.js';
import { readdirSync } from 'node:fs';
import { probeLoggerJs, probeLoggerTs, needyJs } from '../fixtures/plugins.js';
import { repoRoot, tempDir, writeFiles } from '../helpers.js';

const emptyUserDir = () => tempDir('dumbo-user-');
/** The built-in plugin folders, as the loader lists them (sorted). */
const builtins = () =>
  readdirSync(path.join(repoRoot, 'plugins'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

async function load(yaml: string, dir: string, userPluginDir = emptyUserDir()) {
  const config = parseConfig(yaml, path.join(dir, 'run.yaml'));
  return { config, plugins: await loadConfiguredPlugins(config, { userPluginDir }) };
}

async function loadError(yaml: string, dir: string, userPluginDir?: string): Promise<string> {
  try {
    await load(yaml, dir, userPluginDir);
  } catch (e) {
    expect(e).toBeInstanceOf(DumboError);
    return formatError(e);
  }
  throw new Error('expected loading to fail');
}

describe('plugin loading', () => {
  it('loads a JS plugin folder outside the repo by relative path, importing from "dumbo"', async () => {
    const dir = writeFiles(tempDir(), { 'my-plugins/probe/index.js': probeLoggerJs() });
    const { plugins } = await load('plugins:\n  - ./my-plugins/probe\n', dir);
    expect(plugins).toHaveLength(1);
    expect(plugins[0]!.meta).toMatchObject({
      name: 'probe_logger',
      configKey: 'probe',
      provides: ['logging', 'probe'],
    });
    expect(plugins[0]!.source).toMatchObject({ kind: 'path', entry: path.join(dir, 'my-plugins/probe/index.js') });
  });

  it('loads a TS plugin folder by absolute path, transpiling it and its TS-style imports', async () => {
    const dir = writeFiles(
      tempDir(),
      Object.fromEntries(Object.entries(probeLoggerTs).map(([k, v]) => [`ts/${k}`, v])),
    );
    const { plugins } = await load(`plugins:\n  - ${path.join(dir, 'ts')}\n`, tempDir());
    expect(plugins.map((p) => p.meta.name)).toEqual(['ts_probe']);
    expect(plugins[0]!.meta.provides).toEqual(['logging']);
  });

  it('finds a plugin in the user plugin folder by folder name and by configKey', async () => {
    const user = writeFiles(tempDir(), {
      'probe-folder/index.js': probeLoggerJs({ className: 'UserProbe', configKey: 'user_probe' }),
    });
    const byFolder = await load('plugins: [probe-folder]\n', tempDir(), user);
    expect(byFolder.plugins[0]!.meta.name).toBe('user_probe');
    expect(byFolder.plugins[0]!.source.kind).toBe('user');
    const byKey = await load('plugins: [user_probe]\n', tempDir(), user);
    expect(byKey.plugins[0]!.meta.className).toBe('UserProbe');
  });

  it('finds built-in plugins by folder name and by configKey', async () => {
    const { plugins } = await load('plugins: [file_logger, console_logger]\n', tempDir());
    expect(plugins.map((p) => [p.meta.configKey, p.source.kind])).toEqual([
      ['file_logger', 'builtin'],
      ['console_logger', 'builtin'],
    ]);
  });

  it('uses package.json exports as the entry of a folder', async () => {
    const dir = writeFiles(tempDir(), {
      'pkg/package.json': JSON.stringify({ name: 'p', type: 'module', exports: { '.': { import: './lib/main.js' } } }),
      'pkg/lib/main.js': probeLoggerJs({ className: 'PkgProbe' }),
    });
    expect(findPluginEntry(path.join(dir, 'pkg'))).toBe(path.join(dir, 'pkg/lib/main.js'));
    const { plugins } = await load('plugins: [./pkg]\n', dir);
    expect(plugins[0]!.meta.className).toBe('PkgProbe');
  });

  it("loads an npm package from the config folder's node_modules", async () => {
    const dir = writeFiles(tempDir(), {
      'node_modules/dumbo-plugin-probe/package.json': JSON.stringify({
        name: 'dumbo-plugin-probe',
        type: 'module',
        main: 'index.js',
      }),
      'node_modules/dumbo-plugin-probe/index.js': probeLoggerJs({ className: 'NpmProbe', configKey: 'npm_probe' }),
    });
    const { plugins } = await load('plugins: [dumbo-plugin-probe]\n', dir);
    expect(plugins[0]!.meta.className).toBe('NpmProbe');
    expect(plugins[0]!.source.kind).toBe('package');
  });

  it('says exactly why an AVAILABLE_PLUGINS entry is not a plugin', async () => {
    const dir = writeFiles(tempDir(), {
      'plugins/foo/index.ts': `import { BasePlugin } from 'dumbo';\nclass Good extends BasePlugin {}\nclass NoHooks {}\nexport const AVAILABLE_PLUGINS = [Good, NoHooks];\n`,
    });
    expect(await loadError('plugins: [./plugins/foo]\n', dir)).toBe(
      `${path.join(dir, 'plugins/foo/index.ts')}: AVAILABLE_PLUGINS[1] is not a plugin class: it has no hooks() method`,
    );
  });

  it('says when a module has no AVAILABLE_PLUGINS', async () => {
    const dir = writeFiles(tempDir(), { 'p/index.js': 'export const plugins = [];\n' });
    expect(await loadError('plugins: [./p]\n', dir)).toBe(
      `${path.join(dir, 'p/index.js')}: exports no AVAILABLE_PLUGINS array (expected \`export const AVAILABLE_PLUGINS = [MyPlugin]\`)`,
    );
  });

  it('locates a TypeScript syntax error in the plugin file', async () => {
    const dir = writeFiles(tempDir(), { 'p/index.ts': 'export const x: number = ;\n' });
    expect(await loadError('plugins: [./p]\n', dir)).toBe(`${path.join(dir, 'p/index.ts')}:1:26: Unexpected ";"`);
  });

  it('names an unknown plugin at its line and column, with where it looked', async () => {
    const dir = tempDir();
    const user = emptyUserDir();
    const msg = await loadError('plugins:\n  - file_logger\n  - nope_logger\n', dir, user);
    expect(msg).toBe(
      `${path.join(dir, 'run.yaml')}:3:5: unknown plugin 'nope_logger': not a built-in plugin (${builtins().join(', ')}), ` +
        `not a folder in the user plugin folder (${user}), not a plugin's configKey, and not an installed npm package`,
    );
  });

  it('says when a plugin path does not exist', async () => {
    const dir = tempDir();
    expect(await loadError('plugins: [./missing]\n', dir)).toBe(
      `${path.join(dir, 'run.yaml')}:1:11: plugin path './missing' does not exist (looked for ${path.join(dir, 'missing')})`,
    );
  });

  it('refuses a plugin listed twice', async () => {
    expect(await loadError('plugins: [file_logger, file_logger]\n', tempDir())).toMatch(
      /:1:24: plugin file_logging_plugin is listed twice \(plugins\[0\] and plugins\[1\]\)$/,
    );
  });

  it('the catalog lists built-in and user plugins, with load errors instead of failing', async () => {
    const user = writeFiles(tempDir(), {
      'good/index.js': probeLoggerJs({ className: 'CatalogProbe' }),
      'bad/index.js': 'export const AVAILABLE_PLUGINS = [42];\n',
    });
    const catalog = await scanCatalog({ userPluginDir: user });
    const byId = Object.fromEntries(catalog.map((e) => [e.id, e]));
    expect(byId.file_logger!.source.kind).toBe('builtin');
    expect(byId.good!.plugins[0]!.meta.className).toBe('CatalogProbe');
    expect(byId.bad!.error).toBe(
      `${path.join(user, 'bad/index.js')}: AVAILABLE_PLUGINS[0] is not a plugin class: it is a number, not a class`,
    );
    expect(catalog.filter((e) => e.source.kind === 'builtin').map((e) => e.id)).toEqual(builtins());
    expect(repoRoot).toBeTruthy();
  });
});

describe('resolution', () => {
  it('names the plugin and the capability nobody provides', async () => {
    const dir = writeFiles(tempDir(), { 'needy/index.js': needyJs });
    const { config, plugins } = await load('plugins:\n  - file_logger\n  - ./needy\n', dir);
    expect(resolvePlugins(plugins, config).map((e) => formatError(e))).toEqual([
      `${path.join(dir, 'run.yaml')}:3:5: probe_needy requires 'x', which no loaded plugin provides`,
    ]);
  });

  it('is satisfied when another plugin provides the capability', async () => {
    const dir = writeFiles(tempDir(), {
      'needy/index.js': needyJs,
      'x/index.js': `import { BasePlugin } from 'dumbo';\nexport class XMaker extends BasePlugin { static provides = ['x']; }\nexport const AVAILABLE_PLUGINS = [XMaker];\n`,
    });
    const { config, plugins } = await load('plugins: [./needy, ./x]\n', dir);
    expect(resolvePlugins(plugins, config)).toEqual([]);
  });

  it('names both plugins of a conflicts clash', async () => {
    const dir = writeFiles(tempDir(), {
      'a/index.js': `import { BasePlugin } from 'dumbo';\nexport class Liger extends BasePlugin { static provides = ['fused_kernels']; static conflicts = ['lora']; }\nexport const AVAILABLE_PLUGINS = [Liger];\n`,
      'b/index.js': `import { BasePlugin } from 'dumbo';\nexport class Lora extends BasePlugin { static provides = ['lora']; }\nexport const AVAILABLE_PLUGINS = [Lora];\n`,
    });
    const { config, plugins } = await load('plugins: [./a, ./b]\n', dir);
    expect(resolvePlugins(plugins, config).map((e) => formatError(e))).toEqual([
      `${path.join(dir, 'run.yaml')}:1:11: liger conflicts with 'lora', which lora provides`,
    ]);
  });

  it('allows only one trainer', async () => {
    const trainer = (n: string) =>
      `import { BasePlugin } from 'dumbo';\nexport class ${n} extends BasePlugin { static provides = ['trainer']; }\nexport const AVAILABLE_PLUGINS = [${n}];\n`;
    const dir = writeFiles(tempDir(), { 't1/index.js': trainer('TrainerOne'), 't2/index.js': trainer('TrainerTwo') });
    const { config, plugins } = await load('plugins: [./t1, ./t2]\n', dir);
    expect(resolvePlugins(plugins, config).map((e) => formatError(e))).toEqual([
      `${path.join(dir, 'run.yaml')}:1:17: only one plugin may provide 'trainer', but trainer_one and trainer_two do`,
    ]);
  });
});
