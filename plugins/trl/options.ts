/**
 * The `trl:` section: its JSON Schema (each option declared once, with its default and description, named as
 * TRL's SFTConfig and DPOConfig name them), the options type derived from it, and the checks a schema cannot
 * say (an option of one method set for the other). Ajv checks the section and fills in the defaults before
 * any hook runs.
 */
import { defineSchema, Err, Ok, type FromSchema, type Result } from 'dumbo';

export const trlSchema = defineSchema({
  type: 'object',
  properties: {
    method: {
      type: 'string',
      enum: ['sft', 'dpo'],
      default: 'sft',
      description:
        'sft: supervised fine-tuning on prompt/completion or chat (messages) rows; dpo: direct preference ' +
        'optimization on prompt/chosen/rejected rows.',
    },
    path: {
      type: 'string',
      minLength: 1,
      description:
        "A JSONL file of rows in TRL's formats (every field kept), relative to the config file; trl then loads " +
        'the dataset itself. Left out: another dataset_loader (polars) loads it. Preference rows need it: polars ' +
        'keeps only text, prompt/response or messages columns.',
    },
    eval_path: {
      type: 'string',
      minLength: 1,
      description: 'A JSONL file of evaluation rows, read like path (only with path).',
    },
    max_length: {
      type: 'integer',
      minimum: 1,
      default: 1024,
      description:
        'Longest sequence in tokens (prompt and completion): longer examples are cut at the end; with packing, ' +
        'the length of every sequence.',
    },
    chat_template: {
      type: 'string',
      minLength: 1,
      description:
        "A Jinja chat template used instead of the tokenizer's (TRL's chat_template_path), for tokenizers " +
        'without one. It gets messages, add_generation_prompt and the special tokens (bos_token, eos_token).',
    },
    completion_only_loss: {
      type: 'boolean',
      default: true,
      description: 'SFT on prompt/completion rows: train on the completion only (prompt labels are -100).',
    },
    assistant_only_loss: {
      type: 'boolean',
      default: true,
      description: "SFT on chat rows: train on the assistant turns only (every other token's label is -100).",
    },
    packing: {
      type: 'boolean',
      default: false,
      description:
        'SFT: concatenate the examples and cut them into sequences of exactly max_length tokens; the last, ' +
        'partial sequence is dropped.',
    },
    beta: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.1,
      description: "DPO: how far the policy may move from the reference model (the loss's temperature).",
    },
    precompute_ref_log_probs: {
      type: 'boolean',
      default: false,
      description:
        "DPO: compute every row's reference log-probabilities once before training (no reference forward in " +
        'the steps), instead of at every step.',
    },
    precompute_ref_batch_size: {
      type: 'integer',
      minimum: 1,
      default: 8,
      description: 'DPO: pairs per forward pass when precomputing the reference log-probabilities.',
    },
    disable_dropout: {
      type: 'boolean',
      default: true,
      description: "DPO: run the policy without dropout, as the reference runs (TRL's default).",
    },
  },
  additionalProperties: false,
});

/** The `trl:` section once validated: every option with a default is there. */
export type TrlOptions = FromSchema<typeof trlSchema>;
export type TrlOptionKey = keyof typeof trlSchema.properties;

/** The options that only one method reads, with that method. */
const METHOD_OF: Partial<Record<TrlOptionKey, TrlOptions['method']>> = {
  packing: 'sft',
};

/**
 * What the schema cannot say: an option of one method turned on for the other (`trl.packing: ...`), and
 * `eval_path` without `path`.
 */
export function checkOptions(o: TrlOptions): Result<TrlOptions> {
  for (const [key, method] of Object.entries(METHOD_OF)) {
    if (o[key as TrlOptionKey] === true && o.method !== method) {
      return Err(new Error(`trl.${key}: applies to method: ${method} only, and this section has method: ${o.method}`));
    }
  }
  if (o.eval_path !== undefined && o.path === undefined) {
    return Err(new Error('trl.eval_path: set path too (eval_path is read only when trl loads the dataset itself)'));
  }
  return Ok(o);
}

/** `text` about option `key` as the run locates it: `trl.KEY: text`. */
export function aboutOption(key: TrlOptionKey, text: string): Error {
  return new Error(`trl.${key}: ${text}`);
}
