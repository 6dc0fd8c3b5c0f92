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
  /** Token ids of `text`; special tokens are added as the tokenizer's own config says unless told otherwise. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
  /** Special tokens by role (`bos_token`, `eos_token`, `pad_token`, `unk_token`), as strings. */
  readonly specialTokens?: Record<string, string>;
  /** The tokenizer's Jinja chat template (tokenizer_config.json `chat_template`), if it has one. */
  readonly chatTemplate?: string;
}

/**
 * Rows of a dataset. As loaded (`dataset_loader`), rows hold the file's columns (`text`, or prompt and
 * response fields, ...). Once formatted (`dataset_formatter`), each row is a `TokenizedRow`, which is what
 * trainers consume.
 */
export interface Dataset {
  readonly train: readonly Record<string, unknown>[];
  readonly eval?: readonly Record<string, unknown>[];
  info?(): DatasetInfo;
}

/** A formatted training example: token ids and labels of the same length (-100 = not predicted). */
export interface TokenizedRow {
  input_ids: number[];
  labels: number[];
  [key: string]: unknown;
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
