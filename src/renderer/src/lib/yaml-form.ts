/**
 * The form view's fields: the common settings of the config's trainer (learning rate, batch size, steps or
 * epochs, warmup) and, when the config uses LoRA, its rank and alpha — each with its doc from the schema, its
 * value as the YAML says it, and an edit that changes only that value in the text (yaml-edit.ts), after the
 * schema's checks (type, bounds) pass.
 */

import { parseDocument } from 'yaml';
import { fieldValueProblem, type FieldDoc } from '../../../shared/field-docs.js';
import { removeKeyAt, setScalarAt, type YamlEdit } from './yaml-edit.js';
import type { ConfigSchema } from './yaml-schema.js';

/** The trainer's fields the form shows, in this order, where the trainer's schema has them. */
export const TRAINER_FIELDS = ['learning_rate', 'batch_size', 'max_steps', 'epochs', 'warmup_steps'];
/** The LoRA section's fields the form shows when the config uses the lora plugin. */
export const LORA_FIELDS = ['r', 'lora_alpha'];
export const LORA_SECTION = 'lora';

export interface FormField {
  section: string;
  doc: FieldDoc;
  /** The value as the text says it (`''` when the key is not there: the default applies). */
  value: string;
}

/** The section of the plugin that provides the trainer, among those the config uses. */
export function trainerSection(schema: ConfigSchema): string | undefined {
  for (const [key, info] of schema.sections) {
    if (schema.used.has(key) && info.plugins.some((c) => c.provides.includes('trainer'))) return key;
  }
  return undefined;
}

/** The form's fields for this text; empty when the config has no trainer the catalog knows. */
export function formFields(text: string, schema: ConfigSchema): FormField[] {
  const doc = parseDocument(text);
  const valueOf = (section: string, name: string) => {
    if (doc.errors.length > 0) return '';
    const v: unknown = doc.getIn([section, name]);
    return v === undefined || v === null ? '' : String(v);
  };
  const pick = (section: string | undefined, names: readonly string[]) => {
    const fields = section === undefined ? [] : (schema.sections.get(section)?.doc.fields ?? []);
    return names.flatMap((name) => {
      const doc = fields.find((f) => f.name === name);
      return doc ? [{ section: section!, doc, value: valueOf(section!, name) }] : [];
    });
  };
  const lora = schema.used.has(LORA_SECTION) ? LORA_SECTION : undefined;
  return [...pick(trainerSection(schema), TRAINER_FIELDS), ...pick(lora, LORA_FIELDS)];
}

/** What the user typed, as the field's value: a number for number fields, checked against the schema. */
export function parseFormValue(
  field: FormField,
  typed: string,
): { ok: true; value: string | number | undefined } | { ok: false; error: string } {
  const input = typed.trim();
  if (input === '') return { ok: true, value: undefined };
  const kinds = field.doc.type.split(' | ');
  const numeric = kinds.includes('number') || kinds.includes('integer');
  const value = numeric ? Number(input) : input;
  if (numeric && Number.isNaN(value)) return { ok: false, error: `expected ${field.doc.type}` };
  const problem = fieldValueProblem(field.doc, value);
  return problem ? { ok: false, error: problem } : { ok: true, value };
}

/**
 * The text with the field set to what the user typed, only that value changed; empty takes the key out (the
 * default applies). `ok: false` says why (the schema's check, or YAML that does not parse), and the text stays.
 */
export function setFormValue(text: string, field: FormField, typed: string): YamlEdit {
  const parsed = parseFormValue(field, typed);
  if (!parsed.ok) return parsed;
  const path = [field.section, field.doc.name];
  return parsed.value === undefined ? removeKeyAt(text, path) : setScalarAt(text, path, parsed.value);
}
