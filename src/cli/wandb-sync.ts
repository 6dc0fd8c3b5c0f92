/**
 * `dumbo wandb-sync RUN`: uploads the W&B run folders a run left behind (mode offline, or an online upload
 * that did not finish) to the server `WANDB_BASE_URL` names, with the key of `WANDB_API_KEY` or the netrc file.
 * RUN is a Dumbo run folder (its `wandb/` runs), a `wandb/` folder or one W&B run folder.
 *
 * The upload is the wandb plugin's own code (its `.wandb` reader and its HTTP client, the same an online run
 * streams with): the command loads the built-in plugin through the plugin loader, as a run loads plugins,
 * instead of importing plugin code, which nothing in src/ does. May import core.
 */
import path from 'node:path';
import { builtinPluginDir, DumboError, findPluginEntry, importPluginModule } from '../core/index.js';

/** `WandbPlugin.sync` (plugins/wandb/sync.ts `syncRuns`), as far as this command uses it. */
type Sync = (folder: string, options: { log: (line: string) => void }) => Promise<boolean>;

/** Exit code 0 when every run went, 1 when one did not, 2 for a RUN that holds none or a missing key. */
export async function wandbSyncCommand(run: string): Promise<number> {
  const folder = path.join(builtinPluginDir(), 'wandb');
  const plugins = await importPluginModule(findPluginEntry(folder), { kind: 'builtin', location: folder });
  const sync = (plugins.find((p) => p.meta.configKey === 'wandb')?.cls as { sync?: unknown } | undefined)?.sync;
  if (typeof sync !== 'function') {
    throw new DumboError('the built-in wandb plugin has no WandbPlugin.sync', { kind: 'run' });
  }
  try {
    return (await (sync as Sync)(path.resolve(run), { log: (line) => process.stdout.write(line + '\n') })) ? 0 : 1;
  } catch (error) {
    // What sync throws is about RUN or the key (no run there, no key): the user's to fix, like a bad config.
    throw new DumboError((error as Error).message, { kind: 'config', cause: error });
  }
}
