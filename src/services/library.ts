/**
 * Files the app reads and writes for the user that run no plugin code: config files (open, save), the
 * example configs shipped in resources/examples (described by its index.json), and the model folders the app
 * knows (runs' final/ folders, the quickstart's model, the Hugging Face cache), with the check that a config
 * does not build a fresh model from a folder of trained weights.
 *
 * Who may import it: src/services only. Imports core (errors, paths), engine/hub (the cache listing only:
 * no tfjs) and the shared API types.
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
import { isScalar, LineCounter, parseDocument } from 'yaml';
import { DumboError } from '../core/errors.js';
import { appRoot } from '../core/paths.js';
import { lstatOrUndefined, statOrUndefined } from '../core/fs.js';
import type { ConfigFile, ConfigProblem, Example, ModelChoice, RunSummary } from '../shared/api.js';
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
    return readFileSync(file, 'utf8');
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
  const out: ModelChoice[] = [];
  for (const r of runs) {
    const { final } = runFiles(r.runFolder);
    if (existsSync(path.join(final, 'config.json')))
      out.push({ label: `${r.name} (run ${r.id})`, path: final, source: 'local', weights: hasWeights(final) });
  }
  const quick = path.join(appRoot(), 'resources', 'quickstart', 'model');
  if (existsSync(path.join(quick, 'config.json'))) {
    out.push({
      label: 'quickstart model (config and tokenizer, no weights: init: from_config)',
      path: quick,
      source: 'local',
      weights: hasWeights(quick),
    });
  }
  // Loaded when asked for, not with the services: the engine brings tfjs into main's process.
  const { listCachedModels } = await import('../engine/index.js');
  try {
    for (const m of listCachedModels()) {
      out.push({ label: m.repoId, path: m.snapshot, source: 'hf-cache', weights: hasWeights(m.snapshot) });
    }
  } catch {
    // an unreadable cache lists nothing
  }
  return out;
}

/** Whether a Hugging Face folder holds a model's trained weights (not only its config.json and tokenizer). */
export function hasWeights(folder: string): boolean {
  try {
    return readdirSync(folder).some((n) => /^model(-[\w-]+)?\.safetensors$|^pytorch_model(-[\w-]+)?\.bin$/.test(n));
  } catch {
    return false;
  }
}

/**
 * The trap of a model picked by its folder: `model.init: from_config` builds a fresh model with random
 * weights, so a `base_model` folder of trained weights only lends its shape. Said at `init`'s line, so that
 * validation flags it before a run trains from scratch by mistake. `file`: the config's (relative paths).
 */
export function modelInitProblem(text: string, file: string): ConfigProblem | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) return undefined;
  const init = doc.getIn(['model', 'init'], true);
  const base = doc.getIn(['model', 'base_model']);
  if (!isScalar(init) || init.value !== 'from_config' || typeof base !== 'string' || !init.range) return undefined;
  if (!hasWeights(path.resolve(path.dirname(file), base))) return undefined;
  const { line, col } = lineCounter.linePos(init.range[0]);
  return {
    message:
      `model.init: from_config builds a new model with random weights, so the trained weights in ${base} ` +
      'would not be used: set init: pretrained to fine-tune them (model.config overrides do not apply then)',
    file,
    line,
    column: col,
  };
}
