/**
 * The `dataset:` section: its JSON Schema (each option declared once, with its default and description) and
 * the options the loader works from. Ajv checks the section against the schema and fills in the defaults
 * before the hook runs; what a schema cannot say is checked here: options that go together or exclude
 * each other, and the run's seed when the section has none.
 */
import { defineSchema, Err, Ok, type FromSchema, type PluginConfig, type Result } from 'dumbo';

export const FORMATS = ['jsonl', 'json', 'csv', 'parquet', 'text'] as const;
export type FileFormat = (typeof FORMATS)[number];

const fileList = (description: string) =>
  ({
    description,
    anyOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    ],
  }) as const;

export const datasetSchema = defineSchema({
  type: 'object',
  properties: {
    path: fileList(
      'Training data: a file or glob (*, ?, **), or a list of them, relative to the config file. Files are ' +
        'read in sorted order.',
    ),
    format: {
      type: 'string',
      enum: ['auto', ...FORMATS],
      default: 'auto',
      description:
        'File format; auto goes by extension (.jsonl/.ndjson, .json, .csv/.tsv, .parquet/.pq, .txt/.text/.md).',
    },
    text_split: {
      type: 'string',
      enum: ['line', 'paragraph', 'document'],
      default: 'line',
      description:
        'For text files: one row per non-empty line, per paragraph (blocks between blank lines), or per file.',
    },
    text_field: {
      type: 'string',
      minLength: 1,
      default: 'text',
      description: "Column holding the text (rows get it as 'text'); unused with prompt/response or messages.",
    },
    prompt_field: {
      type: 'string',
      minLength: 1,
      description: "Column holding the prompt (rows get it as 'prompt'); set together with response_field.",
    },
    response_field: {
      type: 'string',
      minLength: 1,
      description: "Column holding the response (rows get it as 'response'); set together with prompt_field.",
    },
    messages_field: {
      type: 'string',
      minLength: 1,
      description: "Column holding chat messages, a list of { role, content } (rows get it as 'messages').",
    },
    eval_path: fileList('Evaluation data: a file or glob, or a list of them, read like path. Excludes eval_fraction.'),
    eval_fraction: {
      type: 'number',
      minimum: 0,
      maximum: 0.5,
      default: 0,
      description: 'Share of the rows of path held out for evaluation, chosen with the seed (0: no evaluation set).',
    },
    shuffle: {
      type: 'boolean',
      default: true,
      description: 'Shuffle the training rows (seeded, the same on every machine).',
    },
    seed: {
      type: 'integer',
      description: "Seed of the shuffle and the evaluation split; the run's seed when left out (42 without one).",
    },
    limit: {
      type: 'integer',
      minimum: 1,
      description: 'Use at most this many rows of path (a seeded sample when shuffled), before the split.',
    },
    null_rows: {
      type: 'string',
      enum: ['error', 'skip'],
      default: 'error',
      description: 'A row with a null or missing value: stop with an error naming it, or skip it with a warning.',
    },
    stats_rows: {
      type: 'integer',
      minimum: 1,
      default: 10000,
      description: 'Training rows measured for the length statistics of the dataset info (the first ones).',
    },
  },
  required: ['path'],
  additionalProperties: false,
});

/** The `dataset:` section once validated: every option with a default is there. */
export type DatasetSection = FromSchema<typeof datasetSchema>;
export type TextSplit = DatasetSection['text_split'];
export type NullRows = DatasetSection['null_rows'];

/** Which file columns become which row fields. */
export type Fields =
  | { kind: 'text'; text: string }
  | { kind: 'pair'; prompt: string; response: string }
  | { kind: 'messages'; messages: string };

/** The section with its file lists, column names and seed settled. */
export type Options = Omit<DatasetSection, 'path' | 'eval_path' | 'seed'> & {
  paths: string[];
  evalPaths: string[];
  fields: Fields;
  seed: number;
};

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The options of a section that passed the schema; `runSeed` (the context's) is the seed when it has none. */
export function readOptions(config: PluginConfig, runSeed: number): Result<Options> {
  // Checked against datasetSchema, with its defaults, before any hook runs (validatePluginSections).
  const section = config as DatasetSection;
  const { path, eval_path, seed, prompt_field, response_field, messages_field, ...rest } = section;
  let fields: Fields;
  if (messages_field !== undefined) {
    if (prompt_field !== undefined || response_field !== undefined)
      return Err(new Error('set either dataset.messages_field or dataset.prompt_field + dataset.response_field'));
    fields = { kind: 'messages', messages: messages_field };
  } else if (prompt_field !== undefined || response_field !== undefined) {
    if (prompt_field === undefined || response_field === undefined)
      return Err(new Error('dataset.prompt_field and dataset.response_field go together: set both'));
    fields = { kind: 'pair', prompt: prompt_field, response: response_field };
  } else {
    fields = { kind: 'text', text: section.text_field };
  }
  const evalPaths = list(eval_path);
  if (section.eval_fraction > 0 && evalPaths.length > 0)
    return Err(new Error('set either dataset.eval_path or dataset.eval_fraction, not both'));
  return Ok({ ...rest, paths: list(path), evalPaths, fields, seed: seed ?? runSeed });
}
