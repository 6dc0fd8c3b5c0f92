// The service layer's plugin catalog, config validation, plugin install/remove, config files and settings,
// with the worker process forked for real (plugin code never runs in this process).
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServices, nodeForkHost } from '../../src/services/index.js';
import { PLUGIN_FOLDER_MARKER } from '../../src/services/plugin-files.js';
import { probeLoggerJs, toyTrainerJs } from '../fixtures/plugins.js';
import { repoRoot, tempDir, writeFiles } from '../helpers.js';
import { harness } from './harness.js';

const builtins = readdirSync(path.join(repoRoot, 'plugins'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe('services: plugin catalog and validation', () => {
  const h = harness();

  it('listPlugins lists every built-in plugin folder as cards, and which ones a config uses', async () => {
    const { cards, used } = await h.services.calls.listPlugins('plugins: [file_logger, console_logger]\n');
    for (const folder of builtins) {
      const mine = cards.filter((c) => c.folder === folder);
      expect(mine.length, folder).toBeGreaterThan(0);
      for (const c of mine) {
        expect(c).toMatchObject({ source: 'builtin', location: path.join(repoRoot, 'plugins', folder) });
        expect(c.error).toBeUndefined();
        expect(c.id).toBe(`builtin:${folder}:${c.className}`);
      }
    }
    expect(cards.find((c) => c.folder === 'transformers')?.provides).toEqual(['model_loader']);
    expect(used.sort()).toEqual([
      'builtin:console_logger:ConsoleLoggerPlugin',
      'builtin:file_logger:FileLoggingPlugin',
    ]);
  });

  it('names each card as plugins: accepts it: the folder (the class beside it), or the path the config wrote', async () => {
    // The editor's text resolves relative paths against the working directory (no config opened yet).
    writeFiles(h.cwd, { 'ext/probe/index.js': probeLoggerJs() });
    const { cards, used } = await h.services.calls.listPlugins('plugins: [console_logger, ./ext/probe]\n');
    const named = (name: string) => cards.filter((c) => c.name === name).map((c) => c.className);
    expect(named('console_logger')).toEqual(['ConsoleLoggerPlugin']);
    expect(named('file_logger')).toEqual(['FileLoggingPlugin']);
    expect(named('polars')).toEqual(['PolarsDatasetLoader']);
    expect(named('jinja_formatter')).toEqual(['JinjaFormatter']);
    // One folder, two classes: `plugins: [transformers]` loads both.
    expect(named('transformers').sort()).toEqual(['TransformersModelLoader', 'TransformersTokenizerLoader']);
    expect(named('./ext/probe')).toEqual(['ProbeLogger']);
    for (const c of cards.filter((x) => x.source === 'builtin')) expect(builtins).toContain(c.name);
    expect(cards.filter((c) => used.includes(c.id)).map((c) => c.name)).toEqual(['console_logger', './ext/probe']);
  });

  it('validateConfig names the plugins as the config lists them, the path included', async () => {
    const dir = writeFiles(tempDir(), { 'ext/probe/index.js': probeLoggerJs() });
    const r = await h.services.calls.validateConfig(
      'plugins: [dataset, ./ext/probe]\ndataset: {path: x.jsonl}\n',
      path.join(dir, 'run.yaml'),
    );
    expect(r.problems).toEqual([]);
    expect(r.plugins.map((c) => [c.name, c.className])).toEqual([
      ['polars', 'PolarsDatasetLoader'],
      ['./ext/probe', 'ProbeLogger'],
    ]);
  });

  it('marks a plugin listed by its own name as used, even when the config does not load', async () => {
    const { used } = await h.services.calls.listPlugins('plugins: [transformers_model_loader, nope_not_a_plugin]\n');
    expect(used).toEqual(['builtin:transformers:TransformersModelLoader']);
  });

  it('reads plugin metadata in the worker, never in this process', async () => {
    const marker = path.join(tempDir(), 'pid');
    writeFiles(h.pluginFolder, {
      'spy/index.js':
        `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, String(process.pid));\n` +
        probeLoggerJs({ className: 'Spy', configKey: 'spy' }),
    });
    const { cards } = await h.services.calls.listPlugins();
    expect(cards.find((c) => c.folder === 'spy')).toMatchObject({ source: 'user', className: 'Spy', configKey: 'spy' });
    const pid = Number(readFileSync(marker, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(process.pid);
  });

  it('validateConfig: a YAML error and a schema error, at their line and column of the real path', async () => {
    const file = path.join(h.cwd, 'unsaved.yaml'); // never written: the editor's text is validated as is
    const yaml = await h.services.calls.validateConfig('name: x\nplugins: [file_logger\nfile_logger: {}\n', file);
    expect(yaml.valid).toBe(false);
    expect(yaml.problems[0]).toMatchObject({ file, line: expect.any(Number), column: expect.any(Number) });
    expect(yaml.problems[0]!.message).toMatch(/YAML syntax error/);

    const schema = await h.services.calls.validateConfig(
      'plugins: [file_logger]\nfile_logger:\n  log_path: 3\n  colour: red\n',
      file,
    );
    expect(schema.valid).toBe(false);
    expect(schema.plugins).toEqual([]);
    const byLine = Object.fromEntries(schema.problems.map((p) => [p.line, p]));
    expect(byLine[3]).toMatchObject({ file, column: 13, message: expect.stringMatching(/log_path/) });
    expect(byLine[4]).toMatchObject({ file, column: 3, message: expect.stringMatching(/unknown field 'colour'/) });

    const ok = await h.services.calls.validateConfig('plugins: [file_logger]\n', file);
    expect(ok).toEqual({
      valid: true,
      problems: [],
      plugins: [
        expect.objectContaining({
          name: 'file_logger',
          className: 'FileLoggingPlugin',
          configKey: 'file_logger',
          source: 'builtin',
          provides: ['logging', 'metrics_collector'],
        }),
      ],
    });
  });

  it('validateConfig resolves relative plugin paths against the config file’s folder', async () => {
    const dir = writeFiles(tempDir(), { 'sub/t/index.js': toyTrainerJs });
    const file = path.join(dir, 'sub', 'run.yaml');
    const r = await h.services.calls.validateConfig('plugins: [./t]\ntoy_trainer: {steps: "x"}\n', file);
    expect(r.problems).toEqual([
      expect.objectContaining({ file, line: 2, column: 22, message: expect.stringMatching(/toy_trainer.steps/) }),
    ]);
    const missing = await h.services.calls.validateConfig('plugins: [./nope]\n', file);
    expect(missing.problems[0]).toMatchObject({ file, line: 1, column: 11 });
  });
});

describe('services: a user plugin that ends the worker when imported', () => {
  const h = harness();

  it('listPlugins still lists the catalog, with that folder marked by the crash', async () => {
    writeFiles(h.pluginFolder, {
      'killer/index.js': 'process.exit(5);\n',
      'fine/index.js': probeLoggerJs({ className: 'Fine' }),
    });
    const { cards } = await h.services.calls.listPlugins();
    expect(cards.find((c) => c.folder === 'killer')).toMatchObject({
      source: 'user',
      error: expect.stringMatching(
        /killer.index\.js: cannot load plugin: its module called process\.exit\(5\) while being imported/,
      ),
    });
    expect(cards.find((c) => c.folder === 'fine')).toMatchObject({ className: 'Fine' });
    expect(cards.filter((c) => c.source === 'builtin').length).toBeGreaterThanOrEqual(builtins.length);
    await h.services.calls.removePlugin('killer');
    const after = await h.services.calls.listPlugins();
    expect(after.cards.some((c) => c.error)).toBe(false);
  });
});

describe('services: plugin install and removal', () => {
  const h = harness();

  it('previews a folder (files, package.json, links) and installs it without its symlinks', async () => {
    const outside = writeFiles(tempDir(), { 'secret.txt': 'not for plugins' });
    const src = writeFiles(path.join(tempDir(), 'my_probe'), {
      'index.js': probeLoggerJs({ className: 'MyProbe', configKey: 'my_probe' }),
      'package.json': JSON.stringify({ name: 'my-probe', version: '1.2.3', type: 'module' }),
      'lib/readme.txt': 'hello',
    });
    symlinkSync(path.join(outside, 'secret.txt'), path.join(src, 'secret-link'));
    symlinkSync(outside, path.join(src, 'lib', 'dir-link'));

    const preview = await h.services.calls.previewPluginFolder(src);
    expect(preview.folder).toBe(src);
    expect(preview.files.map((f) => f.path).sort()).toEqual(['index.js', 'lib/readme.txt', 'package.json']);
    expect(preview.files.find((f) => f.path === 'lib/readme.txt')?.bytes).toBe(5);
    expect(preview.links.sort()).toEqual(['lib/dir-link', 'secret-link']);
    expect(preview.packageJson).toMatchObject({ name: 'my-probe', version: '1.2.3' });

    const cards = await h.services.calls.installPlugin(src);
    const dest = path.join(h.pluginFolder, 'my_probe');
    expect(cards).toEqual([
      expect.objectContaining({ id: 'user:my_probe:MyProbe', folder: 'my_probe', source: 'user', location: dest }),
    ]);
    expect(readdirSync(dest).sort()).toEqual(['index.js', 'lib', 'package.json']);
    expect(readdirSync(path.join(dest, 'lib'))).toEqual(['readme.txt']);
    // No staging folder left; the marker says Dumbo manages this folder (the harness chose it while new).
    expect(readdirSync(h.pluginFolder).sort()).toEqual([PLUGIN_FOLDER_MARKER, 'my_probe']);
    expect(h.events.some((e) => e.type === 'plugins-changed')).toBe(true);

    const { cards: catalog } = await h.services.calls.listPlugins();
    expect(catalog.find((c) => c.id === 'user:my_probe:MyProbe')).toMatchObject({ location: dest });

    await expect(h.services.calls.installPlugin(src)).rejects.toThrow(/already installed/);
  });

  it('a plugin that fails to load, or kills the worker, is not installed and leaves nothing behind', async () => {
    const syntax = writeFiles(path.join(tempDir(), 'broken'), { 'index.js': 'export const AVAILABLE_PLUGINS = [;\n' });
    await expect(h.services.calls.installPlugin(syntax)).rejects.toThrow(/broken|Unexpected token|cannot load/);
    const noPlugins = writeFiles(path.join(tempDir(), 'empty_plugin'), { 'index.js': 'export const x = 1;\n' });
    await expect(h.services.calls.installPlugin(noPlugins)).rejects.toThrow(/AVAILABLE_PLUGINS/);
    const exits = writeFiles(path.join(tempDir(), 'exits'), { 'index.js': 'process.exit(3);\n' });
    await expect(h.services.calls.installPlugin(exits)).rejects.toThrow(
      /called process\.exit\(3\) while being imported/,
    );
    const kills = writeFiles(path.join(tempDir(), 'kills'), { 'index.js': "process.kill(process.pid, 'SIGKILL');\n" });
    await expect(h.services.calls.installPlugin(kills)).rejects.toThrow(/plugin worker .*SIGKILL/);
    expect(readdirSync(h.pluginFolder).filter((n) => n !== 'my_probe' && n !== PLUGIN_FOLDER_MARKER)).toEqual([]);
    // The worker came back for the next request.
    const { cards } = await h.services.calls.listPlugins();
    expect(cards.some((c) => c.folder === 'file_logger')).toBe(true);
  });

  it('refuses names that are not plain folder names, and folders around the plugin folder', async () => {
    await expect(h.services.calls.removePlugin('../work')).rejects.toThrow(/not a plugin folder name/);
    await expect(h.services.calls.removePlugin('nothing_here')).rejects.toThrow(/no plugin folder/);
    const dotted = writeFiles(path.join(tempDir(), '.hidden'), { 'index.js': toyTrainerJs });
    await expect(h.services.calls.installPlugin(dotted)).rejects.toThrow(/cannot be a plugin folder name/);
    await expect(h.services.calls.installPlugin(path.dirname(h.pluginFolder))).rejects.toThrow(/plugin folder/);
  });

  it('removePlugin deletes the folder; the catalog no longer lists it', async () => {
    const before = h.events.filter((e) => e.type === 'plugins-changed').length;
    await h.services.calls.removePlugin('my_probe');
    expect(existsSync(path.join(h.pluginFolder, 'my_probe'))).toBe(false);
    expect(h.events.filter((e) => e.type === 'plugins-changed').length).toBe(before + 1);
    const { cards } = await h.services.calls.listPlugins();
    expect(cards.some((c) => c.folder === 'my_probe')).toBe(false);
  });

  it('a reinstalled plugin of the same name shows its new code (the worker does not serve a stale module)', async () => {
    const v1 = writeFiles(path.join(tempDir(), 'again'), { 'index.js': probeLoggerJs({ className: 'First' }) });
    expect((await h.services.calls.installPlugin(v1))[0]!.className).toBe('First');
    await h.services.calls.removePlugin('again');
    const v2 = writeFiles(path.join(tempDir(), 'again'), { 'index.js': probeLoggerJs({ className: 'Second' }) });
    expect((await h.services.calls.installPlugin(v2))[0]!.className).toBe('Second');
    const { cards } = await h.services.calls.listPlugins();
    expect(cards.filter((c) => c.folder === 'again').map((c) => c.className)).toEqual(['Second']);
  });

  it('a plugin edited in place is read again (the worker restarts when imported files change)', async () => {
    writeFiles(h.pluginFolder, { 'edited/index.js': probeLoggerJs({ className: 'Before' }) });
    const first = await h.services.calls.listPlugins();
    expect(first.cards.find((c) => c.folder === 'edited')?.error).toBeUndefined();
    expect(first.cards.find((c) => c.folder === 'edited')?.className).toBe('Before');
    writeFiles(h.pluginFolder, { 'edited/index.js': probeLoggerJs({ className: 'AfterTheEdit' }) });
    const second = await h.services.calls.listPlugins();
    expect(second.cards.find((c) => c.folder === 'edited')?.className).toBe('AfterTheEdit');
  });
});

describe('services: config files, examples and settings', () => {
  const h = harness();

  it('settings: defaults, a round trip, and persistence in the JSON file the desktop app reads', async () => {
    const s = await h.services.calls.getSettings();
    expect(s).toMatchObject({ recentConfigs: [], pluginFolder: h.pluginFolder, defaultBackend: 'auto' });
    const updated = await h.services.calls.updateSettings({
      defaultBackend: 'cpu',
      windowBounds: { x: 1, y: 2, width: 800, height: 600 },
    });
    expect(updated).toMatchObject({ defaultBackend: 'cpu', windowBounds: { x: 1, y: 2, width: 800, height: 600 } });
    const file = path.join(h.settingsDir, 'settings.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      defaultBackend: 'cpu',
      pluginFolder: h.pluginFolder,
    });

    const other = createServices({ fork: nodeForkHost(), cwd: h.cwd, settingsDir: h.settingsDir });
    try {
      expect(await other.calls.getSettings()).toMatchObject({ defaultBackend: 'cpu', pluginFolder: h.pluginFolder });
    } finally {
      await other.dispose();
    }
  });

  it('openConfig reads a YAML file and puts it first in recentConfigs; saveConfig writes it', async () => {
    const file = path.join(h.cwd, 'a.yaml');
    writeFileSync(file, 'plugins: [file_logger]\n');
    expect(await h.services.calls.openConfig('a.yaml')).toEqual({ path: file, text: 'plugins: [file_logger]\n' });
    await h.services.calls.saveConfig(file, 'plugins: [console_logger]\n');
    expect(readFileSync(file, 'utf8')).toBe('plugins: [console_logger]\n');
    const b = path.join(h.cwd, 'b.yml');
    await h.services.calls.saveConfig(b, 'plugins: []\n');
    await h.services.calls.openConfig(b);
    await h.services.calls.openConfig(file);
    expect((await h.services.calls.getSettings()).recentConfigs).toEqual([file, b]);
    await expect(h.services.calls.openConfig(path.join(h.cwd, 'missing.yaml'))).rejects.toThrow(/no such file/);
    await expect(h.services.calls.saveConfig(path.join(h.cwd, 'x.sh'), 'rm -rf /')).rejects.toThrow(/\.yaml/);
    expect(existsSync(path.join(h.cwd, 'x.sh'))).toBe(false);
  });

  it('listExamples: the shipped examples, the quickstart first, with their index entry and text', async () => {
    const examples = await h.services.calls.listExamples();
    const quick = examples[0]!;
    const file = path.join(repoRoot, 'resources', 'examples', 'quickstart.yaml');
    expect(quick).toMatchObject({ name: 'quickstart', path: file, text: readFileSync(file, 'utf8') });
    expect(quick.description).toMatch(/^Trains a small GPT-2/);
    expect(quick.duration).toMatch(/^about \d+ s on 2 CPU cores with native-cpu \(measured/);
    expect(examples.map((e) => e.name)).toContain('hello');
  });

  it('updateSettings with another plugin folder changes the catalog', async () => {
    const folder = writeFiles(tempDir(), { 'elsewhere/index.js': probeLoggerJs({ className: 'Elsewhere' }) });
    mkdirSync(folder, { recursive: true });
    await h.services.calls.updateSettings({ pluginFolder: folder });
    const { cards } = await h.services.calls.listPlugins();
    expect(cards.find((c) => c.folder === 'elsewhere')).toMatchObject({ source: 'user', className: 'Elsewhere' });
  });
});

describe('services: the API deletes and writes only in the plugin folder it manages and the configs opened', () => {
  const h = harness();
  const probe = (name: string) =>
    writeFiles(path.join(tempDir(), name), { 'index.js': probeLoggerJs({ className: 'P' }) });

  it('updateSettings({pluginFolder}) on a folder of files, then removePlugin or installPlugin: nothing there changes', async () => {
    const victim = writeFiles(tempDir(), { 'thesis/chapter1.tex': 'years of work', 'notes.txt': 'keep' });
    // The setting is taken (the catalog reads such a folder) ...
    expect((await h.services.calls.updateSettings({ pluginFolder: victim })).pluginFolder).toBe(victim);
    // ... but Dumbo deletes and writes nothing in it.
    await expect(h.services.calls.removePlugin('thesis')).rejects.toThrow(
      new RegExp(`refusing to remove the plugin 'thesis': ${victim} is not a plugin folder Dumbo manages`),
    );
    await expect(h.services.calls.installPlugin(probe('intruder'))).rejects.toThrow(
      /refusing to install 'intruder': .* is not a plugin folder Dumbo manages/,
    );
    expect(readFileSync(path.join(victim, 'thesis', 'chapter1.tex'), 'utf8')).toBe('years of work');
    expect(readdirSync(victim).sort()).toEqual(['notes.txt', 'thesis']); // no marker, no copy, no staging
  });

  it('a new or an empty folder chosen as the plugin folder gets the marker, and install and remove work there', async () => {
    const fresh = path.join(tempDir(), 'new', 'plugins');
    await h.services.calls.updateSettings({ pluginFolder: fresh });
    expect(readdirSync(fresh)).toEqual([PLUGIN_FOLDER_MARKER]);
    await h.services.calls.installPlugin(probe('fresh_probe'));
    expect(existsSync(path.join(fresh, 'fresh_probe', 'index.js'))).toBe(true);
    await h.services.calls.removePlugin('fresh_probe');
    expect(readdirSync(fresh)).toEqual([PLUGIN_FOLDER_MARKER]);

    const empty = tempDir();
    await h.services.calls.updateSettings({ pluginFolder: empty });
    expect(readdirSync(empty)).toEqual([PLUGIN_FOLDER_MARKER]);
  });

  it('a folder of files becomes managed once the user puts the marker there by hand', async () => {
    const mine = writeFiles(tempDir(), { 'old_plugin/index.js': probeLoggerJs({ className: 'Old' }) });
    await h.services.calls.updateSettings({ pluginFolder: mine });
    await expect(h.services.calls.removePlugin('old_plugin')).rejects.toThrow(/create an empty file named/);
    writeFileSync(path.join(mine, PLUGIN_FOLDER_MARKER), '');
    await h.services.calls.removePlugin('old_plugin');
    expect(existsSync(path.join(mine, 'old_plugin'))).toBe(false);
  });

  it('the plugin folder given on the command line (--plugin-path) is managed without a marker', async () => {
    const cli = writeFiles(tempDir(), { 'cli_plugin/index.js': probeLoggerJs({ className: 'Cli' }) });
    const services = createServices({ fork: nodeForkHost(), cwd: h.cwd, settingsDir: tempDir(), userPluginDir: cli });
    try {
      await services.calls.removePlugin('cli_plugin');
      expect(readdirSync(cli)).toEqual([]);
    } finally {
      await services.dispose();
    }
  });

  it('updateSettings refuses a plugin folder that is a file', async () => {
    const file = path.join(writeFiles(tempDir(), { 'f.txt': 'x' }), 'f.txt');
    await expect(h.services.calls.updateSettings({ pluginFolder: file })).rejects.toThrow(
      `${file} cannot be the plugin folder: it is not a folder`,
    );
    expect((await h.services.calls.getSettings()).pluginFolder).not.toBe(file);
  });

  it('saveConfig refuses to overwrite a file that was not opened here, even one named in the recent configs', async () => {
    const dir = writeFiles(tempDir(), { 'victim.yaml': 'other: tool\n' });
    const victim = path.join(dir, 'victim.yaml');
    await expect(h.services.calls.saveConfig(victim, 'plugins: []\n')).rejects.toThrow(
      `refusing to overwrite ${victim}: it was not opened or created in Dumbo`,
    );
    // The recent configs are a setting the API can change: they grant nothing.
    await h.services.calls.updateSettings({ recentConfigs: [victim] });
    await expect(h.services.calls.saveConfig(victim, 'plugins: []\n')).rejects.toThrow(/refusing to overwrite/);
    expect(readFileSync(victim, 'utf8')).toBe('other: tool\n');
    expect(readdirSync(dir)).toEqual(['victim.yaml']); // no temporary file left
    // Opened in Dumbo, it is the user's config to save.
    await h.services.calls.openConfig(victim);
    await h.services.calls.saveConfig(victim, 'plugins: []\n');
    expect(readFileSync(victim, 'utf8')).toBe('plugins: []\n');
  });

  it('saveConfig creates a new file and may save it again; it never writes through a link or onto a folder', async () => {
    const outside = writeFiles(tempDir(), { 'target.yaml': 'untouched\n' });
    const dir = tempDir();
    const created = path.join(dir, 'new.yaml');
    await h.services.calls.saveConfig(created, 'name: one\n');
    await h.services.calls.saveConfig(created, 'name: two\n');
    expect(readFileSync(created, 'utf8')).toBe('name: two\n');

    symlinkSync(path.join(outside, 'target.yaml'), path.join(dir, 'link.yaml'));
    await expect(h.services.calls.saveConfig(path.join(dir, 'link.yaml'), 'x: 1\n')).rejects.toThrow(
      /refusing to overwrite/,
    );
    symlinkSync(path.join(outside, 'made-by-link.yaml'), path.join(dir, 'dangling.yaml'));
    await expect(h.services.calls.saveConfig(path.join(dir, 'dangling.yaml'), 'x: 1\n')).rejects.toThrow(
      /it is not a file/,
    );
    mkdirSync(path.join(dir, 'folder.yaml'));
    await expect(h.services.calls.saveConfig(path.join(dir, 'folder.yaml'), 'x: 1\n')).rejects.toThrow(
      /it is not a file/,
    );
    expect(readFileSync(path.join(outside, 'target.yaml'), 'utf8')).toBe('untouched\n');
    expect(readdirSync(outside)).toEqual(['target.yaml']);
    expect(readdirSync(dir).sort()).toEqual(['dangling.yaml', 'folder.yaml', 'link.yaml', 'new.yaml']);
  });
});
