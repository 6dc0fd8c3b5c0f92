/**
 * The hook table: every hook a plugin may implement, when it runs, its arguments, and what `Ok` and `Err`
 * mean for it. The meaning of a hook's result is written on its type here and nowhere else.
 *
 * Calling rules (see bus.ts):
 * - `first`:    plugins are asked in `plugins:` order; the first `Ok` wins and later ones are not asked.
 *               If every implementer returns `Err`, the run stops with all their errors.
 * - `pipe`:     every implementer in order; each receives the previous one's `Ok` value. An `Err` stops the run.
 * - `observe`:  every implementer is called; an `Err` (or a throw) is logged with the plugin's name, counted,
 *               and the run goes on. The run's exit code is unaffected.
 * - `exclusive`: the one plugin providing the hook's capability is called; an `Err` stops the run.
 *
 * Adding a hook (for a plugin that wants its own extension point): augment `HookSpecs` by declaration merging
 * and register its calling rule with `defineHook` before plugins are activated:
 *
 *   declare module 'dumbo' { interface HookSpecs { my_eval(report: EvalReport): HookReturn<void> } }
 *   defineHook('my_eval', { mode: 'observe', description: 'after each evaluation' });
 */

import type { Result } from './result.js';
import { sharedState } from './shared.js';
import type { MetricsCollector, MetricEvent } from './metrics.js';
import type {
  Dataset,
  DatasetInfo,
  DumboConfig,
  Model,
  ModelInfo,
  PluginConfig,
  StepInfo,
  Tokenizer,
  TrainerContext,
  TrainingSummary,
} from './types.js';

/** A hook may return a Result or a promise of one. A hook that throws counts as returning `Err`. */
export type HookReturn<T> = Result<T> | Promise<Result<T>>;

export interface HookSpecs {
  /** Loads the model (rule `first`). Ok(model): used, no later loader is asked. Err: this plugin cannot load
   *  it; the next loader is asked. All Err: the run stops. */
  model_loader(config: PluginConfig): HookReturn<Model>;
  /** Loads the tokenizer after the model (rule `first`), same meaning as `model_loader`. */
  tokenizer_loader(config: PluginConfig, model?: Model): HookReturn<Tokenizer>;
  /** Patches the model, each patcher in order (rule `pipe`). Ok(model): the patched model goes on to the
   *  next patcher. Err: the run stops. */
  model_patcher(model: Model, config: PluginConfig): HookReturn<Model>;
  /** Loads the dataset (rule `first`), after the model is patched. Same meaning as `model_loader`. */
  dataset_loader(config: PluginConfig, tokenizer?: Tokenizer): HookReturn<Dataset>;
  /** Formats the loaded dataset into what the trainer consumes, each formatter in order (rule `pipe`).
   *  Ok(dataset): passed on. Err: the run stops. */
  dataset_formatter(dataset: Dataset, config: PluginConfig, tokenizer?: Tokenizer): HookReturn<Dataset>;
  /** Trains (rule `exclusive`: at most one plugin provides `trainer`). Ok(summary): training finished or
   *  was stopped on request (`summary.stopped`). Err: the run failed. */
  trainer(context: TrainerContext): HookReturn<TrainingSummary>;

  /** Initializes logging, each plugin, first of all (rule `observe`). Err is reported; the run goes on. */
  log_init(config: PluginConfig): HookReturn<void>;
  /** The model is loaded and patched (rule `observe`). */
  log_model(modelInfo: ModelInfo): HookReturn<void>;
  /** The dataset is loaded and formatted (rule `observe`). */
  log_dataset(datasetInfo: DatasetInfo): HookReturn<void>;
  /** Before training, with the flattened config (rule `observe`). */
  log_hyperparameters(hparams: Record<string, unknown>): HookReturn<void>;
  /** Training starts; receives the whole resolved config (rule `observe`). */
  log_training_start(config: DumboConfig): HookReturn<void>;
  /** Training ended, completed or stopped (rule `observe`). */
  log_training_end(summary: TrainingSummary): HookReturn<void>;
  /** After every optimizer step, before `log_metrics` (rule `observe`). */
  log_step(stepInfo: StepInfo): HookReturn<void>;
  /** The step's metrics (rule `observe`). */
  log_metrics(metrics: MetricEvent[], step: number): HookReturn<void>;
  /** After `log_init`: Ok(collector) registers it with the metrics registry (rule `observe`). */
  metrics_collector(): HookReturn<MetricsCollector>;
  /** Cleanup: every initialized plugin, in reverse order, also after a failure (rule `observe`). */
  finish(): HookReturn<void>;
}

export type HookName = keyof HookSpecs & string;
export type HookMode = 'first' | 'pipe' | 'observe' | 'exclusive';

export interface HookSpec {
  mode: HookMode;
  /** When it runs, in a few words, shown by `dumbo plugins` and in the docs. */
  description: string;
}

/** What a plugin's `hooks()` returns: any subset of the table; a hook may take fewer arguments. */
export type PluginHooks = { [H in HookName]?: HookSpecs[H] };

/** The seed's hooks plus the data/training hooks. A mapped type: forgetting one is a compile error. */
const BUILTIN_HOOKS: { [H in HookName]: HookSpec } = {
  log_init: { mode: 'observe', description: 'initialize logging (each plugin)' },
  metrics_collector: { mode: 'observe', description: 'after init: return a collector to register' },
  model_loader: { mode: 'first', description: 'load the model' },
  tokenizer_loader: { mode: 'first', description: 'load the tokenizer' },
  model_patcher: { mode: 'pipe', description: 'patch the model (each patcher, in order)' },
  log_model: { mode: 'observe', description: 'model info known' },
  dataset_loader: { mode: 'first', description: 'load the dataset' },
  dataset_formatter: { mode: 'pipe', description: 'format the dataset (each formatter, in order)' },
  log_dataset: { mode: 'observe', description: 'dataset info known' },
  log_hyperparameters: { mode: 'observe', description: 'before training' },
  log_training_start: { mode: 'observe', description: 'training starts' },
  trainer: { mode: 'exclusive', description: 'train the model' },
  log_step: { mode: 'observe', description: 'every optimizer step' },
  log_metrics: { mode: 'observe', description: 'metrics logged' },
  log_training_end: { mode: 'observe', description: 'training ends' },
  finish: { mode: 'observe', description: 'cleanup, always, also after a failure (reverse order)' },
};

const shared = sharedState();
shared.hooks ??= new Map<string, HookSpec>(Object.entries(BUILTIN_HOOKS));
/** Shared by every SDK copy, so a hook defined through one copy is known to the bus of another. */
const registry = shared.hooks as Map<string, HookSpec>;

/** Registers a hook added by declaration merging. Redefining a hook with another mode is an error. */
export function defineHook(name: string, spec: HookSpec): void {
  const existing = registry.get(name);
  if (existing && existing.mode !== spec.mode) {
    throw new Error(`hook '${name}' is already defined with mode '${existing.mode}'`);
  }
  registry.set(name, spec);
}

export function getHookSpec(name: string): HookSpec | undefined {
  return registry.get(name);
}

export function hookNames(): string[] {
  return [...registry.keys()];
}

/** Capabilities that at most one loaded plugin may provide. */
export const EXCLUSIVE_CAPABILITIES: ReadonlySet<string> = new Set(['trainer']);
