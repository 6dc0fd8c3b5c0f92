/**
 * The plugins at a glance, for the collapsed plugin column: the names the config uses (one per plugin
 * folder, as `plugins:` lists them), how many plugins there are, and how many could not be loaded.
 */

import type { PluginCard } from '../../../shared/api.js';

export interface PluginSummary {
  /** The names of the used plugins, in the catalog's order, each once. */
  used: string[];
  /** Every plugin the app knows (each card). */
  total: number;
  /** Plugins whose folder could not be loaded. */
  broken: number;
}

export function pluginSummary(cards: readonly PluginCard[], isUsed: (card: PluginCard) => boolean): PluginSummary {
  return {
    used: [...new Set(cards.filter(isUsed).map((c) => c.name))],
    total: cards.length,
    broken: cards.filter((c) => c.error).length,
  };
}
