/**
 * src/shared/field-docs.ts — the fields of a config section as people read them: name, type, default, bounds
 * and description, taken from the section's JSON Schema. One source for the editor (completion, hover, the
 * form view's inline checks) and for `dumbo plugins --fields NAME`, so the terminal and the app say the same.
 *
 * Who may import it: everyone (the worker builds the docs onto plugin cards, the CLI prints them, the
 * renderer shows them). Pure functions of plain data; `didYouMean` comes from core's suggest.ts, which imports
 * nothing, so the editor suggests exactly what the validator suggests.
 */

import { didYouMean } from '../core/suggest.js';

export { didYouMean };

/** A JSON value, as a default or a choice travels to the renderer. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The JSON Schema keywords read here; a plugin's `configSchema` (any object) is read through this shape. */
interface FieldSchema {
  type?: string | readonly string[];
  enum?: readonly unknown[];
  const?: unknown;
  items?: FieldSchema;
  properties?: Record<string, FieldSchema>;
  required?: readonly string[];
  additionalProperties?: unknown;
  anyOf?: readonly FieldSchema[];
  oneOf?: readonly FieldSchema[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** One field of a section: what completion, hover, the form view and the CLI show. */
export interface FieldDoc {
  name: string;
  /** As the schema says it: `number`, `integer`, `string[] | string`, `linear | cosine | constant`. */
  type: string;
  default?: JsonValue;
  description?: string;
  required?: boolean;
  /** The values it may take, when the schema lists them (an enum). */
  choices?: JsonValue[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  /** A mapping's own fields (`webgpu:`'s `adapter`, ...). */
  fields?: FieldDoc[];
  /** A mapping that accepts fields beyond `fields` (no `additionalProperties: false`). */
  open?: boolean;
}

const asSchema = (s: unknown): FieldSchema => (typeof s === 'object' && s !== null ? (s as FieldSchema) : {});

/** Only what JSON carries (a schema's default could be anything a plugin wrote). */
function jsonValue(v: unknown): JsonValue | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  try {
    return JSON.parse(JSON.stringify(v)) as JsonValue;
  } catch {
    return undefined; // a cycle or a BigInt: not a value a YAML file can hold anyway
  }
}

/** A value as it would be written in YAML: plain, quoted only when empty, JSON for lists and mappings. */
export function valueText(v: JsonValue): string {
  if (typeof v === 'string') return v === '' || /^\s|\s$|^[[{'"!&*#|>%@`-]|: | #/.test(v) ? JSON.stringify(v) : v;
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

function typeText(s: FieldSchema): string {
  if (s.const !== undefined) return valueText(jsonValue(s.const) ?? null);
  if (s.enum) return s.enum.map((v) => valueText(jsonValue(v) ?? null)).join(' | ');
  const union = s.oneOf ?? s.anyOf;
  if (union) return union.map(typeText).join(' | ');
  const types = s.type === undefined ? [] : typeof s.type === 'string' ? [s.type] : [...s.type];
  if (types.length === 0) return 'any';
  return types.map((t) => (t === 'array' ? `${s.items ? typeText(s.items) : 'any'}[]` : t)).join(' | ');
}

/** A field (or a whole section: a mapping of fields) as docs, from its schema. */
export function fieldDoc(name: string, schema: unknown, required = false): FieldDoc {
  const f = asSchema(schema);
  const doc: FieldDoc = { name, type: typeText(f) };
  const value = f.default === undefined ? undefined : jsonValue(f.default);
  if (value !== undefined) doc.default = value;
  if (typeof f.description === 'string') doc.description = f.description;
  if (required) doc.required = true;
  if (f.enum) doc.choices = f.enum.map((v) => jsonValue(v) ?? null);
  for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) {
    if (typeof f[k] === 'number') doc[k] = f[k];
  }
  if (f.properties) doc.fields = fieldDocs(f);
  const mapping = f.properties !== undefined || f.type === 'object';
  if (mapping && f.additionalProperties !== false) doc.open = true;
  return doc;
}

/** The fields of an object schema, in the schema's order (empty for a schema without `properties`). */
export function fieldDocs(schema: unknown): FieldDoc[] {
  const s = asSchema(schema);
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([name, raw]) => fieldDoc(name, raw, required.has(name)));
}

/** `> 0, < 1` or `>= 1`: the bounds of a number field. */
export function boundsText(f: FieldDoc): string {
  const parts: string[] = [];
  if (f.exclusiveMinimum !== undefined) parts.push(`> ${f.exclusiveMinimum}`);
  else if (f.minimum !== undefined) parts.push(`>= ${f.minimum}`);
  if (f.exclusiveMaximum !== undefined) parts.push(`< ${f.exclusiveMaximum}`);
  else if (f.maximum !== undefined) parts.push(`<= ${f.maximum}`);
  return parts.join(', ');
}

/** `number, default 0.0005`: a completion's detail. */
export function fieldDetail(f: FieldDoc): string {
  return f.default === undefined ? f.type : `${f.type}, default ${valueText(f.default)}`;
}

/** `number, default 0.0005, > 0, < 1, required`: everything but the description, on one line. */
export function fieldSummary(f: FieldDoc): string {
  const bounds = boundsText(f);
  return [fieldDetail(f), ...(bounds ? [bounds] : []), ...(f.required ? ['required'] : [])].join(', ');
}

/**
 * A field's doc as lines: `name: summary`, then its description indented below, then a mapping's own fields
 * (nested under it, `prefix` + two spaces). The hover shows these lines; the CLI prints them.
 */
export function fieldDocLines(f: FieldDoc, prefix = ''): string[] {
  const lines = [`${prefix}${f.name}: ${fieldSummary(f)}`];
  if (f.description) lines.push(`${prefix}    ${f.description}`);
  for (const sub of f.fields ?? []) lines.push(...fieldDocLines(sub, prefix + '  '));
  return lines;
}

/** Why `value` does not fit the field's type, bounds or choices (the form view's inline check), if it does not. */
export function fieldValueProblem(f: FieldDoc, value: unknown): string | undefined {
  if (f.choices) {
    return f.choices.some((c) => c === value) ? undefined : `expected one of ${f.choices.map(valueText).join(', ')}`;
  }
  const kinds = f.type.split(' | ');
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'expected a finite number';
    if (kinds.includes('integer') && !kinds.includes('number') && !Number.isInteger(value)) {
      return 'expected an integer';
    }
    if (!kinds.includes('integer') && !kinds.includes('number')) return `expected ${f.type}`;
    if (f.exclusiveMinimum !== undefined && !(value > f.exclusiveMinimum)) return `must be above ${f.exclusiveMinimum}`;
    if (f.minimum !== undefined && value < f.minimum) return `must be at least ${f.minimum}`;
    if (f.exclusiveMaximum !== undefined && !(value < f.exclusiveMaximum)) return `must be below ${f.exclusiveMaximum}`;
    if (f.maximum !== undefined && value > f.maximum) return `must be at most ${f.maximum}`;
    return undefined;
  }
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return kinds.includes(kind) || kinds.includes('any') ? undefined : `expected ${f.type}`;
}
