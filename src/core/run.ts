/**
 * One run, in order (DESIGN.md section 2):
 * log_init (each) -> metrics_collector -> kernels -> model_loader -> tokenizer_loader -> model_patcher (each) ->
 * log_model -> dataset_loader -> dataset_formatter -> log_dataset -> log_hyperparameters ->
 * log_training_start -> trainer [trainable_parameters, compute_loss; per step: on_step_end, (on_evaluate),
 * log_step, log_metrics, (on_save)] -> log_training_end -> finish (each initialized plugin, reverse order, also
 * after a failure) -> collectors finalized.
 *
 * Also: `prepareRun`, which loads, validates and resolves a config without calling any hook.
 */

import path from 'node:path';
import { HookBus, activatePlugins, type ActivePlugin, type HookFailure, type TraceEntry } from './bus.js';
import { checkTopLevelKeys, loadConfig, validatePluginSections, type LoadedConfig } from './config.js';
import { DumboError, type ErrorLocation } from './errors.js';
import { getLogger, type Logger } from './logger.js';
import { loadConfiguredPlugins, type LoadedPlugin, type LoaderOptions } from './loader.js';
import type { RunInfo } from './context.js';
import { getMetricsRegistry, isMetricsCollector } from './metrics.js';
import { resolvePlugins } from './resolver.js';
import { setRunContext } from './shared.js';
import type {
  Dataset,
  DatasetInfo,
  KernelRegistry,
  Model,
  ModelInfo,
  StepInfo,
  Tokenizer,
  TrainerContext,
  TrainerControl,
  TrainingSummary,
} from './types.js';

export interface PreparedRun {
  config: LoadedConfig;
  plugins: LoadedPlugin[];
}

export interface PrepareOptions extends LoaderOptions {
  /** The folder the config's relative paths are relative to (default: the config file's own). */
  configDir?: string;
}

/** Loads the config and its plugins, validates every section and resolves capabilities. No hook runs. */
export async function prepareRun(configFile: string, options: PrepareOptions = {}): Promise<PreparedRun> {
  const config = await loadConfig(configFile, { dir: options.configDir });
  return checkPreparedRun(config, await loadConfiguredPlugins(config, options));
}

/**
 * prepareRun's checks of a config and its loaded plugins (also the worker's, on unsaved text): top-level
 * keys, each section against its schema, capabilities. Several errors are thrown at once (ConfigErrors).
 */
export function checkPreparedRun(config: LoadedConfig, plugins: LoadedPlugin[]): PreparedRun {
  const errors = [
    ...checkTopLevelKeys(config, plugins),
    ...validatePluginSections(config, plugins),
    ...resolvePlugins(plugins, config),
  ];
  if (errors.length > 0) throw errors.length === 1 ? errors[0]! : new ConfigErrors(errors);
  return { config, plugins };
}

/** Several config errors at once; each is printed on its own line. */
export class ConfigErrors extends DumboError {
  constructor(readonly errors: DumboError[]) {
    super(errors.map((e) => e.message).join('; '), { location: errors[errors.length - 1]!.location });
    this.name = 'ConfigErrors';
  }
}

export type RunStatus = 'pending' | 'running' | 'stopping' | 'stopped' | 'completed' | 'failed' | 'crashed';

export interface RunOptions {
  onTrace?: (entry: TraceEntry) => void;
  /** Called as each hook call starts (the run host's parent watches for hooks that do not return). */
  onCallStart?: (call: { hook: string; plugin: string; start: number }) => void;
  /** True once the user asked to stop; checked between phases and by the trainer between micro-batches. */
  stopRequested?: () => boolean;
  runFolder?: string;
  logger?: Logger;
  /** Called after each optimizer step's `log_step` (the run host streams progress to its parent with it). */
  onStep?: (step: StepInfo) => void;
  /** What every plugin's context says beyond what the config says (`runInfoOf`): the backend, a dry run. */
  run?: Partial<Omit<RunInfo, 'runFolder'>>;
  /** The engine's kernel table: when given, the `kernels` hook fills it before the model is loaded. */
  kernels?: KernelRegistry;
}

export interface RunOutcome {
  status: 'completed' | 'stopped' | 'failed';
  error?: unknown;
  summary?: TrainingSummary;
  /** Observer hooks that failed; they never change the status or the exit code. */
  failures: HookFailure[];
  hasTrainer: boolean;
}

/** What a config says about its run: its file and folder, and its seed (top-level `seed:`, default DEFAULT_SEED). */
export function runInfoOf(config: LoadedConfig): RunInfo {
  return {
    // The file that was loaded (a resumed run loads its run folder's copy; its relative paths stay the
    // original's, which `configDir` keeps).
    configFile: path.resolve(config.file),
    configDir: config.dir,
    seed: config.run.seed,
  };
}

/** Flattens nested sections into dotted keys, as TensorBoard and W&B show hyperparameters. */
export function flattenConfig(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      Object.assign(out, flattenConfig(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

class StopRequested extends Error {}

/**
 * Where a plugin's failure points in the config: the field its message names (`training.batch_size: 16 is
 * more than ...` points at batch_size), else the plugin's section, else its entry in `plugins:`.
 */
export function pluginLocator(config: LoadedConfig): (p: ActivePlugin, message?: string) => ErrorLocation {
  return (p, message) => {
    const key = p.meta.configKey;
    const field =
      message && new RegExp(`(?:^|[\\s:(])${escapeRegExp(key)}\\.([A-Za-z_]\\w*(?:\\.[A-Za-z_]\\w*)*)`).exec(message);
    if (field && config.data[key] !== undefined) return config.locate([key, ...field[1]!.split('.')]);
    return config.locate(config.data[key] !== undefined ? [key] : ['plugins', p.entryIndex], { key: true });
  };
}

export async function runLifecycle(prepared: PreparedRun, options: RunOptions = {}): Promise<RunOutcome> {
  const { config } = prepared;
  const logger = options.logger ?? getLogger('dumbo');
  const stopRequested = options.stopRequested ?? (() => false);
  const registry = getMetricsRegistry();
  const plugins = activatePlugins(prepared.plugins);
  const run: RunInfo = { ...runInfoOf(config), ...options.run, runFolder: options.runFolder };
  const bus = new HookBus(plugins, {
    onTrace: options.onTrace,
    onCallStart: options.onCallStart,
    logger,
    locate: pluginLocator(config),
    run,
  });
  // Plugins written before the context read the run through the process-wide getRunContext(): keep it true.
  setRunContext({ runFolder: run.runFolder, configFile: run.configFile, seed: run.seed, dryRunRows: run.dryRunRows });
  const section = (p: ActivePlugin) => config.section(p.meta.configKey);
  const checkStop = () => {
    if (stopRequested()) throw new StopRequested();
  };
  const hasTrainer = bus.implementers('trainer').length > 0;
  // Plugins whose log_init turn has come are "initialized": finish is owed to exactly these.
  const initialized: ActivePlugin[] = [];
  let summary: TrainingSummary | undefined;
  let status: RunOutcome['status'] = 'completed';
  let error: unknown;

  try {
    for (const p of plugins) {
      initialized.push(p);
      await bus.observe('log_init', () => [section(p)], [p]);
    }
    for (const { value } of await bus.observe('metrics_collector', () => [])) {
      if (isMetricsCollector(value)) registry.register(value);
    }
    checkStop();

    if (options.kernels) await bus.pipe('kernels', options.kernels, (_p, k) => [k]);
    let model: Model | undefined = (await bus.first('model_loader', (p) => [section(p)]))?.value;
    const tokenizer: Tokenizer | undefined = (await bus.first('tokenizer_loader', (p) => [section(p), model]))?.value;
    if (model) {
      model = await bus.pipe('model_patcher', model, (p, m) => [m, section(p)]);
      const info: ModelInfo = model.info?.() ?? { architecture: model.architecture };
      await bus.observe('log_model', () => [info]);
      await registry.logModelInfo(info);
    }
    checkStop();

    let dataset: Dataset | undefined = (await bus.first('dataset_loader', (p) => [section(p), tokenizer]))?.value;
    if (dataset) {
      dataset = await bus.pipe('dataset_formatter', dataset, (p, d) => [d, section(p), tokenizer]);
      const info: DatasetInfo = dataset.info?.() ?? { rows: dataset.train.length, evalRows: dataset.eval?.length };
      await bus.observe('log_dataset', () => [info]);
    }
    checkStop();

    const { plugins: _names, ...rest } = config.data;
    const hparams = flattenConfig(rest);
    await bus.observe('log_hyperparameters', () => [hparams]);
    await registry.logHyperparameters(hparams);
    checkStop();

    if (!hasTrainer) {
      logger.info('no plugin provides a trainer: nothing to train (add one, e.g. transformers_trainer, to plugins:)');
    } else {
      await bus.observe('log_training_start', () => [config.data]);
      const trained = await bus.exclusive('trainer', (p) => [
        trainerContext(bus, {
          model,
          tokenizer,
          dataset,
          config: section(p),
          fullConfig: config.data,
          runFolder: options.runFolder,
          stopRequested,
          reportStep: async (step, metrics, { log = true } = {}) => {
            await bus.observe('log_step', () => [step]);
            options.onStep?.(step);
            if (log) {
              await bus.observe('log_metrics', () => [metrics, step.step]);
              await registry.logMetrics(metrics);
            }
            // A training step keeps the event loop busy; yielding once per step lets the host read a stop
            // request (or any message) between steps. The trainer also polls stopRequested() itself.
            await new Promise((resolve) => setImmediate(resolve));
          },
        }),
      ]);
      summary = trained?.value;
      if (summary) await bus.observe('log_training_end', () => [summary!]);
      if (summary?.stopped) status = 'stopped';
    }
  } catch (e) {
    if (e instanceof StopRequested) {
      status = 'stopped';
    } else {
      status = 'failed';
      error = e;
    }
  } finally {
    await bus.observe('finish', () => [], [...initialized].reverse());
    await registry.finalize();
    // One run per registry: the next run in this process starts with no collectors.
    registry.clear();
  }
  return { status, error, summary, failures: bus.failures, hasTrainer };
}

/** The training-time hooks a trainer calls, on top of what it is given. */
type TrainerHooks = Pick<TrainerContext, 'trainableParameters' | 'computeLoss' | 'onStepEnd' | 'onEvaluate' | 'onSave'>;

const CONTROL_KEYS = ['should_stop', 'should_save', 'should_evaluate', 'should_log'] as const;

/** The OR of callbacks' controls: each `should_*` that any of them set to true (anything else is ignored). */
export function mergeControls(...controls: (TrainerControl | void | undefined)[]): TrainerControl {
  const out: TrainerControl = {};
  for (const c of controls) {
    if (!c || typeof c !== 'object') continue;
    for (const key of CONTROL_KEYS) if (c[key] === true) out[key] = true;
  }
  return out;
}

/** A trainer's context: the given pieces plus its hooks, called through `bus` (as `context.emit` would). */
export function trainerContext(
  bus: HookBus,
  base: Omit<TrainerContext, keyof TrainerHooks>,
): TrainerContext & TrainerHooks {
  const controls = (values: { value: TrainerControl | void }[]) => mergeControls(...values.map((v) => v.value));
  return {
    ...base,
    trainableParameters: async (params, model) =>
      (await bus.pipe('trainable_parameters', params, (_p, v) => [v, model])) as typeof params,
    computeLoss: async (loss) => (await bus.pipe('compute_loss', loss, (_p, v) => [v])) as typeof loss,
    onStepEnd: async (state) => controls(await bus.observe('on_step_end', () => [state])),
    onEvaluate: async (report, state) => controls(await bus.observe('on_evaluate', () => [report, state])),
    onSave: async (checkpoint, state) => controls(await bus.observe('on_save', () => [checkpoint, state])),
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
