/**
 * "Did you mean": a misspelt top-level key or field of a section, found in the text with the catalog's field
 * docs and core's own didYouMean (the validator's), each at its key with the name to put there instead. The
 * editor merges these into the validator's problems (`withHints`): a problem at the same key gets the
 * suggestion and a fix, and a hint the validator has not reported (yet) shows on its own.
 */

import { isMap, isScalar, parseDocument, type Node, type YAMLMap } from 'yaml';
import { didYouMean, type FieldDoc } from '../../../shared/field-docs.js';
import { sectionKeys, type ConfigSchema } from './yaml-schema.js';

/** A key that is probably a typo: where it is written, what it says, and the name it is closest to. */
export interface KeyHint {
  from: number;
  to: number;
  message: string;
  /** The key as written, and the known name closest to it. */
  key: string;
  replacement: string;
}

/** The hints for the keys of `map` that `fields` does not know (a mapping that accepts only these). */
function fieldHints(map: YAMLMap, fields: readonly FieldDoc[], where: string): KeyHint[] {
  const names = fields.map((f) => f.name);
  return map.items.flatMap((pair) => {
    const key = pair.key as Node;
    if (!isScalar(key) || typeof key.value !== 'string' || !key.range) return [];
    const known = fields.find((f) => f.name === key.value);
    if (known) {
      return known.fields && !known.open && isMap(pair.value)
        ? fieldHints(pair.value, known.fields, `${where}.${known.name}`)
        : [];
    }
    const guess = didYouMean(key.value, names);
    if (!guess) return [];
    return [
      {
        from: key.range[0],
        to: key.range[1],
        message: `${where}: unknown field '${key.value}' (did you mean '${guess}'?)`,
        key: key.value,
        replacement: guess,
      },
    ];
  });
}

/** Every misspelt key of the config that has a close known name; none while the YAML does not parse. */
export function keyHints(text: string, schema: ConfigSchema): KeyHint[] {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents)) return [];
  const hints: KeyHint[] = [];
  const top = doc.contents;
  // The top-level keys are known only once the catalog says which plugins the config uses.
  const known = schema.used.size > 0 ? [...schema.run.map((f) => f.name), ...sectionKeys(schema)] : undefined;
  for (const pair of top.items) {
    const key = pair.key as Node;
    if (!isScalar(key) || typeof key.value !== 'string' || !key.range) continue;
    const name = key.value;
    const run = schema.run.find((f) => f.name === name);
    const section = schema.sections.get(name)?.doc;
    const doc = run ?? section;
    if (doc?.fields && !doc.open && isMap(pair.value)) hints.push(...fieldHints(pair.value, doc.fields, name));
    if (!known || known.includes(name)) continue;
    const guess = didYouMean(name, known);
    if (guess) {
      hints.push({
        from: key.range[0],
        to: key.range[1],
        message: `unknown top-level key '${name}' (did you mean '${guess}'?)`,
        key: name,
        replacement: guess,
      });
    }
  }
  return hints;
}

/** A problem as the editor underlines it; `fix` replaces a misspelt key with the known one. */
export interface EditorProblem {
  from: number;
  to: number;
  message: string;
  fix?: { from: number; to: number; insert: string };
}

/**
 * The validator's problems with the hints merged in: a problem that starts at a hinted key says "did you
 * mean" after the key's name (unless it does already) and gets the fix; the other hints are problems of
 * their own.
 */
export function withHints(problems: readonly EditorProblem[], hints: readonly KeyHint[]): EditorProblem[] {
  const out = problems.map((p) => ({ ...p }));
  for (const h of hints) {
    const fix = { from: h.from, to: h.to, insert: h.replacement };
    const same = out.find((p) => p.from === h.from);
    if (!same) {
      out.push({ from: h.from, to: h.to, message: h.message, fix });
      continue;
    }
    if (!/did you mean/.test(same.message)) {
      // Right after the key's name (before a long list of the fields that exist), else at the end.
      const named = `'${h.key}'`;
      const suggestion = ` (did you mean '${h.replacement}'?)`;
      const at = same.message.indexOf(named);
      same.message =
        at < 0
          ? same.message + suggestion
          : same.message.slice(0, at + named.length) + suggestion + same.message.slice(at + named.length);
    }
    same.fix = fix;
  }
  return out;
}
