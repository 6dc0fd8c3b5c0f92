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
 * The bus's methods are typed by rule (`bus.first('log_init')` does not compile), as Rollup's `hookFirst`.
 *
 * Adding a hook (for a plugin that wants its own extension point): augment `HookSpecs` and `HookModes` by
 * declaration merging and register its calling rule with `defineHook` before plugins are activated; the
 * plugin then calls it with `context.emit` (context.ts):
 *
 *   declare module 'dumbo' {
 *     interface HookSpecs { my_eval(report: EvalReport): HookReturn<void> }
 *     interface HookModes { my_eval: 'observe' }
 *   }
 *   defineHook('my_eval', { mode: 'observe', description: 'after each evaluation' });
 */

import type { Result } from './result.js';
import { sharedState } from './shared.js';
import type { MetricsCollector, MetricEvent } from './metrics.js';
import type { PluginContext } from './context.js';
import type {
  Dataset,
  DatasetInfo,
  DumboConfig,
  EstimateFacts,
  EvalReport,
  KernelRegistry,
  LossFunction,
  Model,
  ModelInfo,
  PluginConfig,
  SavedCheckpoint,
  StepInfo,
  Tokenizer,
  TrainerContext,
  TrainerControl,
  TrainerState,
  TrainingSummary,
} from './types.js';

/** A hook may return a Result or a promise of one. A hook that throws counts as returning `Err`. */
export type HookReturn<T> = Result<T> | Promise<Result<T>>;

/**
 * The hooks, with their arguments. Each hook also receives the plugin context (context.ts) as its last
 * argument, after the ones written here; `PluginHooks` below says so to the compiler.
 */
export interface HookSpecs {
  /** Registers fused kernels before any model is built (rule `pipe`): `registry.register(op, impl)` replaces
   *  one of the engine's ops (liger's fused norms, attention, ...). Ok(registry): passed on. Err: the run
   *  stops (a model silently built without the kernels asked for would be a different run). */
  kernels(registry: KernelRegistry): HookReturn<KernelRegistry>;
  /** Loads the model (rule `first`). Ok(model): used, no later loader is asked. Err: this plugin cannot load
   *  it; the next loader is asked. All Err: the run stops. */
  model_loader(config: PluginConfig): HookReturn<Model>;
  /** Loads the tokenizer after the model (rule `first`), same meaning as `model_loader`. */
  tokenizer_loader(config: PluginConfig, model: Model | undefined): HookReturn<Tokenizer>;
  /** Patches the model, each patcher in order (rule `pipe`). Ok(model): the patched model goes on to the
   *  next patcher. Err: the run stops. */
  model_patcher(model: Model, config: PluginConfig): HookReturn<Model>;
  /** Loads the dataset (rule `first`), after the model is patched. Same meaning as `model_loader`. */
  dataset_loader(config: PluginConfig, tokenizer: Tokenizer | undefined): HookReturn<Dataset>;
  /** Formats the loaded dataset into what the trainer consumes, each formatter in order (rule `pipe`).
   *  Ok(dataset): passed on. Err: the run stops. */
  dataset_formatter(dataset: Dataset, config: PluginConfig, tokenizer: Tokenizer | undefined): HookReturn<Dataset>;
  /** Trains (rule `exclusive`: at most one plugin provides `trainer`). Ok(summary): training finished or
   *  was stopped on request (`summary.stopped`). Err: the run failed. */
  trainer(context: TrainerContext): HookReturn<TrainingSummary>;

  /** Called by the trainer once before its first step (rule `pipe`): the parameters the optimizer trains,
   *  name -> the engine's variable. A plugin may remove some (freeze them) or add its own (adapters it
   *  attached to the model). Ok(params): passed on. Err: the run stops. */
  trainable_parameters(params: ReadonlyMap<string, unknown>, model: Model): HookReturn<ReadonlyMap<string, unknown>>;
  /** Called by the trainer once before its first step (rule `pipe`): the loss function of a training step;
   *  the trainer passes its default (causal LM cross-entropy). A plugin may wrap or replace it (DPO).
   *  Ok(fn): passed on. Err: the run stops. */
  compute_loss(loss: LossFunction): HookReturn<LossFunction>;
  /** After each optimizer step, before evaluation and logging (rule `observe`). Ok(control) steers the loop:
   *  stop, save, evaluate or log now (the controls of every callback are OR-ed). */
  on_step_end(state: TrainerState): HookReturn<TrainerControl | void>;
  /** After each evaluation (rule `observe`), with its metrics. Ok(control) steers the loop. */
  on_evaluate(report: EvalReport, state: TrainerState): HookReturn<TrainerControl | void>;
  /** After each checkpoint is written (rule `observe`). Ok(control) steers the loop. */
  on_save(checkpoint: SavedCheckpoint, state: TrainerState): HookReturn<TrainerControl | void>;
  /** What a run will cost, asked before it starts (rule `pipe`, asked of the model loader, then the dataset
   *  plugins, then the trainer): each plugin fills in the facts it owns. Ok(facts): passed on. */
  estimate(facts: EstimateFacts, config: PluginConfig): HookReturn<EstimateFacts>;

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

export type HookMode = 'first' | 'pipe' | 'observe' | 'exclusive';

/**
 * Each hook's calling rule, for the compiler: the bus's `first` takes only `first` hooks, and so on. A plugin
 * that adds a hook to `HookSpecs` adds its rule here too (declaration merging), and registers it at run time
 * with `defineHook`, whose `mode` must match.
 */
// Open for declaration merging: empty here, it is the built-in rules plus those plugins add.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface HookModes extends BuiltinHookModes {}

/** The built-in hooks' rules (closed: the table below must name each one; `HookModes` is the open one). */
export interface BuiltinHookModes {
  kernels: 'pipe';
  model_loader: 'first';
  tokenizer_loader: 'first';
  model_patcher: 'pipe';
  dataset_loader: 'first';
  dataset_formatter: 'pipe';
  trainer: 'exclusive';
  trainable_parameters: 'pipe';
  compute_loss: 'pipe';
  on_step_end: 'observe';
  on_evaluate: 'observe';
  on_save: 'observe';
  estimate: 'pipe';
  log_init: 'observe';
  log_model: 'observe';
  log_dataset: 'observe';
  log_hyperparameters: 'observe';
  log_training_start: 'observe';
  log_training_end: 'observe';
  log_step: 'observe';
  log_metrics: 'observe';
  metrics_collector: 'observe';
  finish: 'observe';
}

export type HookName = keyof HookSpecs & string;
/** A hook's calling rule; any rule for a hook added to `HookSpecs` but not to `HookModes`. */
export type ModeOf<H extends HookName> = H extends keyof HookModes ? HookModes[H] : HookMode;
/** The hooks called by rule `M` (only those whose rule is known to the compiler). */
export type HooksOfMode<M extends HookMode> = { [H in HookName]: [ModeOf<H>] extends [M] ? H : never }[HookName];
export type FirstHook = HooksOfMode<'first'>;
export type PipeHook = HooksOfMode<'pipe'>;
export type ObserveHook = HooksOfMode<'observe'>;
export type ExclusiveHook = HooksOfMode<'exclusive'>;

/** A hook's own arguments (without the context). */
export type HookArgs<H extends HookName> = Parameters<HookSpecs[H]>;
/** What a hook's `Ok` carries. */
export type HookValue<H extends HookName> = Awaited<ReturnType<HookSpecs[H]>> extends Result<infer T> ? T : never;

/** What `emit` returns, by the hook's rule: every Ok value (observe), the value piped through (pipe), the
 *  winning value or undefined (first, exclusive). */
export type EmitResult<H extends HookName> =
  ModeOf<H> extends 'observe' ? HookValue<H>[] : ModeOf<H> extends 'pipe' ? HookValue<H> : HookValue<H> | undefined;

/**
 * Who calls a hook: `run` hooks are called by the run itself (the lifecycle: loaders, `trainer`, `log_*`,
 * `finish`); `trainer` hooks by the trainer plugin through its context; `plugin` hooks are ones a plugin
 * defined and calls. A plugin's `emit` may call `trainer` and `plugin` hooks, never `run` hooks.
 */
export type HookCaller = 'run' | 'trainer' | 'plugin';

export interface HookSpec {
  mode: HookMode;
  /** When it runs, in a few words, shown by `dumbo plugins` and in the docs. */
  description: string;
  /** Who calls it (default for hooks added with `defineHook`: `plugin`). */
  caller?: HookCaller;
}

/** What a plugin's `hooks()` returns: any subset of the table. A hook may declare fewer arguments; the
 *  last one it is given is always the plugin context. */
export type PluginHooks = {
  [H in HookName]?: (...args: [...HookArgs<H>, PluginContext]) => ReturnType<HookSpecs[H]>;
};

/** The seed's hooks plus the data/training hooks. A mapped type: forgetting one is a compile error. */
const BUILTIN_HOOKS: { [H in keyof BuiltinHookModes]: HookSpec & { mode: BuiltinHookModes[H]; caller: HookCaller } } = {
  log_init: { mode: 'observe', caller: 'run', description: 'initialize logging (each plugin)' },
  metrics_collector: { mode: 'observe', caller: 'run', description: 'after init: return a collector to register' },
  kernels: { mode: 'pipe', caller: 'run', description: 'register fused kernels, before the model is built' },
  model_loader: { mode: 'first', caller: 'run', description: 'load the model' },
  tokenizer_loader: { mode: 'first', caller: 'run', description: 'load the tokenizer' },
  model_patcher: { mode: 'pipe', caller: 'run', description: 'patch the model (each patcher, in order)' },
  log_model: { mode: 'observe', caller: 'run', description: 'model info known' },
  dataset_loader: { mode: 'first', caller: 'run', description: 'load the dataset' },
  dataset_formatter: { mode: 'pipe', caller: 'run', description: 'format the dataset (each formatter, in order)' },
  log_dataset: { mode: 'observe', caller: 'run', description: 'dataset info known' },
  log_hyperparameters: { mode: 'observe', caller: 'run', description: 'before training' },
  log_training_start: { mode: 'observe', caller: 'run', description: 'training starts' },
  trainer: { mode: 'exclusive', caller: 'run', description: 'train the model' },
  trainable_parameters: { mode: 'pipe', caller: 'trainer', description: 'choose the parameters to train' },
  compute_loss: { mode: 'pipe', caller: 'trainer', description: 'wrap or replace the loss function' },
  on_step_end: { mode: 'observe', caller: 'trainer', description: 'after each step: may stop/save/evaluate/log' },
  on_evaluate: { mode: 'observe', caller: 'trainer', description: 'after each evaluation: may steer' },
  on_save: { mode: 'observe', caller: 'trainer', description: 'after each checkpoint: may steer' },
  log_step: { mode: 'observe', caller: 'trainer', description: 'every optimizer step' },
  log_metrics: { mode: 'observe', caller: 'trainer', description: 'metrics logged' },
  log_training_end: { mode: 'observe', caller: 'run', description: 'training ends' },
  estimate: { mode: 'pipe', caller: 'run', description: "answer the cost estimate's questions" },
  finish: { mode: 'observe', caller: 'run', description: 'cleanup, always, also after a failure (reverse order)' },
};

const shared = sharedState();
shared.hooks ??= new Map<string, HookSpec>();
/** Shared by every SDK copy, so a hook defined through one copy is known to the bus of another. */
const registry = shared.hooks as Map<string, HookSpec>;
// A newer SDK copy may know hooks an older one did not: add them, never replace a registered spec.
for (const [name, spec] of Object.entries(BUILTIN_HOOKS)) if (!registry.has(name)) registry.set(name, spec);

/**
 * Registers a hook added by declaration merging (`HookSpecs` and `HookModes`). Redefining a hook with another
 * mode is an error. Call it at module top level of the plugin that owns the hook, so it is registered before
 * plugins are activated.
 */
export function defineHook<H extends HookName>(name: H, spec: HookSpec & { mode: ModeOf<H> }): void;
export function defineHook(name: string, spec: HookSpec): void;
export function defineHook(name: string, spec: HookSpec): void {
  const existing = registry.get(name);
  if (existing && existing.mode !== spec.mode) {
    throw new Error(`hook '${name}' is already defined with mode '${existing.mode}'`);
  }
  // Who calls a hook is the table's to say for a built-in one: redefining `finish` does not make it emittable.
  registry.set(name, { ...spec, caller: existing?.caller ?? spec.caller ?? 'plugin' });
}

export function getHookSpec(name: string): HookSpec | undefined {
  return registry.get(name);
}

export function hookNames(): string[] {
  return [...registry.keys()];
}

/** Capabilities that at most one loaded plugin may provide. */
export const EXCLUSIVE_CAPABILITIES: ReadonlySet<string> = new Set(['trainer']);
