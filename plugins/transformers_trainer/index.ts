/**
 * transformers_trainer: the training loop (`trainer` hook) for models loaded by the transformers plugin and
 * datasets formatted into input_ids/labels (jinja_formatter). AdamW, warmup + linear/cosine/constant
 * schedules, gradient accumulation, clipping, evaluation, checkpoints, resume, samples; the training-time
 * hooks (trainable_parameters, compute_loss, on_step_end/on_evaluate/on_save) come through its context.
 * At the end the model is saved as a Hugging Face folder in `<run folder>/final/`. Its section's schema and
 * type are the engine's (TRAINING_SCHEMA): the loop reads the section as the user wrote it.
 */
import path from 'node:path';
import {
  BasePlugin,
  Err,
  Ok,
  type EstimateFacts,
  type PluginContext,
  type PluginHooks,
  type TrainerContext,
} from 'dumbo';
import {
  earlyStopping,
  isEngineModel,
  isTokenizedRow,
  resolveResume,
  sampleText,
  savePretrained,
  stepsPerEpoch,
  train,
  TRAINING_SCHEMA,
  type EngineTokenizer,
  type TrainingConfig,
} from 'dumbo/engine';

export class TransformersTrainer extends BasePlugin {
  static configKey = 'training';
  static provides = ['trainer'];
  static requires = ['model_loader'];
  static description = 'Trains the model: AdamW, schedules, accumulation, clipping, eval, checkpoints, resume.';
  static version = '1.0.0';
  static configSchema = TRAINING_SCHEMA;

  hooks(): PluginHooks {
    return {
      trainer: (ctx, plugin) => this.train(ctx, plugin),
      estimate: (facts, config) => this.estimate(facts, config as TrainingConfig),
    };
  }

  /** The estimate's training facts, counted as `train` counts them (one stepsPerEpoch for both). */
  async estimate(facts: EstimateFacts, c: TrainingConfig) {
    const seqLen = Math.min(c.max_length ?? 256, facts.maxLength ?? Infinity, facts.maxPositions ?? Infinity);
    const accumulation = c.gradient_accumulation_steps;
    const steps = c.max_steps ?? stepsPerEpoch(await facts.trainRows(), c.batch_size, accumulation) * c.epochs;
    return Ok({ ...facts, batchSize: c.batch_size, gradientAccumulation: accumulation, seqLen, steps });
  }

  async train(ctx: TrainerContext, plugin: PluginContext) {
    // Validated against TRAINING_SCHEMA, defaults filled in, before any hook ran.
    const c = ctx.config as TrainingConfig;
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
    const log = plugin.logger;
    const seed = c.seed ?? plugin.seed;
    const resumeFrom = ctx.fullConfig.resume_from as string | undefined;
    // `early_stopping_patience` predates the early_stopping plugin: the same callback, applied here.
    const patience = earlyStopping(c.early_stopping_patience);
    const onEvaluate: TrainerContext['onEvaluate'] = async (report, state) => {
      const control = (await ctx.onEvaluate?.(report, state)) ?? {};
      if (patience(state).should_stop && !control.should_stop) {
        log.info(`early stopping: eval loss has not improved for ${c.early_stopping_patience} evaluations`);
        return { ...control, should_stop: true };
      }
      return control;
    };
    try {
      const summary = await train(
        {
          lm: model.lm,
          model,
          tokenizer: ctx.tokenizer,
          train: rows as never,
          eval: ctx.dataset?.eval as never,
          runFolder: ctx.runFolder,
          log,
          seed,
          resumeFrom:
            resumeFrom && ctx.runFolder ? resolveResume(resumeFrom, ctx.runFolder, plugin.configDir) : undefined,
          reportStep: ctx.reportStep,
          stopRequested: ctx.stopRequested,
          hooks: {
            trainableParameters: ctx.trainableParameters,
            computeLoss: ctx.computeLoss,
            onStepEnd: ctx.onStepEnd,
            onEvaluate,
            onSave: ctx.onSave,
          },
        },
        c,
      );
      if (ctx.runFolder) {
        const final = path.join(ctx.runFolder, 'final');
        await savePretrained(model.lm, final, ctx.tokenizer as EngineTokenizer | undefined);
        log.info(`saved the model to ${final}`);
      }
      if (c.sample_at_end && ctx.tokenizer) {
        const sample = await sampleText(model.lm, ctx.tokenizer, c.sample_prompt, {
          maxNewTokens: c.sample_max_new_tokens,
          temperature: c.sample_temperature,
          seed,
        });
        log.info(`sample: ${sample.text}`);
        summary.sample = sample.text;
      }
      return Ok(summary);
    } catch (error) {
      return Err(error as Error);
    }
  }
}

export const AVAILABLE_PLUGINS = [TransformersTrainer];
