/**
 * Process-wide state shared by every copy of the SDK. A plugin may resolve another copy of `dumbo` (its own
 * node_modules, a bundled copy); state kept on `globalThis[Symbol.for('dumbo.sdk')]` makes all copies see
 * the same metrics registry, hook table and log sinks. The first copy loaded creates it.
 */

const KEY = Symbol.for('dumbo.sdk');

export interface SharedState {
  /** Set by metrics.ts: the one MetricsRegistry. */
  metricsRegistry?: unknown;
  /** Set by hooks.ts: hook name -> spec. */
  hooks?: Map<string, unknown>;
  /** Set by logger.ts: where log records go. */
  logSinks?: unknown[];
  /** The SDK module namespace that was loaded first (for diagnostics). */
  sdkVersion?: string;
}

export function sharedState(): SharedState {
  const g = globalThis as unknown as Record<symbol, SharedState | undefined>;
  let state = g[KEY];
  if (!state) {
    state = {};
    g[KEY] = state;
  }
  return state;
}

/** What a plugin may want to know about the run it is part of. */
export interface RunContext {
  /** The run folder (absent when hooks run outside a run, e.g. in tests). */
  runFolder?: string;
  /** The config file, absolute. */
  configFile?: string;
  /** The run's seed (top-level `seed` of the config, 42 when absent): plugins derive their randomness from it. */
  seed?: number;
  /**
   * Set when hooks run as a dry run (`dumbo validate` checking the data path): a dataset loader may keep only
   * this many rows after reading, since nothing will train on them.
   */
  dryRunRows?: number;
}

/** The current run's context, shared by every SDK copy. */
export function getRunContext(): RunContext {
  const shared = sharedState() as SharedState & { runContext?: RunContext };
  shared.runContext ??= {};
  return shared.runContext;
}

export function setRunContext(context: RunContext): void {
  (sharedState() as SharedState & { runContext?: RunContext }).runContext = { ...context };
}
