/**
 * Files the app reads and writes for the user that run no plugin code: config files (open, save), the
 * example configs shipped in resources/examples (described by its index.json), and the model folders the app
 * knows (runs' final/ folders, the quickstart's model, the Hugging Face cache).
 *
 * Who may import it: src/services only. Imports core (errors, paths), the engine when listing models (loaded
 * then, not with the services) and the shared API types.
 */

import {
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { DumboError } from '../core/errors.js';
import { appRoot } from '../core/paths.js';
import { lstatOrUndefined, statOrUndefined } from '../core/fs.js';
import type { ConfigFile, Example, ModelChoice, RunSummary } from '../shared/api.js';
import { runFiles } from '../shared/run-files.js';

const MAX_CONFIG_BYTES = 4_000_000;

/** Configs are YAML files: the app opens and writes nothing else. */
function configPath(file: string, cwd: string): string {
  const abs = path.resolve(cwd, file);
  if (!/\.ya?ml$/i.test(abs)) {
    throw new DumboError('a config is a .yaml or .yml file', { location: { file: abs } });
  }
  return abs;
}

export function readConfigFile(file: string, cwd: string): ConfigFile {
  const abs = configPath(file, cwd);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new DumboError('cannot read config: no such file', { location: { file: abs } });
  }
  if (!st.isFile()) throw new DumboError('cannot read config: not a file', { location: { file: abs } });
  if (st.size > MAX_CONFIG_BYTES)
    throw new DumboError('the file is too large for a config', { location: { file: abs } });
  return { path: abs, text: readFileSync(abs, 'utf8') };
}

/** The text of a config file as saved, or undefined when there is none to read (an untitled config). */
export function savedConfigText(file: string): string | undefined {
  try {
    return readConfigFile(file, path.dirname(file)).text;
  } catch {
    return undefined;
  }
}

/**
 * Writes a config atomically (a temporary file beside it, then a rename) and returns its absolute path. A
 * file that exists is replaced only when `mayOverwrite(path)` says so (the services allow the configs opened
 * or created in this session); a new file is created only where no file, folder or link has that name.
 */
export function writeConfigFile(
  file: string,
  text: string,
  cwd: string,
  mayOverwrite: (existing: string) => boolean,
): string {
  const abs = configPath(file, cwd);
  if (!existsSync(path.dirname(abs))) {
    throw new DumboError(`cannot save ${abs}: the folder ${path.dirname(abs)} does not exist`, {
      location: { file: abs },
    });
  }
  const existing = lstatOrUndefined(abs);
  const target = existing?.isSymbolicLink() ? statOrUndefined(abs) : existing;
  if (existing && !target?.isFile()) {
    throw new DumboError(`cannot save ${abs}: it is not a file`, { location: { file: abs } });
  }
  if (existing && !mayOverwrite(abs)) {
    throw new DumboError(
      `refusing to overwrite ${abs}: it was not opened or created in Dumbo. Open it first to edit it, or ` +
        'save under a new name',
      { location: { file: abs } },
    );
  }
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { flag: 'wx' }); // never through a link left at the temporary name
  try {
    if (existing) renameSync(tmp, abs);
    else createExclusive(tmp, abs);
  } finally {
    rmSync(tmp, { force: true });
  }
  return abs;
}

/** Puts the finished file `tmp` at `abs`, which must not exist (a file made meanwhile is not replaced). */
function createExclusive(tmp: string, abs: string): void {
  try {
    linkSync(tmp, abs); // atomic, and fails when the name is taken
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new DumboError(`refusing to overwrite ${abs}: a file of that name was created meanwhile`, {
        location: { file: abs },
      });
    }
    // A file system without hard links: copy, still refusing a name that is taken.
    copyFileSync(tmp, abs, constants.COPYFILE_EXCL);
  }
}

/** The description of an example without an index entry: its first comment lines, up to the first sentence's end. */
function describeExample(text: string): string {
  const parts: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^#\s?(.*)$/.exec(line);
    if (!m) break;
    const t = m[1]!.trim();
    if (!t || /^\s{2,}/.test(m[1]!)) break;
    parts.push(t);
    if (/[.!?]$/.test(t) || parts.length >= 3) break;
  }
  return parts.join(' ');
}

/** An entry of resources/examples/index.json: the gallery's card of one example file. */
interface ExampleEntry {
  file: string;
  description: string;
  duration?: string;
  needs?: string;
}

/** The index's entries by file name (none when it is missing or unreadable: every example is then described by its comments). */
function readExampleIndex(examplesDir: string): Map<string, ExampleEntry> {
  try {
    const entries = JSON.parse(readFileSync(path.join(examplesDir, 'index.json'), 'utf8')) as ExampleEntry[];
    return new Map(entries.map((e) => [e.file, e]));
  } catch {
    return new Map();
  }
}

/** The examples, those of the index first in its order, each with its text (the editor opens a copy). */
export function listExamples(examplesDir: string): Example[] {
  let names: string[];
  try {
    names = readdirSync(examplesDir).filter((n) => /\.ya?ml$/i.test(n));
  } catch {
    return [];
  }
  const index = readExampleIndex(examplesDir);
  const order = [...index.keys()];
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return names
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((n) => {
      const file = path.join(examplesDir, n);
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        // listed anyway; its card has no text to open
      }
      const entry = index.get(n);
      const example: Example = {
        name: n.replace(/\.ya?ml$/i, ''),
        path: file,
        description: entry?.description ?? describeExample(text),
        text,
      };
      if (entry?.duration) example.duration = entry.duration;
      if (entry?.needs) example.needs = entry.needs;
      return example;
    });
}

export function defaultExamplesDir(): string {
  return path.join(appRoot(), 'resources', 'examples');
}

/** Local model folders (runs' final/, the quickstart's model) and the Hugging Face cache. */
export async function listModels(runs: RunSummary[]): Promise<ModelChoice[]> {
  // Loaded when asked for, not with the services: the engine brings tfjs into main's process.
  const { hasSafetensorsWeights, listCachedModels } = await import('../engine/index.js');
  const out: ModelChoice[] = [];
  for (const r of runs) {
    const { final } = runFiles(r.runFolder);
    if (existsSync(path.join(final, 'config.json')))
      out.push({
        label: `${r.name} (run ${r.id})`,
        path: final,
        source: 'local',
        weights: hasSafetensorsWeights(final),
      });
  }
  const quick = path.join(appRoot(), 'resources', 'quickstart', 'model');
  if (existsSync(path.join(quick, 'config.json'))) {
    out.push({
      label: 'quickstart model (config and tokenizer, no weights: init: from_config)',
      path: quick,
      source: 'local',
      weights: hasSafetensorsWeights(quick),
    });
  }
  try {
    for (const m of listCachedModels()) {
      out.push({ label: m.repoId, path: m.snapshot, source: 'hf-cache', weights: hasSafetensorsWeights(m.snapshot) });
    }
  } catch {
    // an unreadable cache lists nothing
  }
  return out;
}
