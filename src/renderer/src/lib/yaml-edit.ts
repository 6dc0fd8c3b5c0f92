/**
 * Small edits of a config's YAML text that keep everything else as the user wrote it: comments, blank
 * lines, quoting, key order. The `yaml` Document API finds where a node sits (its source range); the edit
 * is then a splice of the text at that range. Only when a splice cannot be made safely (an absent key, an
 * item sharing its line) does the whole document get re-printed by the Document API, which still keeps
 * comments.
 *
 * Pure functions of strings, used by the plugins and config stores.
 */

import { isMap, isScalar, isSeq, parseDocument, stringify, type Document, type Node } from 'yaml';

/** The outcome of an edit: the new text, or why the text cannot be edited. */
export type YamlEdit = { ok: true; text: string } | { ok: false; error: string };

function parse(text: string): Document.Parsed | string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return `the YAML has errors (${doc.errors[0]!.message.split('\n')[0]}); fix them first`;
  if (doc.contents !== null && !isMap(doc.contents)) return 'the config is not a mapping of sections';
  return doc;
}

/** A value as a YAML scalar: plain when that reads back the same, quoted otherwise. */
function scalarText(value: string | number | boolean): string {
  return stringify(value).trimEnd();
}

/** The names in the config's `plugins:` list, as written (empty when there is none or the YAML is broken). */
export function listedPlugins(text: string): string[] {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return [];
  const list = doc.get('plugins', true);
  if (!isSeq(list)) return [];
  return list.items.filter(isScalar).map((item) => String(item.value));
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

function lineEnd(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  return nl < 0 ? text.length : nl + 1;
}

/** Whether `item` is the only thing on its `- item  # comment` line of a block list. */
function aloneOnItsLine(text: string, item: Node): boolean {
  const [start, valueEnd] = item.range!;
  const before = text.slice(lineStart(text, start), start);
  const after = text.slice(valueEnd, lineEnd(text, start));
  return /^\s*-\s+$/.test(before) && /^[ \t]*(#.*)?\s*$/.test(after);
}

/**
 * Adds `name` to the `plugins:` list (at its end) or removes every entry that names the plugin (`aliases`:
 * the names the loader would also accept for it — its folder, class-derived name, config key).
 */
export function setPluginListed(text: string, name: string, listed: boolean, aliases: string[] = []): YamlEdit {
  const doc = parse(text);
  if (typeof doc === 'string') return { ok: false, error: doc };
  const names = new Set([name, ...aliases].filter((n) => n !== ''));
  const list = doc.get('plugins', true);
  const matches = (item: unknown) => isScalar(item) && names.has(String(item.value).trim());

  if (!isSeq(list)) {
    if (!listed) return { ok: true, text };
    if (list !== undefined && !(isScalar(list) && list.value === null)) {
      return { ok: false, error: 'plugins: is not a list' };
    }
    doc.set('plugins', doc.createNode([name]));
    return { ok: true, text: doc.toString() };
  }

  const present = list.items.filter(matches) as Node[];
  if (listed) {
    if (present.length > 0) return { ok: true, text };
    const last = list.items[list.items.length - 1] as Node | undefined;
    if (list.flow) {
      const at = last ? last.range![1] : list.range![0] + 1;
      return { ok: true, text: text.slice(0, at) + (last ? ', ' : '') + scalarText(name) + text.slice(at) };
    }
    if (last && aloneOnItsLine(text, last)) {
      const start = lineStart(text, last.range![0]);
      const prefix = text.slice(start, last.range![0]);
      const at = lineEnd(text, last.range![0]);
      const head = text.slice(0, at);
      const newline = head.endsWith('\n') ? '' : '\n';
      return { ok: true, text: head + newline + prefix + scalarText(name) + '\n' + text.slice(at) };
    }
    list.add(doc.createNode(name));
    return { ok: true, text: doc.toString() };
  }

  if (present.length === 0) return { ok: true, text };
  if (!list.flow && present.every((item) => aloneOnItsLine(text, item))) {
    let out = text;
    // From the end, so earlier ranges stay valid.
    for (const item of [...present].reverse()) {
      const start = lineStart(out, item.range![0]);
      out = out.slice(0, start) + out.slice(lineEnd(out, item.range![0]));
    }
    return { ok: true, text: out };
  }
  for (const item of present) list.items.splice(list.items.indexOf(item), 1);
  return { ok: true, text: doc.toString() };
}

/** The indentation of the line `pos` is on. */
function indentAt(text: string, pos: number): string {
  return /^[ \t]*/.exec(text.slice(lineStart(text, pos)))![0];
}

/**
 * `key: value` as a new line of the block mapping `parent` (the section at `parentPath`), after its last
 * entry and indented like its first; a missing top-level section is appended at the end. Undefined when the
 * mapping is not written as lines (a flow `{...}`, an empty `section: {}`): the caller re-prints instead.
 */
function insertedKey(
  text: string,
  parent: unknown,
  parentPath: string[],
  key: string,
  value: string | number | boolean,
): string | undefined {
  const entry = `${scalarText(key)}: ${scalarText(value)}\n`;
  const head = (at: number) => text.slice(0, at) + (at > 0 && !text.slice(0, at).endsWith('\n') ? '\n' : '');
  if (isMap(parent) && !parent.flow && parent.items.length > 0) {
    const first = parent.items[0]!.key as Node;
    const last = parent.items[parent.items.length - 1]!;
    const end = ((last.value as Node | null)?.range ?? (last.key as Node).range)![1];
    // The end of the last entry's value (a nested block ends on the next line already).
    const at = text[end - 1] === '\n' ? end : lineEnd(text, end);
    return head(at) + indentAt(text, first.range![0]) + entry + text.slice(at);
  }
  if (isScalar(parent) && parent.value === null && parent.range && parent.range[0] === parent.range[1]) {
    // `section:` with nothing after it: the entry goes on the next line, indented below the key.
    const keyLine = text.lastIndexOf(`${parentPath[parentPath.length - 1]}:`, parent.range[0]);
    const at = lineEnd(text, keyLine);
    return head(at) + indentAt(text, keyLine) + '  ' + entry + text.slice(at);
  }
  if (parentPath.length === 1 && parent === undefined)
    return head(text.length) + `${scalarText(parentPath[0]!)}:\n  ${entry}`;
  return undefined;
}

/**
 * Sets a scalar at `path` (for example `['model', 'base_model']`), in place when it is already there, else as a
 * new line of its section: the rest of the text stays as written, comments and blank lines included.
 */
export function setScalarAt(text: string, path: string[], value: string | number | boolean): YamlEdit {
  const doc = parse(text);
  if (typeof doc === 'string') return { ok: false, error: doc };
  const node = doc.getIn(path, true);
  if (isScalar(node) && node.range) {
    const [start, valueEnd] = node.range;
    if (valueEnd > start) return { ok: true, text: text.slice(0, start) + scalarText(value) + text.slice(valueEnd) };
    // `key:` with nothing after it.
    return { ok: true, text: text.slice(0, start) + ' ' + scalarText(value) + text.slice(start) };
  }
  if (node !== undefined && !isScalar(node)) return { ok: false, error: `${path.join('.')} is not a single value` };
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (parent !== undefined && parent !== null && !isMap(parent) && !(isScalar(parent) && parent.value === null)) {
    return { ok: false, error: `${path.slice(0, -1).join('.')} is not a section` };
  }
  if (path.length === 2) {
    const inserted = insertedKey(text, parent, path.slice(0, 1), path[1]!, value);
    if (inserted !== undefined) return { ok: true, text: inserted };
  }
  // `section: ~` becomes a mapping.
  if (isScalar(parent)) doc.setIn(path.slice(0, -1), doc.createNode({}));
  doc.setIn(path, value);
  return { ok: true, text: doc.toString() };
}

/** Takes the `key: value` entry at `path` out (its value goes back to the default), with its lines when alone on them. */
export function removeKeyAt(text: string, path: string[]): YamlEdit {
  const doc = parse(text);
  if (typeof doc === 'string') return { ok: false, error: doc };
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (!isMap(parent)) return { ok: true, text };
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
  if (!pair) return { ok: true, text };
  const keyStart = (pair.key as Node).range![0];
  const end = ((pair.value as Node | null)?.range ?? (pair.key as Node).range)![1];
  const start = lineStart(text, keyStart);
  if (!parent.flow && /^[ \t]*$/.test(text.slice(start, keyStart))) {
    const to = text[end - 1] === '\n' ? end : lineEnd(text, end);
    return { ok: true, text: text.slice(0, start) + text.slice(to) };
  }
  parent.delete(path[path.length - 1]);
  return { ok: true, text: doc.toString() };
}
