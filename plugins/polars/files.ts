/**
 * The files that `path` and `eval_path` name: globs (`*`, `?`, `**`; Node 20 has no fs.globSync) matched in
 * code unit order, so a run reads its files in the same order on every machine, each pattern relative to the
 * config's folder.
 */
import { readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { Err, Ok, statOrUndefined, type Result } from 'dumbo';

const GLOB_CHARS = /[*?]/;

/** A regular expression for one path segment: `*` any run of characters, `?` one; the rest literal. */
function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

const isFile = (file: string): boolean => statOrUndefined(file)?.isFile() ?? false;
const isDirectory = (file: string): boolean => statOrUndefined(file)?.isDirectory() ?? false;

/** Goes on matching `rest` in `child`: adds it when it is the last segment's file, else walks into it. */
function step(child: string, rest: readonly string[], out: Set<string>): void {
  if (rest.length === 0) {
    if (isFile(child)) out.add(child);
  } else if (isDirectory(child)) walk(child, rest, out);
}

function walk(dir: string, segments: readonly string[], out: Set<string>): void {
  const [segment, ...rest] = segments;
  if (segment === undefined) return;
  if (segment === '**') {
    // Zero or more folders. Symbolic links to folders are not followed here (no cycles).
    if (rest.length > 0) walk(dir, rest, out);
    for (const e of entries(dir)) {
      if (e.name.startsWith('.')) continue;
      const child = path.join(dir, e.name);
      if (e.isDirectory()) walk(child, segments, out);
      else if (rest.length === 0 && isFile(child)) out.add(child);
    }
    return;
  }
  if (!GLOB_CHARS.test(segment)) return step(path.join(dir, segment), rest, out);
  const re = segmentRegExp(segment);
  for (const e of entries(dir)) {
    if (e.name.startsWith('.') && !segment.startsWith('.')) continue;
    if (re.test(e.name)) step(path.join(dir, e.name), rest, out);
  }
}

/**
 * The files matching `pattern` (absolute), sorted by code unit order (not locale), so the order is the same on
 * every machine. `*` and `?` match within one path segment, `**` (a whole segment) any number of folders.
 */
export function globFiles(pattern: string): string[] {
  const abs = path.resolve(pattern);
  const { root } = path.parse(abs);
  const segments = abs
    .slice(root.length)
    .split(process.platform === 'win32' ? /[\\/]+/ : /\/+/)
    .filter(Boolean);
  const first = segments.findIndex((s) => GLOB_CHARS.test(s));
  if (first < 0) return isFile(abs) ? [abs] : [];
  const out = new Set<string>();
  walk(path.join(root, ...segments.slice(0, first)), segments.slice(first), out);
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every file that `patterns` name, pattern after pattern, each pattern's matches sorted; no file twice. */
export function resolveFiles(patterns: readonly string[], base: string, key: string): Result<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    const abs = path.resolve(base, pattern);
    if (!GLOB_CHARS.test(pattern) && isDirectory(abs))
      return Err(
        new Error(
          `dataset.${key}: '${pattern}' is a folder; name the files in it, e.g. '${path.join(pattern, '*.jsonl')}'`,
        ),
      );
    const matches = globFiles(abs);
    if (matches.length === 0) return Err(new Error(`dataset.${key}: no file matches '${pattern}' (looked in ${base})`));
    for (const m of matches) if (!files.includes(m)) files.push(m);
  }
  return Ok(files);
}
