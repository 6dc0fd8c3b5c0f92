/**
 * The `training:` section of a run, declared once: this JSON Schema validates it (with its defaults filled in
 * by Ajv before any hook runs), builds its form in the editor, and gives the loop its type
 * (`TrainingConfig`), so the loop reads the section as the user wrote it, with no second list of fields.
 */

import { defineSchema, type FromSchema } from '../core/index.js';

export const TRAINING_SCHEMA = defineSchema({
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
    log_every: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Send the metrics to the loggers every N steps (and at the last step).',
    },
    eval_every: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Evaluate every N steps and at the last step (0: never).',
    },
    eval_batches: { type: 'integer', minimum: 0, default: 0, description: 'Batches per evaluation (0: all).' },
    save_every: { type: 'integer', minimum: 0, default: 0, description: 'Checkpoint every N steps (0: at the end).' },
    keep_last: { type: 'integer', minimum: 0, default: 2, description: 'Checkpoints kept (0: all).' },
    early_stopping_patience: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description:
        'Evaluations without improvement before stopping (0: never). Kept for old configs: the early_stopping plugin does the same, with min_delta.',
    },
    sample_every: { type: 'integer', minimum: 0, default: 0, description: 'Log a generated sample every N steps.' },
    sample_prompt: {
      type: 'string',
      default: '',
      description: 'Empty: samples start from the BOS token (or EOS where there is no BOS).',
    },
    sample_max_new_tokens: { type: 'integer', minimum: 1, default: 48 },
    sample_temperature: { type: 'number', minimum: 0, default: 0.8 },
    sample_at_end: { type: 'boolean', default: true, description: 'Print a sample when training ends.' },
  },
  additionalProperties: false,
});

/** The `training:` section after validation (defaults filled in). */
export type TrainingConfig = FromSchema<typeof TRAINING_SCHEMA>;

/** Every default of the schema: the section of a config that sets nothing (tests, the bench, scripts). */
export function trainingDefaults(overrides: Partial<TrainingConfig> = {}): TrainingConfig {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(TRAINING_SCHEMA.properties)) {
    if ('default' in field) out[key] = field.default;
  }
  return { ...(out as TrainingConfig), ...overrides };
}
