/**
 * The worker's `catalog` task: every plugin the app can load (built-in and user folders) as cards, and — with
 * a config — which of them it uses, including the plugins it names by path or package.
 *
 * Runs only in the forked worker. May import core; imported by index.ts.
 */

import path from 'node:path';
import {
  loadConfiguredPlugins,
  parseConfig,
  RUN_SCHEMA,
  scanCatalog,
  type CatalogEntry,
  type LoadedPlugin,
  type PluginClass,
} from '../../core/index.js';
import type { PluginCard } from '../../shared/api.js';
import { fieldDoc, fieldDocs } from '../../shared/field-docs.js';
import type { WorkerCalls } from '../protocol.js';
import { pluginCard, type LoadedSet } from './shared.js';

/** A folder that could not be loaded: the card says why. */
function errorCard(entry: CatalogEntry): PluginCard {
  const kind = entry.source.kind;
  return {
    id: `${kind}:${entry.id}:`,
    folder: entry.id,
    name: entry.id,
    className: '',
    configKey: '',
    source: kind,
    location: entry.source.location,
    provides: [],
    requires: [],
    conflicts: [],
    error: entry.error ?? 'cannot be loaded',
  };
}

/** A card with its section as field docs: the editor completes, documents and checks fields from these. */
function catalogCard(q: LoadedPlugin, folder: string, names?: readonly string[]): PluginCard {
  const card = pluginCard(q, folder, names);
  if (q.meta.configSchema) card.section = fieldDoc(q.meta.configKey, q.meta.configSchema);
  return card;
}

export async function catalog(
  p: WorkerCalls['catalog']['params'],
  loaded: LoadedSet,
): Promise<WorkerCalls['catalog']['result']> {
  const entries = await scanCatalog({ userPluginDir: p.userPluginDir });
  const cards: PluginCard[] = [];
  const byClass = new Map<PluginClass, PluginCard>();
  // `plugins:` also takes a plugin's own name (`transformers_model_loader`), which its card does not show.
  const pluginNames = new Map<PluginCard, string>();
  for (const e of entries) {
    loaded.add(e.plugins);
    if (e.plugins.length === 0) cards.push(errorCard(e));
    for (const q of e.plugins) {
      const card = catalogCard(q, e.id);
      cards.push(card);
      byClass.set(q.cls, card);
      pluginNames.set(card, q.meta.name);
    }
  }
  const used: string[] = [];
  if (p.configText !== undefined) {
    const file = path.resolve(p.configPath ?? '.dumbo-unsaved.yaml');
    let names: string[] = [];
    try {
      const config = parseConfig(p.configText, file);
      names = config.data.plugins;
      const plugins = await loadConfiguredPlugins(config, { userPluginDir: p.userPluginDir });
      loaded.add(plugins);
      for (const q of plugins) {
        let card = byClass.get(q.cls);
        if (!card) {
          // Named by path or package: part of this config's catalog too.
          card = catalogCard(q, path.basename(q.source.location), names);
          cards.push(card);
          byClass.set(q.cls, card);
        }
        if (!used.includes(card.id)) used.push(card.id);
      }
    } catch {
      // The config does not load as a whole: mark what its names match in the catalog.
      for (const raw of names) {
        const name = raw.trim();
        for (const card of cards) {
          const match =
            card.folder === name || (card.configKey === name && !card.error) || pluginNames.get(card) === name;
          if (match && !used.includes(card.id)) used.push(card.id);
        }
      }
    }
  }
  return { cards, used, runFields: fieldDocs(RUN_SCHEMA) };
}
