/**
 * Completion and hover docs for the config editor, as plain functions of the text, a position and the
 * config's schema (yaml-schema.ts): plugin names in `plugins:`, the run's keys and the sections at the top,
 * each section's fields from its plugin's JSON Schema (type and default in the detail, the field's doc as
 * the info), and a field's choices as its value. The hover shows a field's doc in the words of
 * `dumbo plugins --fields` (src/shared/field-docs.ts renders both).
 */

import type { PluginCard } from '../../../shared/api.js';
import { fieldDetail, fieldDocLines, valueText, type FieldDoc } from '../../../shared/field-docs.js';
import { fieldAt, keyAt, placeAt, sectionKeys, type ConfigSchema } from './yaml-schema.js';

/** One offer, in CodeMirror's Completion words (`apply`: the text inserted instead of the label). */
export interface Offer {
  label: string;
  detail?: string;
  info?: string;
  type: 'property' | 'class' | 'enum' | 'keyword';
  apply?: string;
}

export interface Offers {
  /** Where the word at the cursor starts and ends: the offer replaces it. */
  from: number;
  to: number;
  options: Offer[];
}

/** What the cards of one plugin name (or one section) say of themselves. */
function descriptions(cards: readonly PluginCard[]): string[] {
  return [...new Set(cards.map((c) => c.description).filter((d) => d !== undefined))];
}

/** A plugin's doc: `name [section:] provides ...`, then its description. */
function pluginDoc(cards: readonly PluginCard[]): string[] {
  const c = cards[0]!;
  const provides = [...new Set(cards.flatMap((x) => x.provides))];
  return [
    `${c.name} [${c.configKey}:]${provides.length ? ` provides ${provides.join(', ')}` : ''}`,
    ...descriptions(cards),
  ];
}

/** A section's doc: `training: the section of transformers_trainer`, then what its plugins say. */
function sectionDoc(key: string, cards: readonly PluginCard[]): string[] {
  return [`${key}: the section of ${[...new Set(cards.map((c) => c.name))].join(', ')}`, ...descriptions(cards)];
}

/** What `key: ` inserts: a mapping's key opens its block on the next line. */
function keyText(f: FieldDoc, indent: string): string {
  return f.fields ? `${f.name}:\n${indent}  ` : `${f.name}: `;
}

function fieldOffer(f: FieldDoc, indent: string): Offer {
  return {
    label: f.name,
    detail: fieldDetail(f),
    info: fieldDocLines(f).join('\n'),
    type: 'property',
    apply: keyText(f, indent),
  };
}

function sectionOffer(schema: ConfigSchema, key: string): Offer {
  const cards = schema.sections.get(key)!.plugins;
  return {
    label: key,
    detail: `section of ${[...new Set(cards.map((c) => c.name))].join(', ')}`,
    info: sectionDoc(key, cards).join('\n'),
    type: 'class',
    apply: `${key}:\n  `,
  };
}

/** The plugin names `plugins:` can take, one offer per name (a folder's plugins share it). */
function pluginOffers(schema: ConfigSchema, listed: readonly string[]): Offer[] {
  const byName = new Map<string, PluginCard[]>();
  for (const c of schema.plugins) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  return [...byName]
    .filter(([name]) => !listed.includes(name))
    .map(([name, cards]) => ({
      label: name,
      detail: [...new Set(cards.flatMap((c) => c.provides))].join(', ') || undefined,
      info: pluginDoc(cards).join('\n'),
      type: 'class' as const,
    }));
}

function valueOffers(f: FieldDoc): Offer[] {
  const choices = f.choices ?? (f.type.split(' | ').includes('boolean') ? [true, false] : []);
  return choices.map((c) => ({
    label: valueText(c),
    detail: f.default === c ? 'default' : undefined,
    type: 'enum' as const,
  }));
}

/** What may be typed at `pos`: undefined where the editor knows nothing to offer. */
export function completionsAt(text: string, pos: number, schema: ConfigSchema): Offers | undefined {
  const place = placeAt(text, pos);
  if (!place) return undefined;
  let options: Offer[] = [];
  if (place.kind === 'item') {
    if (place.path.join('.') === 'plugins') options = pluginOffers(schema, place.siblings);
  } else if (place.kind === 'value') {
    const f = fieldAt(schema, place.path);
    if (f) options = valueOffers(f);
  } else {
    const indent = ' '.repeat(text.slice(text.lastIndexOf('\n', pos - 1) + 1, place.from).length);
    const taken = new Set(place.siblings);
    if (place.path.length === 0) {
      options = [
        ...schema.run.filter((f) => !taken.has(f.name)).map((f) => fieldOffer(f, indent)),
        ...sectionKeys(schema)
          .filter((k) => !taken.has(k))
          .map((k) => sectionOffer(schema, k)),
      ];
    } else {
      const fields = fieldAt(schema, place.path)?.fields ?? [];
      options = fields.filter((f) => !taken.has(f.name)).map((f) => fieldOffer(f, indent));
    }
    // A key being renamed keeps its colon and value: the offer replaces only the name.
    if (/^[\w.-]*\s*:/.test(text.slice(pos))) options = options.map(({ apply: _, ...o }) => o);
  }
  const to = pos + /^[\w.@/-]*/.exec(text.slice(pos))![0].length;
  return options.length > 0 ? { from: place.from, to, options } : undefined;
}

/** The hover at `pos`: a key's doc (a field's, or a section's plugins), or a listed plugin's. */
export function hoverAt(
  text: string,
  pos: number,
  schema: ConfigSchema,
): { from: number; to: number; lines: string[] } | undefined {
  const key = keyAt(text, pos);
  if (key) {
    const [top] = key.path;
    const section = key.path.length === 1 ? schema.sections.get(top!) : undefined;
    if (section && !schema.run.some((f) => f.name === top)) {
      return { from: key.from, to: key.to, lines: sectionDoc(top!, section.plugins) };
    }
    const f = fieldAt(schema, key.path);
    return f ? { from: key.from, to: key.to, lines: fieldDocLines(f) } : undefined;
  }
  const place = placeAt(text, pos);
  if (place?.kind !== 'item' || place.path.join('.') !== 'plugins') return undefined;
  // The whole name under the cursor, not only what is before it.
  const rest = /^[\w.@/-]*/.exec(text.slice(pos))![0];
  const name = place.prefix + rest;
  const cards = schema.plugins.filter((c) => c.name === name || c.folder === name || c.pluginName === name);
  return cards.length > 0 ? { from: place.from, to: pos + rest.length, lines: pluginDoc(cards) } : undefined;
}
