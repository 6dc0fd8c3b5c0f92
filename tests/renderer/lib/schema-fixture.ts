// A catalog as the editor gets it from listPlugins, cut down: a trainer, LoRA and two plugins that share the
// model: section, their sections made from JSON Schemas the way the worker makes them (fieldDoc).

import type { PluginCard } from '../../../src/shared/api.js';
import { fieldDoc, fieldDocs } from '../../../src/shared/field-docs.js';
import { configSchema, type ConfigSchema } from '../../../src/renderer/src/lib/yaml-schema.js';

export const TRAINING = {
  type: 'object',
  properties: {
    learning_rate: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 5e-4,
      description: 'Above 0 and below 1 (typical: 1e-5 to 1e-3).',
    },
    lr_scheduler: { enum: ['linear', 'cosine', 'constant'], default: 'linear' },
    batch_size: { type: 'integer', minimum: 1, default: 8 },
    max_steps: { type: 'integer', minimum: 1, description: 'Optimizer steps; overrides epochs.' },
    epochs: { type: 'integer', minimum: 1, default: 1 },
    warmup_steps: { type: 'integer', minimum: 0, default: 0 },
    shuffle: { type: 'boolean', default: true },
  },
  additionalProperties: false,
} as const;

export const LORA = {
  type: 'object',
  properties: {
    r: { type: 'integer', minimum: 1, description: 'Rank of the adapters (default 8).' },
    lora_alpha: { type: 'number', exclusiveMinimum: 0, description: 'Scaling numerator.' },
  },
  additionalProperties: false,
} as const;

const MODEL = {
  type: 'object',
  properties: { base_model: { type: 'string', description: 'A model folder.' }, init: { enum: ['pretrained'] } },
  additionalProperties: false,
} as const;

export const RUN = {
  type: 'object',
  properties: {
    plugins: { type: 'array', items: { type: 'string' }, description: 'The plugins of the run.' },
    name: { type: 'string' },
    seed: { type: 'integer', default: 42 },
    webgpu: {
      type: 'object',
      properties: { allow_software: { type: 'boolean' } },
      additionalProperties: false,
    },
  },
  required: ['plugins'],
  additionalProperties: false,
} as const;

export function card(
  folder: string,
  configKey: string,
  schema: object | undefined,
  more: Partial<PluginCard> = {},
): PluginCard {
  return {
    id: `builtin:${folder}:${more.className ?? 'X'}`,
    folder,
    name: folder,
    className: 'X',
    configKey,
    source: 'builtin',
    location: `/plugins/${folder}`,
    provides: [],
    requires: [],
    conflicts: [],
    ...(schema ? { section: fieldDoc(configKey, schema) } : {}),
    ...more,
  };
}

export const CARDS: PluginCard[] = [
  card('transformers', 'model', MODEL, { className: 'ModelLoader', provides: ['model_loader'] }),
  card('transformers', 'model', MODEL, { className: 'TokenizerLoader', provides: ['tokenizer_loader'] }),
  card('transformers_trainer', 'training', TRAINING, {
    provides: ['trainer'],
    description: 'Trains the model: AdamW, schedules, accumulation, clipping, eval, checkpoints, resume.',
  }),
  card('lora', 'lora', LORA, { description: 'LoRA adapters as PEFT makes them.' }),
  card('console_logger', 'console_logger', undefined, { provides: ['logging'] }),
];

/** The schema of a config that uses the given folders' plugins (by their cards' ids). */
export function schemaUsing(...folders: string[]): ConfigSchema {
  const used = CARDS.filter((c) => folders.includes(c.folder)).map((c) => c.id);
  return configSchema(CARDS, used, fieldDocs(RUN));
}
