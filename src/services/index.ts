/**
 * src/services — the one service layer behind both doors of the app: Electron IPC (src/main) and
 * `dumbo serve` (src/cli/serve.ts). Every call of src/shared/api.ts is implemented here, once; the doors
 * only validate arguments (ARGS_VALID) and carry calls and events.
 *
 * What lives here: `createServices` (this file) wires the plugin catalog and install, config files,
 * validation, estimates and previews (all through the worker process: plugin code never runs in the app's
 * own process), settings (settings.ts), the run manager (runs.ts) and model lists (library.ts).
 *
 * Who may import it: src/main, src/cli (serve) and tests. It imports core, engine (library.ts, loaded when called), host
 * (protocols, run folders) and src/shared; never Electron, never the renderer. Helper processes are
 * started through an injected `ForkHost` (process.ts), so the same code runs under Electron and Node.
 */

import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { builtinPluginDir, userPluginDir } from '../core/paths.js';
import { dumboVersion } from '../host/info.js';
import type { AppEvent, CallArgs, CallName, CallResult, PluginCard } from '../shared/api.js';
import { defaultExamplesDir, listExamples, listModels, readConfigFile, writeConfigFile } from './library.js';
import {
  adoptPluginFolder,
  commitPluginCopy,
  discardPluginCopy,
  filesFingerprint,
  previewPluginFolder,
  removePluginFolder,
  stagePluginCopy,
} from './plugin-files.js';
import { defaultEntries, type ForkHost } from '../host/process.js';
import { RunManager } from './runs.js';
import { SettingsStore } from './settings.js';
import { WorkerClient, WorkerRequestError } from './worker-client.js';

export { nodeForkHost, defaultEntries, type ForkHost, type HostProcess } from '../host/process.js';
export { WorkerRequestError };

export interface ServicesOptions {
  /** Starts the helper processes: `nodeForkHost()` under Node, a utilityProcess adapter under Electron. */
  fork: ForkHost;
  /** Working directory: relative config paths, and the default runs folder (`<cwd>/runs`). */
  cwd?: string;
  /** Overrides the settings' plugin folder (the CLI's --plugin-path); default: settings.pluginFolder. */
  userPluginDir?: string;
  /** The folder of settings.json (default: userDataDir(), shared with the desktop app). */
  settingsDir?: string;
  /** Where runs are made and read (default `<cwd>/runs`). */
  runsRoot?: string;
  /** The example configs (default resources/examples). */
  examplesDir?: string;
  /** The built helper entries (default dist/host/entry.js and dist/host/worker.js). */
  hostEntry?: string;
  workerEntry?: string;
  /** Least time a stopping run gets before it is killed (default 30 s; tests shorten it). */
  stopGraceMs?: number;
  /** Live stream coalescing window (default 250 ms). */
  flushMs?: number;
}

export type ServiceCalls = { [K in CallName]: (...args: CallArgs<K>) => Promise<CallResult<K>> };

export interface Services {
  /** Every call of the API; each returns a promise whose rejection message is the user-facing text. */
  calls: ServiceCalls;
  /** Registers a listener for app events; returns the function that removes it. */
  onEvent(listener: (event: AppEvent) => void): () => void;
  /**
   * Ends everything: asks live runs to stop and waits for them (`force`: kills them at once), and ends the
   * worker processes.
   */
  dispose(options?: { force?: boolean }): Promise<void>;
  /** Runs still in progress (for a door that asks before quitting). */
  activeRuns(): ReturnType<RunManager['activeRuns']>;
  /** The settings file (for messages). */
  settingsFile: string;
}

export function createServices(options: ServicesOptions): Services {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const entries = defaultEntries();
  const settings = new SettingsStore({ cwd: options.settingsDir, defaultPluginFolder: options.userPluginDir });
  const pluginFolder = () => path.resolve(options.userPluginDir ?? settings.get().pluginFolder);
  // Plugin folders chosen by whoever started Dumbo (not through the API): install and remove work there
  // without the marker of plugin-files.ts. Any other plugin folder must carry it (PLUGIN_FOLDER_MARKER).
  const trustedPluginFolders = [options.userPluginDir, userPluginDir()].filter((f): f is string => !!f);
  /**
   * The config files this session may write: those opened (openConfig) or created (saveConfig of a new
   * file) here. Saving over any other existing file is refused, so that an API call cannot overwrite a
   * file the user never opened in Dumbo. Not taken from the settings' recent configs: updateSettings can
   * set those.
   */
  const writableConfigs = new Set<string>();
  const examplesDir = options.examplesDir ?? defaultExamplesDir();
  const listeners = new Set<(event: AppEvent) => void>();
  const emit = (event: AppEvent) => {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch {
        // one broken listener does not silence the others
      }
    }
  };

  // Two workers of the same entry: quick introspection (catalog, validation, install checks) never waits
  // behind a long estimate, dataset preview or generation.
  const fingerprint = (paths: readonly string[]) => filesFingerprint([builtinPluginDir(), pluginFolder(), ...paths]);
  const workerEntry = options.workerEntry ?? entries.worker;
  const introspection = new WorkerClient({
    fork: options.fork,
    entry: workerEntry,
    name: 'plugin worker',
    fingerprint,
  });
  const compute = new WorkerClient({ fork: options.fork, entry: workerEntry, name: 'compute worker', fingerprint });

  const runs = new RunManager({
    fork: options.fork,
    hostEntry: options.hostEntry ?? entries.runHost,
    cwd,
    runsRoot: path.resolve(cwd, options.runsRoot ?? 'runs'),
    pluginFolder,
    defaultBackend: () => settings.get().defaultBackend,
    emit,
    knownRuns: {
      folders: () => settings.runFolders(),
      roots: () => settings.runRoots(),
      record: (f) => settings.recordRunFolder(f),
      forget: (f) => settings.forgetRunFolder(f),
    },
    stopGraceMs: options.stopGraceMs,
    flushMs: options.flushMs,
  });

  const abs = (p: string) => path.resolve(cwd, p);

  /**
   * The catalog when loading it as a whole ended the worker (a user plugin that exits or crashes on import):
   * the built-in plugins, then each user plugin folder alone, the culprit marked with the crash, so that the
   * user can see and remove it.
   */
  async function catalogOneByOne(): Promise<CallResult<'listPlugins'>> {
    const folder = pluginFolder();
    const nowhere = path.join(folder, '.dumbo-no-user-plugins');
    const { cards, runFields } = await introspection.request('catalog', { userPluginDir: nowhere });
    let names: string[];
    try {
      names = readdirSync(folder, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
    } catch {
      names = []; // no plugin folder
    }
    for (const name of names) {
      const location = path.join(folder, name);
      try {
        cards.push(
          ...(await introspection.request('checkPluginFolder', { folder: location, kind: 'user', cardFolder: name })),
        );
      } catch (error) {
        cards.push({
          id: `user:${name}:`,
          folder: name,
          name,
          className: '',
          configKey: '',
          source: 'user',
          location,
          provides: [],
          requires: [],
          conflicts: [],
          error: (error as Error).message,
        });
      }
    }
    return { cards, used: [], runFields };
  }

  const calls: ServiceCalls = {
    version: async () => dumboVersion(),

    listPlugins: async (configText) => {
      // Relative plugin paths in the text resolve against the config opened last (the editor's file).
      const recent = settings.get().recentConfigs[0];
      const configPath = path.join(recent ? path.dirname(recent) : cwd, '.dumbo-unsaved.yaml');
      try {
        return await introspection.request('catalog', { userPluginDir: pluginFolder(), configText, configPath });
      } catch (error) {
        if (!(error instanceof WorkerRequestError && error.workerLost)) throw error;
        return catalogOneByOne();
      }
    },

    previewPluginFolder: async (folder) => previewPluginFolder(abs(folder)),

    installPlugin: async (folder) => {
      const copy = stagePluginCopy(abs(folder), pluginFolder(), trustedPluginFolders);
      let cards: PluginCard[];
      try {
        cards = await introspection.request(
          'checkPluginFolder',
          { folder: copy.staging, kind: 'user', cardFolder: copy.name },
          60_000,
        );
        commitPluginCopy(copy);
      } catch (error) {
        discardPluginCopy(copy);
        throw error;
      }
      emit({ type: 'plugins-changed' });
      // The cards as the catalog will show them: at their installed place.
      return cards.map((c) => ({ ...c, location: copy.dest }));
    },

    removePlugin: async (folder) => {
      removePluginFolder(folder, pluginFolder(), trustedPluginFolders);
      introspection.restart();
      emit({ type: 'plugins-changed' });
    },

    openConfig: async (file) => {
      const config = readConfigFile(file, cwd);
      settings.addRecent(config.path);
      writableConfigs.add(config.path);
      return config;
    },

    saveConfig: async (file, text) => {
      writableConfigs.add(writeConfigFile(file, text, cwd, (existing) => writableConfigs.has(existing)));
    },

    validateConfig: async (text, file) => {
      return introspection.request('validate', { text, path: abs(file), userPluginDir: pluginFolder() });
    },

    listExamples: async () => listExamples(examplesDir),

    getSettings: async () => {
      const s = settings.get();
      return options.userPluginDir ? { ...s, pluginFolder: pluginFolder() } : s;
    },

    updateSettings: async (patch) => {
      const before = pluginFolder();
      // A new or empty folder becomes one Dumbo manages; one that holds files is only read (plugin-files.ts).
      if (patch.pluginFolder !== undefined) adoptPluginFolder(path.resolve(patch.pluginFolder));
      settings.update(patch);
      if (pluginFolder() !== before) emit({ type: 'plugins-changed' });
      return calls.getSettings();
    },

    estimateRun: async (text, file) =>
      compute.request(
        'estimate',
        { text, path: abs(file), userPluginDir: pluginFolder(), defaultBackend: settings.get().defaultBackend },
        300_000,
      ),

    previewDataset: async (text, file) =>
      compute.request('previewDataset', { text, path: abs(file), userPluginDir: pluginFolder() }, 300_000),

    startRun: async (file, resume) => runs.startRun(file, resume),
    runConfig: async (text, file) => runs.runConfig(text, file),
    stopRun: async (runId) => runs.stopRun(runId),
    listRuns: async () => runs.listRuns(),
    getRun: async (runId) => runs.getRun(runId),
    resumeRun: async (runId) => runs.resumeRun(runId),
    deleteRun: async (runId) => runs.deleteRun(runId),
    listModels: async () => listModels(runs.listRuns()),

    generate: async (runId, prompt, o) =>
      compute.request(
        'generate',
        {
          modelDir: runs.finalModel(runId),
          prompt,
          maxNewTokens: o.maxNewTokens,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          // A seed the user gave reproduces a sample; without one each Generate draws anew.
          seed: o.seed ?? randomInt(2 ** 31),
          backend: settings.get().defaultBackend,
        },
        300_000,
      ),
  };

  return {
    calls,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async dispose(o = {}) {
      introspection.dispose();
      compute.dispose();
      await runs.dispose(o);
      listeners.clear();
    },
    activeRuns: () => runs.activeRuns(),
    settingsFile: settings.path,
  };
}
