/**
 * The SDK types that plugins hand to each other through hooks: Model, Tokenizer, Dataset, Trainer and the
 * infos given to observers. They are interfaces, not classes, so a plugin built against another copy of the
 * SDK (or written in plain JS) fits them by shape. Documented for plugin authors in docs/plugins.md.
 */

import type { HookReturn } from './hooks.js';
import type { MetricEvent } from './metrics.js';
import type { ModelInfo } from './records.js';

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

export type { ModelInfo, ModelTensorInfo } from './records.js';

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
   * events to every registered collector, in that order. `{ log: false }` calls `log_step` only (a step the
   * trainer's logging interval skips).
   */
  reportStep(step: StepInfo, metrics: MetricEvent[], options?: { log?: boolean }): Promise<void>;
  /** True once the user asked the run to stop; check it between micro-batches. */
  stopRequested(): boolean;
  /**
   * The training-time hooks, called by the trainer at its points (the same calls as `context.emit`):
   * `trainableParameters` and `computeLoss` once before the first step, the callbacks as HF's `TrainerCallback`.
   * Each callback resolves to the OR of every plugin's control. The run always gives them; they are optional
   * so that a context built by hand (a trainer's own tests) needs none.
   */
  trainableParameters?<P>(params: ReadonlyMap<string, P>, model: Model): Promise<ReadonlyMap<string, P>>;
  computeLoss?<L extends LossFunction>(defaultLoss: L): Promise<L>;
  onStepEnd?(state: TrainerState): Promise<TrainerControl>;
  onEvaluate?(report: EvalReport, state: TrainerState): Promise<TrainerControl>;
  onSave?(checkpoint: SavedCheckpoint, state: TrainerState): Promise<TrainerControl>;
}

/** The object a `trainer` hook works with, for plugins that keep a trainer around. */
export interface Trainer {
  train(context: TrainerContext): HookReturn<TrainingSummary>;
}

/** What a callback may ask of the training loop after a step, an evaluation or a save (HF `TrainerControl`). */
export interface TrainerControl {
  /** Stop after this step (a checkpoint is saved as at the end; the summary says `earlyStopped`). */
  should_stop?: boolean;
  /** Save a checkpoint after this step. */
  should_save?: boolean;
  /** Evaluate after this step (then `on_evaluate` is called). */
  should_evaluate?: boolean;
  /** Send this step's metrics to `log_metrics` even if the logging interval would skip them. */
  should_log?: boolean;
}

/** The training loop's state as callbacks see it (HF `TrainerState`). */
export interface TrainerState {
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  /** Fractional epochs done. */
  epoch: number;
  /** The last step's mean loss. */
  loss?: number;
  /** The last step's learning rate. */
  lr?: number;
  /** Every evaluation so far, oldest first (kept in checkpoints, so a resumed run sees the same history). */
  evaluations: readonly { step: number; loss: number }[];
  /** The lowest eval loss so far. */
  bestEvalLoss?: number;
}

/** One evaluation, as `on_evaluate` receives it. */
export interface EvalReport {
  step: number;
  /** Eval metrics by name: `eval/loss`, `eval/perplexity`, ... */
  metrics: Record<string, number>;
}

/** A checkpoint just written, as `on_save` receives it. */
export interface SavedCheckpoint {
  step: number;
  /** Its folder. */
  dir: string;
}

/**
 * A training step's loss, as the `compute_loss` hook passes it along: `(model, batch, options)` -> the mean
 * loss as a scalar tensor and the number of units it is the mean over (predicted tokens for the causal LM
 * loss, preference pairs for DPO). The trainer sums `loss * weight` over micro-batches and divides by the total
 * weight. Its concrete types (the engine's model, batch and tensors) are `EngineLossFunction` in `dumbo/engine`.
 */
export type LossFunction = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  model: any,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  batch: any,
  options: { training: boolean; seed?: number },
) => { loss: unknown; weight: number };

/** What the `kernels` hook receives: the engine's table of replaceable ops. */
export interface KernelRegistry {
  /** The ops a plugin may replace. */
  names(): string[];
  /** Replaces op `name` with `impl` (the default's signature) on the listed tfjs backends (absent: all). */
  register(name: string, impl: (...args: never[]) => unknown, options?: { backends?: string[]; plugin?: string }): void;
}

/**
 * What the `estimate` hook passes along: facts about a run that its plugins own. The model loader fills in
 * `modelConfig`; a formatter its `maxLength`; the trainer `batchSize`, `gradientAccumulation`, `seqLen` and
 * `steps` (it may call `trainRows()`, which runs the data path, to count steps from the data).
 */
export interface EstimateFacts {
  /** The model's Hugging Face config.json, as it will be built. */
  modelConfig?: Record<string, unknown>;
  /** The model's context length, once known from `modelConfig`. */
  maxPositions?: number;
  /** The longest sequence the formatter makes. */
  maxLength?: number;
  /** Rows in the formatted training set (loads and formats the data; asked only when needed). */
  trainRows(): Promise<number>;
  /** Rows per micro-batch. */
  batchSize?: number;
  /** Micro-batches per optimizer step. */
  gradientAccumulation?: number;
  /** Tokens per row of a batch. */
  seqLen?: number;
  /** Optimizer steps the run will take. */
  steps?: number;
  [fact: string]: unknown;
}
