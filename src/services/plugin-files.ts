/**
 * Plugin folders as files, before and without running any of their code: the preview the user sees
 * before trusting a dropped folder, the copy into the user plugin folder (symbolic links never followed,
 * never copied; nothing written outside the destination), removal, which folders Dumbo may install into and
 * remove from (`adoptPluginFolder`, `assertManagedPluginFolder`), and a fingerprint of plugin files (to know
 * when the worker's module cache is stale).
 *
 * Who may import it: src/services only. Imports Node's fs and the shared API types.
 */

import { createHash } from 'node:crypto';
import {
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { DumboError } from '../core/errors.js';
import { lstatOrUndefined } from '../core/fs.js';
import type { PluginFolderPreview } from '../shared/api.js';

/** Limits of a plugin folder that is previewed or installed. */
export const PLUGIN_FOLDER_LIMITS = { files: 20_000, bytes: 512 * 1024 * 1024 };

/** A plugin folder's name, as it may be in the plugin folder: no separators, no `..`, no leading dot. */
export function isPluginFolderName(name: string): boolean {
  return /^[\w@][\w.@-]*$/.test(name) && name !== '..' && !name.includes('..') && name.length <= 200;
}

interface WalkEntry {
  rel: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  bytes: number;
}

/** Every entry under `root`, by lstat (links are reported, never followed), in a stable order. */
function walk(root: string): WalkEntry[] {
  const out: WalkEntry[] = [];
  let bytes = 0;
  const visit = (dir: string, rel: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, e.name);
      if (out.length >= PLUGIN_FOLDER_LIMITS.files) {
        throw new DumboError(`the folder holds more than ${PLUGIN_FOLDER_LIMITS.files} files: not a plugin folder?`, {
          location: { file: root },
        });
      }
      if (e.isSymbolicLink()) out.push({ rel: r, kind: 'link', bytes: 0 });
      else if (e.isDirectory()) {
        out.push({ rel: r, kind: 'dir', bytes: 0 });
        visit(abs, r);
      } else if (e.isFile()) {
        const size = lstatSync(abs).size;
        bytes += size;
        if (bytes > PLUGIN_FOLDER_LIMITS.bytes) {
          throw new DumboError(
            `the folder holds more than ${PLUGIN_FOLDER_LIMITS.bytes >> 20} MB: not a plugin folder?`,
            {
              location: { file: root },
            },
          );
        }
        out.push({ rel: r, kind: 'file', bytes: size });
      } else out.push({ rel: r, kind: 'other', bytes: 0 });
    }
  };
  visit(root, '');
  return out;
}

/** The folder itself must be a folder (a link to one is resolved: the user chose it). */
function sourceFolder(folder: string): string {
  const abs = path.resolve(folder);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    throw new DumboError('no such folder', { location: { file: abs } });
  }
  if (!statSync(real).isDirectory()) throw new DumboError('not a folder', { location: { file: abs } });
  return real;
}

/** What the user sees before trusting a folder: its files, its package.json and its links. Reads only. */
export function previewPluginFolder(folder: string): PluginFolderPreview {
  const root = sourceFolder(folder);
  const entries = walk(root);
  const preview: PluginFolderPreview = {
    folder: path.resolve(folder),
    files: entries.filter((e) => e.kind === 'file').map((e) => ({ path: e.rel, bytes: e.bytes })),
    links: entries.filter((e) => e.kind === 'link').map((e) => e.rel),
  };
  const pkg = path.join(root, 'package.json');
  try {
    if (lstatSync(pkg).isFile() && lstatSync(pkg).size < 1024 * 1024) {
      const parsed: unknown = JSON.parse(readFileSync(pkg, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        preview.packageJson = parsed as Record<string, unknown>;
      }
    }
  } catch {
    // no package.json, or not JSON: the preview shows the files only
  }
  return preview;
}

/**
 * The file that marks a folder as a plugin folder Dumbo manages. The plugin folder is a setting that the API
 * can change (`updateSettings`), and a token holder of `dumbo serve` must not turn that into deleting any
 * folder: pointing the setting at `/home/me/projects` and then removing `projects/thesis` as a "plugin".
 * So Dumbo installs into and removes from only a folder it may manage (`assertManagedPluginFolder`): the
 * default plugin folder or the one named on the command line (chosen by whoever started Dumbo), or a folder
 * that carries this marker. A folder gets the marker when it is chosen as the plugin folder while it does not
 * exist or is empty (`adoptPluginFolder`): nothing of the user's can be lost there. A folder that already
 * holds files may still be the plugin folder (the catalog reads its plugins), but until the user puts the
 * marker there by hand, Dumbo neither writes nor deletes in it.
 */
export const PLUGIN_FOLDER_MARKER = '.dumbo-plugin-folder';

const MARKER_TEXT =
  'This folder is a Dumbo plugin folder: Dumbo may install plugin folders into it and remove them from it.\n' +
  'Delete this file to keep Dumbo from changing anything here.\n';

/**
 * Called when `folder` is chosen as the plugin folder: a folder that does not exist is created, and an empty
 * one adopted, each with the marker; a folder that holds files keeps what it has and gets no marker. Returns
 * whether Dumbo manages the folder now. Refuses a path that is a file.
 */
export function adoptPluginFolder(folder: string): boolean {
  const root = path.resolve(folder);
  let st;
  try {
    st = statSync(root); // a link to a folder is that folder: the user chose it
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) {
    throw new DumboError(`${root} cannot be the plugin folder: it is not a folder`, { location: { file: root } });
  }
  if (!st) {
    try {
      mkdirSync(root, { recursive: true });
    } catch (error) {
      throw new DumboError(`cannot create the plugin folder ${root}: ${(error as Error).message}`, {
        location: { file: root },
      });
    }
  }
  const marker = path.join(root, PLUGIN_FOLDER_MARKER);
  if (lstatOrUndefined(marker)?.isFile()) return true;
  if (readdirSync(root).length > 0) return false;
  writeFileSync(marker, MARKER_TEXT, { flag: 'wx' });
  return true;
}

/**
 * Throws, saying why and what to do, unless Dumbo may install into and remove from `folder`: one of
 * `trusted` (the default plugin folder, the one given on the command line), or a folder with the marker.
 * `action` names what was refused ("remove the plugin 'x'").
 */
export function assertManagedPluginFolder(folder: string, trusted: readonly string[], action: string): void {
  const root = path.resolve(folder);
  if (trusted.some((t) => path.resolve(t) === root)) return;
  if (lstatOrUndefined(path.join(root, PLUGIN_FOLDER_MARKER))?.isFile()) return;
  throw new DumboError(
    `refusing to ${action}: ${root} is not a plugin folder Dumbo manages. Dumbo installs and removes plugins ` +
      `only in the default plugin folder, the one given with --plugin-path, or a folder that was new or empty ` +
      `when it was chosen in the settings (it then holds a ${PLUGIN_FOLDER_MARKER} file). To let Dumbo manage ` +
      `this folder, create an empty file named ${PLUGIN_FOLDER_MARKER} in it yourself.`,
    { location: { file: root } },
  );
}

/** `child` is `parent` or inside it. */
function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export interface StagedCopy {
  /** The name the plugin gets in the plugin folder. */
  name: string;
  /** The final place: `<pluginFolder>/<name>`. */
  dest: string;
  /** The copy, in a hidden folder beside `dest` (the catalog skips dot-folders) until `commit`. */
  staging: string;
  /** Links that were left out. */
  skippedLinks: string[];
}

/**
 * Copies `folder` into a hidden staging folder inside `pluginFolder`: regular files and folders only (links
 * and special files are skipped), every destination checked to lie inside the staging folder. Refuses a
 * name that is already installed, and a plugin folder Dumbo does not manage (see PLUGIN_FOLDER_MARKER;
 * `trusted`: the default plugin folder and the command line's).
 */
export function stagePluginCopy(folder: string, pluginFolder: string, trusted: readonly string[]): StagedCopy {
  const src = sourceFolder(folder);
  const name = path.basename(path.resolve(folder));
  if (!isPluginFolderName(name)) {
    throw new DumboError(
      `'${name}' cannot be a plugin folder name (letters, digits, _ . @ - only, not starting with a dot)`,
      { location: { file: path.resolve(folder) } },
    );
  }
  const root = path.resolve(pluginFolder);
  // A plugin folder that is gone is made again (with the marker, unless it is a trusted one): nothing is lost.
  if (trusted.some((t) => path.resolve(t) === root)) mkdirSync(root, { recursive: true });
  else if (!existsSync(root)) adoptPluginFolder(root);
  assertManagedPluginFolder(root, trusted, `install '${name}'`);
  const realRoot = realpathSync(root);
  if (isInside(realRoot, src) || isInside(src, realRoot)) {
    throw new DumboError(`cannot install a folder that contains, or is inside, the plugin folder ${root}`, {
      location: { file: src },
    });
  }
  const dest = path.join(realRoot, name);
  if (existsSync(dest) || isSymlink(dest)) {
    throw new DumboError(
      `a plugin folder named '${name}' is already installed (${dest}): remove it first to install this one`,
      { location: { file: src } },
    );
  }
  const entries = walk(src);
  const staging = path.join(realRoot, `.installing-${name}-${process.pid}-${Date.now()}`);
  mkdirSync(staging);
  const skippedLinks: string[] = [];
  try {
    for (const e of entries) {
      const target = path.resolve(staging, ...e.rel.split('/'));
      if (!isInside(target, staging) || target === staging) {
        throw new DumboError(`refusing to write outside the plugin folder: ${e.rel}`, { location: { file: src } });
      }
      if (e.kind === 'dir') mkdirSync(target);
      else if (e.kind === 'file') copyFileSync(path.join(src, ...e.rel.split('/')), target, constants.COPYFILE_EXCL);
      else if (e.kind === 'link') skippedLinks.push(e.rel);
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  return { name, dest, staging, skippedLinks };
}

/** Moves the staged copy to its final place. */
export function commitPluginCopy(copy: StagedCopy): void {
  if (existsSync(copy.dest)) {
    rmSync(copy.staging, { recursive: true, force: true });
    throw new DumboError(`a plugin folder named '${copy.name}' was installed meanwhile (${copy.dest})`);
  }
  renameSync(copy.staging, copy.dest);
}

export function discardPluginCopy(copy: StagedCopy): void {
  rmSync(copy.staging, { recursive: true, force: true });
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Deletes `<pluginFolder>/<name>` (a link there is removed, not followed), in a plugin folder Dumbo
 * manages only (see PLUGIN_FOLDER_MARKER; `trusted`: the default plugin folder and the command line's).
 */
export function removePluginFolder(name: string, pluginFolder: string, trusted: readonly string[]): void {
  if (!isPluginFolderName(name)) throw new DumboError(`'${name}' is not a plugin folder name`);
  const root = path.resolve(pluginFolder);
  assertManagedPluginFolder(root, trusted, `remove the plugin '${name}'`);
  const target = path.join(root, name);
  if (path.dirname(target) !== root) throw new DumboError(`'${name}' is not a plugin folder name`);
  let st;
  try {
    st = lstatSync(target);
  } catch {
    throw new DumboError(`no plugin folder '${name}' in ${root}`);
  }
  if (st.isSymbolicLink() || !st.isDirectory()) rmSync(target, { force: true });
  else rmSync(target, { recursive: true, force: true });
}

/**
 * A cheap fingerprint of files and folders (names, sizes, modification times; node_modules skipped): it
 * changes when a plugin's code changes.
 */
export function filesFingerprint(paths: readonly string[]): string {
  const hash = createHash('sha1');
  let budget = 5000;
  const visit = (p: string, depth: number) => {
    if (budget-- <= 0) return;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      hash.update(`${p}:missing\n`);
      return;
    }
    hash.update(`${p}:${st.size}:${st.mtimeMs}:${st.ino}\n`);
    if (st.isDirectory() && depth < 6) {
      let names: string[];
      try {
        names = readdirSync(p).sort();
      } catch {
        return;
      }
      for (const n of names) if (n !== 'node_modules' && !n.startsWith('.')) visit(path.join(p, n), depth + 1);
    }
  };
  for (const p of [...paths].sort()) visit(p, 0);
  return hash.digest('hex');
}
