/**
 * What picking a model folder does to the config's `model:` section. A folder with trained weights (a
 * finished run's final/, a Hugging Face model) is fine-tuned: `init: pretrained`, and `model.config:`'s
 * overrides go (they are ignored for a pretrained model, and a reader would think they apply). A folder
 * without weights (the quickstart's config and tokenizer) only changes `base_model`.
 *
 * Pure functions of strings, used by the config store. Edits keep the rest of the text as written.
 */

import { isMap, isScalar, parseDocument } from 'yaml';
import { removeKeyAt, setScalarAt, type YamlEdit } from './yaml-edit.js';

/** The `model.config:` override keys of the text (none when the YAML is broken or there are none). */
export function modelOverrides(text: string): string[] {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return [];
  const overrides = doc.getIn(['model', 'config'], true);
  if (!isMap(overrides)) return [];
  return overrides.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key)));
}

/** The text with `model.base_model` at `folder`; a folder with weights also gets `init: pretrained`, no overrides. */
export function chooseModel(text: string, folder: string, weights: boolean): YamlEdit {
  let result = setScalarAt(text, ['model', 'base_model'], folder);
  if (!result.ok || !weights) return result;
  result = setScalarAt(result.text, ['model', 'init'], 'pretrained');
  return result.ok ? removeKeyAt(result.text, ['model', 'config']) : result;
}
