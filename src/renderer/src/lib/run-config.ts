/**
 * A past run's config (its folder's config.yaml, as the run resolved it) put to use again: as the text of a
 * new run or of the editor, and as the hyperparameters the history shows. Pure functions of strings.
 */

import { isMap, parseDocument } from 'yaml';
import type { FlatConfig } from './config-diff.js';

/**
 * Keys of a run's own config.yaml that would not start a new run: where the run went (a new run needs a
 * folder of its own) and what it continued from (the resume that wrote them).
 */
const RUN_ONLY_KEYS = ['output_dir', 'resume_from'];

/** The config of a past run as a new run's: without the keys that tie it to that run's folder. */
export function rerunnableConfig(text: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents)) return text;
  if (!RUN_ONLY_KEYS.some((k) => doc.has(k))) return text;
  for (const key of RUN_ONLY_KEYS) doc.delete(key);
  return doc.toString();
}

/** Where the settings that shape training live: the seed, the model's start, the trainer and adapters. */
const HYPERPARAMETERS = [/^seed$/, /^model\.(base_model|init)$/, /^training\./, /^lora\./, /^trl\./];

/** A run's hyperparameters: the rows of its config that shape its training, in the config's order. */
export function hyperparameters(config: FlatConfig): [key: string, value: string][] {
  return [...config].filter(([key]) => HYPERPARAMETERS.some((re) => re.test(key)));
}
