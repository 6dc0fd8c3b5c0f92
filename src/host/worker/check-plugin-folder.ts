/**
 * The worker's `checkPluginFolder` task: imports a plugin folder and instantiates its plugins, what the app
 * checks before it keeps a copy of a folder the user installs.
 *
 * Runs only in the forked worker. May import core; imported by index.ts.
 */

import { activatePlugins, findPluginEntry, importPluginModule } from '../../core/index.js';
import type { PluginCard } from '../../shared/api.js';
import type { WorkerCalls } from '../protocol.js';
import { pluginCard, type LoadedSet } from './shared.js';

export async function checkPluginFolder(
  p: WorkerCalls['checkPluginFolder']['params'],
  loaded: LoadedSet,
): Promise<PluginCard[]> {
  const entry = findPluginEntry(p.folder);
  const plugins = await importPluginModule(entry, { kind: p.kind, location: p.folder });
  loaded.add(plugins);
  // Instantiating checks the hook map against the hook table, as a run would.
  activatePlugins(plugins);
  return plugins.map((q) => pluginCard(q, p.cardFolder));
}
