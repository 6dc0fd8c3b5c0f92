/**
 * The plugin context: what every hook call receives as its LAST argument, after the hook's own arguments
 * (`model_loader(config, ctx)`, `log_metrics(metrics, step, ctx)`, `finish(ctx)`). It says which run the call
 * belongs to and gives the plugin its logger, the metrics registry and a way to call hooks it defined.
 *
 * Why an argument and not `this`: hooks are often arrow functions (the kind base classes wire them so), and
 * an argument works the same in a class, an object literal or plain JS. A hook that does not need it simply
 * declares fewer parameters. It replaces the process-wide `getRunContext()`, which stays for old plugins.
 */

import { DEFAULT_SEED } from './config.js';
import type { EmitResult, HookArgs, HookName } from './hooks.js';
import { getLogger, type Logger } from './logger.js';
import { getMetricsRegistry, type MetricsRegistry } from './metrics.js';
import { checkRunLink, type RunLink } from './records.js';

/** Facts about the run that every plugin's context shares. */
export interface RunInfo {
  /** The run folder; absent when hooks run outside a run (`dumbo validate`, the app's preview, tests). */
  readonly runFolder?: string;
  /** The config file, absolute (absent for a config given as text that was never saved). */
  readonly configFile?: string;
  /** The folder the config's relative paths are relative to. */
  readonly configDir: string;
  /** The run's seed (top-level `seed:`, default DEFAULT_SEED = 42): plugins derive their randomness from it. */
  readonly seed: number;
  /** The compute backend the run uses (`webgpu`, `cpu`, ...), once chosen; absent outside a run. */
  readonly backend?: string;
  /**
   * Set when hooks run as a dry run (`dumbo validate` checking the data path): a dataset loader may keep only
   * this many rows after reading, since nothing will train on them.
   */
  readonly dryRunRows?: number;
}

export interface PluginContext extends RunInfo {
  /** The plugin's name, as the trace and messages show it. */
  readonly plugin: string;
  /** A logger whose records are prefixed with the plugin's name. */
  readonly logger: Logger;
  /** The run's metrics registry (collectors, `logMetrics`). */
  readonly metrics: MetricsRegistry;
  /**
   * Calls a hook on every plugin that implements it, by the hook's own calling rule (see `emit` in bus.ts for
   * what each rule returns). For hooks a plugin defined with `defineHook`, and for the training-time hooks a
   * trainer calls; the hooks the run itself calls (loaders, `trainer`, `log_init`, `finish`, ...) are refused.
   */
  emit: Emit;
  /**
   * Publishes a place the run's output can be seen outside the app (`{ label: 'W&B', url }`, `{ label:
   * 'TensorBoard', path, hint }`): run.json keeps it and the app's run panel links to it. A later link with the
   * same label replaces the earlier one. Throws a TypeError for a malformed link.
   */
  addLink(link: RunLink): void;
}

/** `emit`, typed by the hook table: the hook's own arguments, and what its rule returns. */
export type Emit = <H extends HookName>(hook: H, ...args: HookArgs<H>) => Promise<EmitResult<H>>;

/**
 * A context for calling a plugin's hooks by hand, outside a run (a plugin's own tests, a script): the given
 * run facts (default: the working directory, DEFAULT_SEED, no run folder) and an `emit` that says there is no run.
 */
export function standaloneContext(plugin: string, run: Partial<RunInfo> = {}): PluginContext {
  return {
    configDir: process.cwd(),
    seed: DEFAULT_SEED,
    ...run,
    plugin,
    logger: getLogger(plugin),
    metrics: getMetricsRegistry(),
    addLink: (link) => void getMetricsRegistry().logLink(checkRunLink(link)),
    emit: (async (hook: string) => {
      throw new Error(`${plugin} emitted '${hook}' outside a run: no plugins are there to answer it`);
    }) as Emit,
  };
}
