/**
 * The SDK types that plugins hand to each other through hooks: Model, Tokenizer, Dataset, Trainer and the
 * infos given to observers. They are interfaces, not classes, so a plugin built against another copy of the
 * SDK (or written in plain JS) fits them by shape. Documented for plugin authors in docs/plugins.md.
 */

import type { HookReturn } from './hooks.js';
import type { MetricEvent } from './metrics.js';

/** A plugin's own YAML section (`{}` when the config has none). */
export type PluginConfig = Record<string, unknown>;

/** The whole resolved config file. */
export interface DumboConfig {
  plugins: string[];
  [section: string]: unknown;
}

/** A language model ready to train: what `model_loader` returns and `model_patcher` transforms. */
export interface Model {
  /** Hugging Face architecture name, e.g. `GPT2LMHeadModel`. */
  readonly architecture: string;
  /** The model's config (a Hugging Face `config.json`, parsed). */
  readonly config: Record<string, unknown>;
  /** What `log_model` receives; a loader fills in what it knows. */
  info?(): ModelInfo;
}

export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
}

/** Rows of a dataset as loaded (`dataset_loader`), or token ids once formatted (`dataset_formatter`). */
export interface Dataset {
  readonly train: readonly Record<string, unknown>[];
  readonly eval?: readonly Record<string, unknown>[];
  info?(): DatasetInfo;
}

export interface ModelInfo {
  architecture: string;
  layers?: number;
  parametersTotal?: number;
  parametersTrainable?: number;
  bytes?: number;
  dtype?: string;
  backend?: string;
  [key: string]: unknown;
}

export interface DatasetInfo {
  rows: number;
  evalRows?: number;
  columns?: string[];
  [key: string]: unknown;
}

/** One optimizer step, as given to `log_step`. */
export interface StepInfo {
  step: number;
  totalSteps?: number;
  epoch?: number;
  loss?: number;
  [key: string]: unknown;
}

/** What a trainer returns and `log_training_end` receives. */
export interface TrainingSummary {
  steps: number;
  finalLoss?: number;
  stopped?: boolean;
  [key: string]: unknown;
}

/** Everything a `trainer` hook gets: the loaded pieces, its section, and the way to report each step. */
export interface TrainerContext {
  model: Model | undefined;
  tokenizer: Tokenizer | undefined;
  dataset: Dataset | undefined;
  /** The trainer's own YAML section. */
  config: PluginConfig;
  /** The whole resolved config. */
  fullConfig: DumboConfig;
  /** The run folder (checkpoints go under it), when the run has one. */
  runFolder?: string;
  /**
   * Reports one finished optimizer step: calls `log_step` then `log_metrics` on every plugin and sends the
   * events to every registered collector, in that order.
   */
  reportStep(step: StepInfo, metrics: MetricEvent[]): Promise<void>;
  /** True once the user asked the run to stop; check it between micro-batches. */
  stopRequested(): boolean;
}

/** The object a `trainer` hook works with, for plugins that keep a trainer around. */
export interface Trainer {
  train(context: TrainerContext): HookReturn<TrainingSummary>;
}
