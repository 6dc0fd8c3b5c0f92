/**
 * transformers_trainer: the training loop (`trainer` hook) for models loaded by the transformers plugin and
 * datasets formatted into input_ids/labels (jinja_formatter). AdamW, warmup + linear/cosine/constant
 * schedules, gradient accumulation, clipping, evaluation, checkpoints, resume, early stopping, samples.
 * At the end the model is saved as a Hugging Face folder in `<run folder>/final/`.
 */
import path from 'node:path';
import { BasePlugin, Err, getLogger, getRunContext, Ok, type TrainerContext } from 'dumbo';
import {
  generate,
  isEngineModel,
  isTokenizedRow,
  NonFiniteError,
  resolveResume,
  savePretrained,
  train,
  type EngineTokenizer,
  type ScheduleKind,
} from 'dumbo/engine';

const log = getLogger('transformers_trainer');

/** The `training:` section once the schema has filled in its defaults. */
interface TrainingSection {
  learning_rate: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  warmup_steps: number;
  lr_scheduler: ScheduleKind;
  batch_size: number;
  gradient_accumulation_steps: number;
  max_grad_norm: number;
  max_steps?: number;
  epochs: number;
  max_length?: number;
  shuffle: boolean;
  seed?: number;
  eval_every: number;
  eval_batches: number;
  save_every: number;
  keep_last: number;
  early_stopping_patience: number;
  sample_every: number;
  sample_prompt: string;
  sample_max_new_tokens: number;
  sample_temperature: number;
  sample_at_end: boolean;
}

export class TransformersTrainer extends BasePlugin {
  static configKey = 'training';
  static provides = ['trainer'];
  static requires = ['model_loader'];
  static description = 'Trains the model: AdamW, schedules, accumulation, clipping, eval, checkpoints, resume.';
  static version = '1.0.0';
  static configSchema = {
    type: 'object',
    properties: {
      learning_rate: {
        type: 'number',
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
        default: 5e-4,
        description: 'Above 0 and below 1 (typical: 1e-5 to 1e-3).',
      },
      weight_decay: { type: 'number', minimum: 0, default: 0.01 },
      adam_beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
      adam_beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.999 },
      adam_epsilon: { type: 'number', exclusiveMinimum: 0, default: 1e-8 },
      warmup_steps: { type: 'integer', minimum: 0, default: 0 },
      lr_scheduler: { enum: ['linear', 'cosine', 'constant'], default: 'linear' },
      batch_size: { type: 'integer', minimum: 1, default: 8 },
      gradient_accumulation_steps: { type: 'integer', minimum: 1, default: 1 },
      max_grad_norm: { type: 'number', minimum: 0, default: 1.0, description: '0 turns clipping off.' },
      max_steps: { type: 'integer', minimum: 1, description: 'Optimizer steps; overrides epochs.' },
      epochs: { type: 'integer', minimum: 1, default: 1 },
      max_length: {
        type: 'integer',
        minimum: 2,
        description:
          "Longest sequence in a batch, at most the model's context (default: 256, or the context if shorter).",
      },
      shuffle: { type: 'boolean', default: true },
      seed: { type: 'integer', description: 'Default: the config-wide seed.' },
      eval_every: {
        type: 'integer',
        minimum: 0,
        default: 0,
        description: 'Evaluate every N steps (0: at the end only).',
      },
      eval_batches: { type: 'integer', minimum: 0, default: 0, description: 'Batches per evaluation (0: all).' },
      save_every: { type: 'integer', minimum: 0, default: 0, description: 'Checkpoint every N steps (0: at the end).' },
      keep_last: { type: 'integer', minimum: 0, default: 2, description: 'Checkpoints kept (0: all).' },
      early_stopping_patience: {
        type: 'integer',
        minimum: 0,
        default: 0,
        description: 'Evaluations without improvement before stopping (0: never).',
      },
      sample_every: { type: 'integer', minimum: 0, default: 0, description: 'Log a generated sample every N steps.' },
      sample_prompt: { type: 'string', default: '' },
      sample_max_new_tokens: { type: 'integer', minimum: 1, default: 48 },
      sample_temperature: { type: 'number', minimum: 0, default: 0.8 },
      sample_at_end: { type: 'boolean', default: true, description: 'Print a sample when training ends.' },
    },
    additionalProperties: false,
  };

  hooks() {
    return { trainer: (ctx: TrainerContext) => this.train(ctx) };
  }

  async train(ctx: TrainerContext) {
    const c = ctx.config as unknown as TrainingSection;
    const model = ctx.model;
    if (!isEngineModel(model)) {
      return Err(new Error('no trainable model: add the transformers plugin (model_loader) to plugins:'));
    }
    const rows = ctx.dataset?.train ?? [];
    if (rows.length === 0) return Err(new Error('no training data: add a dataset_loader plugin (polars) to plugins:'));
    if (!isTokenizedRow(rows[0])) {
      return Err(
        new Error('the dataset rows have no input_ids/labels: add a dataset_formatter (jinja_formatter) to plugins:'),
      );
    }
    // Numbers that validate alone but not with this model and data: said before the first step, at their line.
    const context = model.lm.maxPositions;
    if (c.max_length !== undefined && c.max_length > context) {
      return Err(
        new Error(
          `training.max_length: ${c.max_length} is more than the model's context of ${context} positions (lower it to at most ${context})`,
        ),
      );
    }
    if (c.batch_size > rows.length) {
      return Err(
        new Error(
          `training.batch_size: ${c.batch_size} is more than the ${rows.length} training row(s): not one full batch (lower it, or add data)`,
        ),
      );
    }
    const seed = c.seed ?? getRunContext().seed ?? 42;
    const resumeFrom = ctx.fullConfig.resume_from as string | undefined;
    const configDir = path.dirname(getRunContext().configFile ?? path.join(process.cwd(), 'x'));
    try {
      const summary = await train(
        {
          lm: model.lm,
          tokenizer: ctx.tokenizer,
          train: rows as never,
          eval: ctx.dataset?.eval as never,
          runFolder: ctx.runFolder,
          log,
          reportStep: ctx.reportStep,
          stopRequested: ctx.stopRequested,
        },
        {
          learningRate: c.learning_rate,
          weightDecay: c.weight_decay,
          beta1: c.adam_beta1,
          beta2: c.adam_beta2,
          eps: c.adam_epsilon,
          warmupSteps: c.warmup_steps,
          schedule: c.lr_scheduler,
          batchSize: c.batch_size,
          gradAccumulation: c.gradient_accumulation_steps,
          maxGradNorm: c.max_grad_norm,
          maxSteps: c.max_steps,
          epochs: c.epochs,
          maxLength: c.max_length ?? Math.min(256, context),
          seed,
          shuffle: c.shuffle,
          evalEvery: c.eval_every,
          evalBatches: c.eval_batches,
          saveEvery: c.save_every,
          keepLast: c.keep_last,
          earlyStoppingPatience: c.early_stopping_patience,
          sampleEvery: c.sample_every,
          samplePrompt: c.sample_prompt,
          sampleMaxNewTokens: c.sample_max_new_tokens,
          sampleTemperature: c.sample_temperature,
          resumeFrom: resumeFrom && ctx.runFolder ? resolveResume(resumeFrom, ctx.runFolder, configDir) : undefined,
        },
      );
      if (ctx.runFolder) {
        await savePretrained(model.lm, path.join(ctx.runFolder, 'final'), ctx.tokenizer as EngineTokenizer | undefined);
        log.info(`saved the model to ${path.join(ctx.runFolder, 'final')}`);
      }
      if (c.sample_at_end && ctx.tokenizer) {
        const tok = ctx.tokenizer;
        const prompt = tok.encode(c.sample_prompt, { addSpecialTokens: false });
        const start = prompt.length > 0 ? prompt : tok.bosTokenId !== undefined ? [tok.bosTokenId] : [];
        if (start.length > 0) {
          const ids = await generate(model.lm, start, {
            maxNewTokens: c.sample_max_new_tokens,
            temperature: c.sample_temperature,
            eosTokenId: tok.eosTokenId,
            seed,
          });
          const sample = c.sample_prompt + tok.decode(ids, { skipSpecialTokens: true });
          log.info(`sample: ${sample}`);
          summary.sample = sample;
        }
      }
      return Ok(summary);
    } catch (error) {
      if (error instanceof NonFiniteError) return Err(error);
      return Err(error as Error);
    }
  }
}

export const AVAILABLE_PLUGINS = [TransformersTrainer];
