/**
 * What the workbench does when it opens: subscribe the stores to the app's events, read the settings,
 * open the config (the page's `?config=` or the most recent one), list plugins, examples, models and past
 * runs, and follow a run that is already going. Called by App.vue; returns the unsubscribe function.
 */

import { useClient } from '../client.js';
import { useConfigStore } from '../stores/config.js';
import { useRunHistoryStore } from '../stores/history.js';
import { usePluginsStore } from '../stores/plugins.js';
import { ACTIVE_STATUSES, useRunsStore } from '../stores/runs.js';
import { useSettingsStore } from '../stores/settings.js';

/** The config named by the page's URL (`/?config=<absolute path>`), when there is one. */
export function configFromPageUrl(search = location.search): string | undefined {
  return new URLSearchParams(search).get('config') || undefined;
}

export function startWorkbench(initialConfig: string | undefined): () => void {
  const settings = useSettingsStore();
  const config = useConfigStore();
  const plugins = usePluginsStore();
  const runs = useRunsStore();
  const history = useRunHistoryStore();

  const unsubscribe = useClient().onEvent((event) => {
    runs.receive(event);
    history.receive(event);
    plugins.receive(event);
  });

  void (async () => {
    await settings.load();
    const first = initialConfig ?? settings.recentConfigs[0];
    if (first) await config.open(first);
    await Promise.all([plugins.load(), config.loadExamples(), config.loadModels(), history.loadRuns()]);
    const live = history.runs.find((r) => ACTIVE_STATUSES.includes(r.status));
    if (live && !runs.run) await runs.follow(live);
  })();

  return unsubscribe;
}
