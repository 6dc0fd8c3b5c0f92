/**
 * What the editor knows of a config's shape — the run's own keys and each plugin's section with its fields, as
 * the catalog's field docs say — and where in that shape a position of the YAML text is. Completion, hover
 * and the "did you mean" hints (yaml-complete.ts, yaml-lint.ts) and the form view read it.
 *
 * Positions are read line by line, not from a parse: while the user types, the text is often not valid YAML
 * (`  lear` under `training:`), and the completion must still know it is in the training section.
 */

import type { PluginCard } from '../../../shared/api.js';
import type { FieldDoc } from '../../../shared/field-docs.js';

/** A section of the config: its fields (merged over the plugins that read it) and those plugins' names. */
export interface SectionInfo {
  doc: FieldDoc;
  plugins: PluginCard[];
}

export interface ConfigSchema {
  /** The run's own top-level keys (plugins, name, seed, backend, ...). */
  run: FieldDoc[];
  /** Every section a plugin of the catalog reads, by its config key. */
  sections: Map<string, SectionInfo>;
  /** The config keys of the plugins the config uses (empty when the catalog could not tell). */
  used: Set<string>;
  /** The plugin cards `plugins:` can name (those that load). */
  plugins: PluginCard[];
}

/** Merges the cards' sections: plugins sharing one (the model and tokenizer loaders read `model:`) add up. */
export function configSchema(cards: readonly PluginCard[], used: readonly string[], run: FieldDoc[]): ConfigSchema {
  const sections = new Map<string, SectionInfo>();
  const usedKeys = new Set<string>();
  // The config's own plugins first, so that their docs win where a catalog plugin shares a section.
  const ordered = [...cards].sort((a, b) => Number(used.includes(b.id)) - Number(used.includes(a.id)));
  for (const card of ordered) {
    if (card.error || !card.configKey) continue;
    if (used.includes(card.id)) usedKeys.add(card.configKey);
    const section = card.section ?? { name: card.configKey, type: 'object', open: true };
    const known = sections.get(card.configKey);
    if (!known) {
      sections.set(card.configKey, { doc: { ...section, fields: [...(section.fields ?? [])] }, plugins: [card] });
      continue;
    }
    known.plugins.push(card);
    const names = new Set(known.doc.fields!.map((f) => f.name));
    known.doc.fields!.push(...(section.fields ?? []).filter((f) => !names.has(f.name)));
    if (section.open) known.doc.open = true;
  }
  return { run, sections, used: usedKeys, plugins: cards.filter((c) => !c.error) };
}

/** The doc of the field at `path` (`['training', 'learning_rate']`), or of a section (`['training']`). */
export function fieldAt(schema: ConfigSchema, path: readonly string[]): FieldDoc | undefined {
  const [top, ...rest] = path;
  if (top === undefined) return undefined;
  let doc = schema.run.find((f) => f.name === top) ?? schema.sections.get(top)?.doc;
  for (const name of rest) doc = doc?.fields?.find((f) => f.name === name);
  return doc;
}

/** The top-level section keys a config may hold: its plugins' (all the catalog's when it does not say). */
export function sectionKeys(schema: ConfigSchema): string[] {
  const keys = [...schema.sections.keys()];
  return schema.used.size > 0 ? keys.filter((k) => schema.used.has(k)) : keys;
}

/** Where the cursor is, in the config's shape. */
export type YamlPlace =
  /** Typing a key of the mapping at `path` (`[]`: a top-level key); `prefix` is what is typed of it. */
  | { kind: 'key'; path: string[]; prefix: string; from: number; siblings: string[] }
  /** Typing the value of the key at `path`. */
  | { kind: 'value'; path: string[]; prefix: string; from: number }
  /** Typing an item of the list at `path` (`['plugins']`), block (`- ...`) or flow (`[a, ...]`). */
  | { kind: 'item'; path: string[]; prefix: string; from: number; siblings: string[] };

interface Line {
  from: number;
  text: string;
}

function linesOf(text: string): Line[] {
  const lines: Line[] = [];
  let from = 0;
  for (const t of text.split('\n')) {
    lines.push({ from, text: t });
    from += t.length + 1;
  }
  return lines;
}

const indentOf = (t: string) => /^ */.exec(t)![0].length;
const blank = (t: string) => /^\s*(#.*)?$/.test(t);
/** `key:` (with nothing after it but a comment): a mapping or a list opens below it. */
const OPENS = /^( *)([\w.-]+):\s*(#.*)?$/;
/** `key: value` or `key:`, the key read. */
const KEY = /^( *)([\w.-]+)\s*:(?:\s|$)/;

/**
 * The keys leading to the mapping that a line indented `indent` (below line `index`) belongs to:
 * undefined when something else than `key:` lines opens it (a list item, a flow mapping).
 */
function parentPath(lines: Line[], index: number, indent: number): string[] | undefined {
  const path: string[] = [];
  for (let i = index - 1; i >= 0 && indent > 0; i--) {
    const t = lines[i]!.text;
    if (blank(t) || indentOf(t) >= indent) continue;
    const open = OPENS.exec(t);
    if (!open) return undefined;
    path.unshift(open[2]!);
    indent = open[1]!.length;
  }
  return path;
}

/**
 * What `read` finds on the lines above and below line `index` (blank and comment lines skipped), each way
 * until `read` says the block has ended (null).
 */
function around(lines: Line[], index: number, read: (t: string) => string | undefined | null): string[] {
  const found: string[] = [];
  for (const step of [-1, 1]) {
    for (let i = index + step; i >= 0 && i < lines.length; i += step) {
      const t = lines[i]!.text;
      if (blank(t)) continue;
      const name = read(t);
      if (name === null) break;
      if (name !== undefined) found.push(name);
    }
  }
  return found;
}

/** The keys already in the mapping (at `indent`) around line `index`: completion leaves them out. */
function siblingKeys(lines: Line[], index: number, indent: number): string[] {
  return around(lines, index, (t) => {
    if (indentOf(t) < indent) return null;
    const key = KEY.exec(t);
    return key && key[1]!.length === indent ? key[2]! : undefined;
  });
}

/** The items already in the block list whose `- ` lines are at `indent`, around line `index`. */
function siblingItems(lines: Line[], index: number, indent: number): string[] {
  return around(lines, index, (t) => {
    const item = /^( *)-\s+([^\s#]+)/.exec(t);
    return item && item[1]!.length === indent ? item[2]! : null;
  });
}

/** Where position `pos` of `text` is: a key, a value or a list item being typed, and under which keys. */
export function placeAt(text: string, pos: number): YamlPlace | undefined {
  const lines = linesOf(text);
  let index = lines.findIndex((l, i) => pos >= l.from && (i === lines.length - 1 || pos < lines[i + 1]!.from));
  if (index < 0) index = lines.length - 1;
  const line = lines[index]!;
  const before = line.text.slice(0, pos - line.from);
  if (before.includes('#')) return undefined;

  const item = /^( *)-\s+([\w.@/-]*)$/.exec(before);
  if (item) {
    const dash = item[1]!.length;
    // The list's key: above it, indented less, or as much (`plugins:` then `- a` at the same indent).
    for (let i = index - 1; i >= 0; i--) {
      const t = lines[i]!.text;
      if (blank(t) || (/^ *-/.test(t) && indentOf(t) === dash)) continue;
      const open = OPENS.exec(t);
      if (!open || open[1]!.length > dash) return undefined;
      const path = parentPath(lines, i, open[1]!.length);
      if (!path) return undefined;
      const siblings = siblingItems(lines, index, dash);
      return { kind: 'item', path: [...path, open[2]!], prefix: item[2]!, from: pos - item[2]!.length, siblings };
    }
    return undefined;
  }

  const key = /^( *)([\w.-]*)$/.exec(before);
  if (key) {
    const indent = key[1]!.length;
    const path = parentPath(lines, index, indent);
    if (!path) return undefined;
    const siblings = siblingKeys(lines, index, indent);
    return { kind: 'key', path, prefix: key[2]!, from: pos - key[2]!.length, siblings };
  }

  const value = /^( *)([\w.-]+):[ \t]+(.*)$/.exec(before);
  if (value) {
    const path = parentPath(lines, index, value[1]!.length);
    if (!path) return undefined;
    const typed = value[3]!;
    const flow = /^\[(?:[^\]]*,)?\s*([\w.@/-]*)$/.exec(typed);
    if (flow) {
      const siblings = typed
        .slice(1)
        .split(',')
        .slice(0, -1)
        .map((s) => s.trim());
      const prefix = flow[1]!;
      return { kind: 'item', path: [...path, value[2]!], prefix, from: pos - prefix.length, siblings };
    }
    if (!/^[\w.+-]*$/.test(typed)) return undefined;
    return { kind: 'value', path: [...path, value[2]!], prefix: typed, from: pos - typed.length };
  }
  return undefined;
}

/** The key under position `pos` (on a `key:` line), with its path and where it is written. */
export function keyAt(text: string, pos: number): { path: string[]; from: number; to: number } | undefined {
  const lines = linesOf(text);
  const index = lines.findIndex((l) => pos >= l.from && pos <= l.from + l.text.length);
  if (index < 0) return undefined;
  const line = lines[index]!;
  const key = KEY.exec(line.text);
  if (!key) return undefined;
  const from = line.from + key[1]!.length;
  const to = from + key[2]!.length;
  if (pos < from || pos > to) return undefined;
  const path = parentPath(lines, index, key[1]!.length);
  return path ? { path: [...path, key[2]!], from, to } : undefined;
}
