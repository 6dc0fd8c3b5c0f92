/**
 * Plugin loading: from the `plugins:` names of a config to checked plugin classes.
 *
 * A name is looked up, in order, as a path (absolute or relative to the config file), a built-in plugin
 * folder (`plugins/<name>/`), a folder in the user plugin folder, a plugin's configKey (or snake_case
 * name) among those two, and last as a module (an npm package name). A module's `AVAILABLE_PLUGINS`
 * lists its plugin classes. A folder's entry is package.json `exports`/`main`, else index.ts, index.mjs,
 * index.js. `.ts` is transpiled on load, and `import ... from 'dumbo'` resolves to this SDK wherever the
 * folder lives (loader-hooks.mjs).
 */

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { register } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { displayPath, type LoadedConfig } from './config.js';
import { DumboError, type ErrorLocation } from './errors.js';
import { nativeImport } from './native-import.mjs';
import { readPluginMeta, type PluginClass, type PluginMeta } from './plugin.js';
import { builtinPluginDir, engineEntryUrl, sdkEntryUrl, userPluginDir } from './paths.js';
import { ProcessExitCalled, withActivity } from './activity.js';

export type PluginSourceKind = 'builtin' | 'user' | 'path' | 'package';

export interface PluginSource {
  kind: PluginSourceKind;
  /** The plugin folder, or the module file for a package or a file path. */
  location: string;
  /** The file that was imported. */
  entry: string;
}

/** One plugin class, checked, with where it came from. */
export interface LoadedPlugin {
  meta: PluginMeta;
  cls: PluginClass;
  source: PluginSource;
  /** Index of the `plugins:` entry that brought it in (-1 in the catalog). */
  entryIndex: number;
}

/** A plugin folder or module as the catalog sees it: its plugins, or why it could not be loaded. */
export interface CatalogEntry {
  /** The folder name (built-in and user plugins). */
  id: string;
  source: PluginSource;
  plugins: LoadedPlugin[];
  error?: string;
}

export interface LoaderOptions {
  /** The user plugin folder (default: `DUMBO_PLUGIN_PATH`, else under the user's app data). */
  userPluginDir?: string;
  /** The built-in plugin folder (default: `plugins/` of this app). */
  builtinPluginDir?: string;
}

let hooksRegistered = false;

/** Registers the module hooks once per process (resolve 'dumbo', transpile .ts). */
export function ensureLoaderHooks(): void {
  if (hooksRegistered) return;
  register(new URL('./loader-hooks.mjs', import.meta.url), {
    data: { sdkUrl: sdkEntryUrl().href, engineUrl: engineEntryUrl().href },
  });
  hooksRegistered = true;
}

/** The file to import for a plugin folder, or a DumboError saying what was looked for. */
export function findPluginEntry(folder: string): string {
  const pkgFile = path.join(folder, 'package.json');
  if (existsSync(pkgFile)) {
    let pkg: { exports?: unknown; main?: unknown };
    try {
      pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as typeof pkg;
    } catch (error) {
      throw new DumboError(`invalid package.json: ${(error as Error).message}`, {
        location: { file: displayPath(pkgFile) },
      });
    }
    const target = exportTarget(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : undefined);
    if (target) {
      const file = path.resolve(folder, target);
      if (!existsSync(file)) {
        throw new DumboError(`its entry '${target}' does not exist`, { location: { file: displayPath(pkgFile) } });
      }
      return file;
    }
  }
  for (const name of ['index.ts', 'index.mjs', 'index.js']) {
    const file = path.join(folder, name);
    if (existsSync(file)) return file;
  }
  throw new DumboError('not a plugin folder: no package.json exports/main, and no index.ts, index.mjs or index.js', {
    location: { file: displayPath(folder) },
  });
}

/** The `.` export of a package.json `exports` field, for the conditions Node's `import` uses. */
function exportTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null || Array.isArray(exports)) return undefined;
  const map = exports as Record<string, unknown>;
  const dot = Object.keys(map).some((k) => k.startsWith('.')) ? map['.'] : map;
  if (typeof dot === 'string') return dot;
  if (typeof dot === 'object' && dot !== null) {
    for (const cond of ['import', 'node', 'default']) {
      const t = exportTarget((dot as Record<string, unknown>)[cond]);
      if (t) return t;
    }
  }
  return undefined;
}

/** Imports a plugin module and checks every entry of its AVAILABLE_PLUGINS. */
export async function importPluginModule(
  entry: string,
  source: Omit<PluginSource, 'entry'>,
  entryIndex = -1,
): Promise<LoadedPlugin[]> {
  ensureLoaderHooks();
  const shown = displayPath(entry);
  let mod: Record<string, unknown>;
  try {
    mod = (await withActivity(`loading plugin ${shown}`, () => nativeImport(pathToFileURL(entry).href))) as Record<
      string,
      unknown
    >;
  } catch (error) {
    throw importError(entry, error);
  }
  const list = mod.AVAILABLE_PLUGINS ?? (mod.default as Record<string, unknown> | undefined)?.AVAILABLE_PLUGINS;
  if (!Array.isArray(list)) {
    throw new DumboError(
      'exports no AVAILABLE_PLUGINS array (expected `export const AVAILABLE_PLUGINS = [MyPlugin]`)',
      { location: { file: shown } },
    );
  }
  if (list.length === 0) {
    throw new DumboError('AVAILABLE_PLUGINS is empty', { location: { file: shown } });
  }
  return list.map((value, i) => {
    const checked = readPluginMeta(value);
    if (!checked.ok) {
      throw new DumboError(`AVAILABLE_PLUGINS[${i}] is not a plugin class: ${checked.reason}`, {
        location: { file: shown },
      });
    }
    return { meta: checked.meta, cls: value as PluginClass, source: { ...source, entry }, entryIndex };
  });
}

/** An import failure, located in the plugin's own file where the error says where. */
function importError(entry: string, error: unknown): DumboError {
  if (error instanceof ProcessExitCalled) {
    return new DumboError(
      `cannot load plugin: its module called process.exit(${error.code ?? ''}) while being imported; ` +
        'a plugin must throw an error instead of ending the process',
      { location: { file: displayPath(entry) }, cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  // Our load hook says `FILE:LINE:COL: text` for TypeScript syntax errors.
  const m = /^(.*):(\d+):(\d+): ([\s\S]*)$/.exec(message);
  if (m && m[1] && path.isAbsolute(m[1])) {
    return new DumboError(m[4]!, {
      location: { file: displayPath(m[1]), line: Number(m[2]), column: Number(m[3]) },
      cause: error,
    });
  }
  // Node's own SyntaxError carries the location in the first stack line: `file:///x/index.js:3`.
  const loc = /^(file:\/\/\S+?):(\d+)$/m.exec(error instanceof Error ? (error.stack ?? '') : '');
  const location: ErrorLocation = { file: displayPath(entry) };
  if (loc && loc[1] && decodeURI(loc[1]).endsWith(entry.replace(/\\/g, '/'))) location.line = Number(loc[2]);
  return new DumboError(`cannot load plugin: ${message}`, { location, cause: error });
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function listFolders(dir: string): string[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
}

async function loadFolder(folder: string, kind: PluginSourceKind, entryIndex = -1): Promise<LoadedPlugin[]> {
  const entry = findPluginEntry(folder);
  return importPluginModule(entry, { kind, location: folder }, entryIndex);
}

/**
 * Every plugin folder in the built-in and user plugin folders, each loaded (which runs its module code: do
 * this only in a run host or the CLI, and only for folders the user trusts).
 */
export async function scanCatalog(options: LoaderOptions = {}): Promise<CatalogEntry[]> {
  const out: CatalogEntry[] = [];
  const roots: [string, PluginSourceKind][] = [
    [options.builtinPluginDir ?? builtinPluginDir(), 'builtin'],
    [userPluginDir(options.userPluginDir), 'user'],
  ];
  for (const [root, kind] of roots) {
    for (const id of listFolders(root)) {
      const folder = path.join(root, id);
      try {
        out.push({ id, source: { kind, location: folder, entry: '' }, plugins: await loadFolder(folder, kind) });
      } catch (error) {
        out.push({ id, source: { kind, location: folder, entry: '' }, plugins: [], error: errorLine(error) });
      }
    }
  }
  return out;
}

function errorLine(error: unknown): string {
  if (error instanceof DumboError) {
    const l = error.location;
    const where = l.file ? `${l.file}${l.line ? `:${l.line}` : ''}${l.column ? `:${l.column}` : ''}: ` : '';
    return where + error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function looksLikePath(name: string): boolean {
  return (
    name.startsWith('.') ||
    name.startsWith('/') ||
    name.startsWith('~') ||
    /^[A-Za-z]:[\\/]/.test(name) ||
    /\.(m?[jt]s)$/.test(name) ||
    (name.includes('/') && !name.startsWith('@')) ||
    name.includes('\\')
  );
}

/** Finds an npm package's ESM entry from the config's folder upwards (a user's own node_modules first). */
function findPackageEntry(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const folder = path.join(dir, 'node_modules', name);
    if (isDir(folder)) {
      try {
        return findPluginEntry(folder);
      } catch {
        return undefined;
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Loads the plugins a config names, in `plugins:` order. Errors are DumboErrors located at the `plugins:`
 * entry (unknown name, missing path) or in the plugin's own file (malformed plugin).
 */
export async function loadConfiguredPlugins(
  config: LoadedConfig,
  options: LoaderOptions = {},
): Promise<LoadedPlugin[]> {
  const builtinDir = options.builtinPluginDir ?? builtinPluginDir();
  const userDir = userPluginDir(options.userPluginDir);
  let catalog: CatalogEntry[] | undefined;
  const loaded: LoadedPlugin[] = [];

  for (const [i, rawName] of config.data.plugins.entries()) {
    const name = rawName.trim();
    const at = config.locate(['plugins', i]);
    let found: LoadedPlugin[] | undefined;
    try {
      found = await resolveName(name, i);
    } catch (error) {
      if (error instanceof DumboError && error.location.file) throw error;
      throw new DumboError(error instanceof Error ? error.message : String(error), { location: at, cause: error });
    }
    if (!found) {
      throw new DumboError(
        `unknown plugin '${name}': not a built-in plugin (${listFolders(builtinDir).join(', ') || 'none'}), ` +
          `not a folder in the user plugin folder (${userDir}), not a plugin's configKey, ` +
          `and not an installed npm package`,
        { location: at },
      );
    }
    for (const p of found) {
      const twin = loaded.find((q) => q.cls === p.cls);
      if (twin) {
        throw new DumboError(`plugin ${p.meta.name} is listed twice (plugins[${twin.entryIndex}] and plugins[${i}])`, {
          location: at,
          plugin: p.meta.name,
        });
      }
      loaded.push(p);
    }
  }
  return loaded;

  async function resolveName(name: string, i: number): Promise<LoadedPlugin[] | undefined> {
    if (looksLikePath(name)) {
      const abs = path.resolve(config.dir, name.startsWith('~') ? path.join(os.homedir(), name.slice(1)) : name);
      if (!existsSync(abs)) {
        throw new DumboError(`plugin path '${name}' does not exist (looked for ${abs})`, {
          location: config.locate(['plugins', i]),
        });
      }
      if (isDir(abs)) return loadFolder(abs, 'path', i);
      return importPluginModule(abs, { kind: 'path', location: abs }, i);
    }
    if (isDir(path.join(builtinDir, name))) return loadFolder(path.join(builtinDir, name), 'builtin', i);
    if (isDir(path.join(userDir, name))) return loadFolder(path.join(userDir, name), 'user', i);

    catalog ??= await scanCatalog({ builtinPluginDir: builtinDir, userPluginDir: userDir });
    const byKey = catalog.flatMap((e) => e.plugins).filter((p) => p.meta.configKey === name || p.meta.name === name);
    if (byKey.length > 0) return byKey.map((p) => ({ ...p, entryIndex: i }));

    const pkgEntry = findPackageEntry(name, config.dir);
    if (pkgEntry) return importPluginModule(pkgEntry, { kind: 'package', location: pkgEntry }, i);
    // Last: a package installed beside Dumbo itself.
    try {
      const url = import.meta.resolve(name);
      if (url.startsWith('file:')) {
        const file = fileURLToPath(url);
        return importPluginModule(file, { kind: 'package', location: file }, i);
      }
    } catch {
      // not installed: fall through to the unknown-plugin error
    }
    return undefined;
  }
}
