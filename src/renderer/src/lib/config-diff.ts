/**
 * Runs' configs side by side: a config (its resolved YAML) as flat `section.key` → value rows, the keys
 * whose values differ between runs, and the short form of a difference a chart legend shows (`lr=5e-3`).
 * Pure functions of strings, used by the history store and the compare view.
 */

import { parse } from 'yaml';

/** A config as `section.key` → the value as shown (lists and empty maps as flow YAML). */
export type FlatConfig = Map<string, string>;

/**
 * Keys that differ between any two runs without saying anything about how they trained: the name is
 * already the legend's, and where a run went or what it continued from is not a setting.
 */
const NOT_SETTINGS = new Set(['name', 'output_dir', 'resume_from']);

/** Short names for a legend, for the keys runs are most often compared by. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  learning_rate: 'lr',
  batch_size: 'bs',
  gradient_accumulation_steps: 'accum',
  weight_decay: 'wd',
  warmup_steps: 'warmup',
};

/** A value as a config row shows it: numbers short (`5e-3`, `0.01`), strings as they are. */
export function formatConfigValue(value: unknown): string {
  if (typeof value === 'number') {
    if (value !== 0 && Number.isFinite(value) && (Math.abs(value) < 1e-2 || Math.abs(value) >= 1e6)) {
      return value.toExponential().replace(/\.?0*e\+?/, 'e');
    }
    return String(value);
  }
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return 'null';
  return JSON.stringify(value);
}

/** The config's leaves by dotted path; a text that is not a YAML mapping gives no rows. */
export function flattenConfig(text: string | undefined): FlatConfig {
  const flat: FlatConfig = new Map();
  let data: unknown;
  try {
    data = parse(text ?? '');
  } catch {
    return flat;
  }
  const walk = (value: unknown, key: string) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, key ? `${key}.${k}` : k);
    } else if (key) {
      flat.set(key, formatConfigValue(value));
    }
  };
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) walk(data, '');
  return flat;
}

/** The keys (in first-seen order) whose values are not the same in every config: a key one lacks differs. */
export function differingKeys(configs: readonly FlatConfig[]): string[] {
  if (configs.length < 2) return [];
  const keys = new Set(configs.flatMap((c) => [...c.keys()]));
  return [...keys].filter((k) => !NOT_SETTINGS.has(k) && new Set(configs.map((c) => c.get(k))).size > 1);
}

/** A key as a legend names it: its short name, else its last part, else (ambiguous among `keys`) the whole path. */
function legendKey(key: string, keys: readonly string[]): string {
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  if (SHORT_NAMES[leaf]) return SHORT_NAMES[leaf];
  const clash = keys.some((k) => k !== key && k.slice(k.lastIndexOf('.') + 1) === leaf);
  return clash ? key : leaf;
}

/** How a run's config differs from the others' (`lr=5e-3 bs=8`), at most `max` keys, then `…`. */
export function differenceLabel(config: FlatConfig, keys: readonly string[], max = 3): string {
  const parts = keys.slice(0, max).map((k) => `${legendKey(k, keys)}=${config.get(k) ?? '—'}`);
  if (keys.length > max) parts.push('…');
  return parts.join(' ');
}

export interface ConfigRow {
  key: string;
  left?: string;
  right?: string;
  differs: boolean;
}

/** Two configs side by side, key by key (the left's order, then keys only the right has). */
export function configRows(left: FlatConfig, right: FlatConfig): ConfigRow[] {
  const keys = [...new Set([...left.keys(), ...right.keys()])];
  return keys.map((key) => {
    const row: ConfigRow = { key, differs: left.get(key) !== right.get(key) };
    if (left.has(key)) row.left = left.get(key);
    if (right.has(key)) row.right = right.get(key);
    return row;
  });
}
