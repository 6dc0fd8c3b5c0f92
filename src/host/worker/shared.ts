/**
 * What the worker's tasks share: the set of plugin files a request imported, config problems as data, the
 * config prepared from unsaved text, the plugin card, and reading the trainer's section.
 *
 * Runs only in the forked worker. May import core; imported by the task files of this folder.
 */

import path from 'node:path';
import {
  activatePlugins,
  ConfigErrors,
  DumboError,
  getLogger,
  HookBus,
  pluginLocator,
  runInfoOf,
  setRunContext,
  checkPreparedRun,
  loadConfiguredPlugins,
  parseConfig,
  type LoadedPlugin,
  type PreparedRun,
  type RunInfo,
} from '../../core/index.js';
import type { ConfigProblem, PluginCard } from '../../shared/api.js';
import type { WorkerCalls, WorkerError, WorkerMethod } from '../protocol.js';

/** Plugin folders and module files imported while serving the current request. */
export class LoadedSet {
  readonly paths = new Set<string>();
  add(plugins: readonly LoadedPlugin[]): void {
    for (const p of plugins) this.paths.add(p.source.location);
  }
}

/** One worker method: plain data in, plain data out (protocol.ts `WorkerCalls`). */
export type Task<M extends WorkerMethod> = (
  params: WorkerCalls[M]['params'],
  loaded: LoadedSet,
) => Promise<WorkerCalls[M]['result']>;

/**
 * A plugin as the plugin manager and `dumbo plugins` show it, named as `plugins:` accepts it: a built-in or
 * user plugin by its folder (the classes of one folder share it; `className` tells them apart), a plugin
 * loaded by path or package by what the config wrote (`names`, the config's `plugins:` list).
 */
export function pluginCard(p: LoadedPlugin, folder: string, names?: readonly string[]): PluginCard {
  const kind = p.source.kind;
  const byFolder = kind === 'builtin' || kind === 'user';
  const where = byFolder ? folder : p.source.location;
  const card: PluginCard = {
    id: `${kind}:${where}:${p.meta.className}`,
    folder,
    name: (byFolder ? undefined : names?.[p.entryIndex]?.trim()) ?? folder,
    className: p.meta.className,
    pluginName: p.meta.name,
    configKey: p.meta.configKey,
    source: kind,
    location: p.source.location,
    provides: [...p.meta.provides],
    requires: [...p.meta.requires],
    conflicts: [...p.meta.conflicts],
  };
  if (p.meta.description !== undefined) card.description = p.meta.description;
  if (p.meta.version !== undefined) card.version = p.meta.version;
  return card;
}

/** A config problem, with its file made absolute (errors show paths relative to the working directory). */
export function toProblems(error: unknown): ConfigProblem[] {
  const errors = error instanceof ConfigErrors ? error.errors : [error];
  return errors.map((e) => {
    if (e instanceof DumboError) {
      const p: ConfigProblem = { message: e.message };
      if (e.location.file) p.file = path.resolve(e.location.file);
      if (e.location.line !== undefined) p.line = e.location.line;
      if (e.location.column !== undefined) p.column = e.location.column;
      return p;
    }
    return { message: e instanceof Error ? e.message : String(e) };
  });
}

export function toWorkerError(error: unknown): WorkerError {
  const problems = toProblems(error);
  const lines = problems.map((p) =>
    p.file ? `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: ${p.message}` : p.message,
  );
  return { message: lines.join('\n'), problems };
}

/**
 * `prepareRun` (src/core/run.ts) on text that may not be saved: the same steps — parse, load the plugins
 * (paths relative to the config's folder), then its checks (`checkPreparedRun`) — with every location in the
 * file at `file` (parseConfig checks `backend:` and `webgpu:`). The plugins count as loaded even when a check
 * fails: the worker restarts when their files change.
 */
export async function prepareText(
  text: string,
  file: string,
  userPluginDir: string,
  loaded: LoadedSet,
): Promise<PreparedRun> {
  const config = parseConfig(text, path.resolve(file));
  const plugins = await loadConfiguredPlugins(config, { userPluginDir });
  loaded.add(plugins);
  return checkPreparedRun(config, plugins);
}

/**
 * A hook bus over fresh instances of `prepared`'s plugins, outside a run: each plugin's context says what the
 * config says (plus `extra`: a dry run), and a failure points at the field or section of the config.
 */
export function workerBus(prepared: PreparedRun, extra: Partial<RunInfo> = {}): HookBus {
  const { config } = prepared;
  const run = { ...runInfoOf(config), ...extra };
  setRunContext(run); // for plugins written before the context
  return new HookBus(activatePlugins(prepared.plugins), {
    logger: getLogger('worker'),
    locate: pluginLocator(config),
    run,
  });
}
