/**
 * The `formatter:` section: its JSON Schema (each option declared once, with its default and description),
 * the options type derived from it, and how a message names the option it is about. Ajv checks the section
 * against the schema and fills in the defaults before the hook runs; what a schema cannot say (a template
 * that must parse, a tokenizer that must have the token asked for) is checked where it is used.
 */
import { defineSchema, type FromSchema } from 'dumbo';

export const formatterSchema = defineSchema({
  type: 'object',
  properties: {
    template: {
      type: 'string',
      minLength: 1,
      description:
        "Jinja template of the prompt, rendered with the row's fields (e.g. '### Question: {{ prompt }}\\n### Answer: '); " +
        "the response is appended after it. 'chat': use the tokenizer's chat template. Left out: text rows as " +
        'they are, the prompt field as is, chat rows with the chat template.',
    },
    use_chat_template: {
      type: 'boolean',
      default: false,
      description:
        "Format every row with the tokenizer's chat template (same as template: chat); prompt/response rows " +
        'become a user and an assistant message.',
    },
    text_field: { type: 'string', minLength: 1, default: 'text', description: 'Field of plain-text rows.' },
    prompt_field: { type: 'string', minLength: 1, default: 'prompt', description: 'Field of the prompt.' },
    response_field: {
      type: 'string',
      minLength: 1,
      default: 'response',
      description: 'Field of the response (appended after the rendered prompt).',
    },
    messages_field: {
      type: 'string',
      minLength: 1,
      default: 'messages',
      description: 'Field of chat rows: a list of {role, content} messages.',
    },
    mask_prompt: {
      type: 'boolean',
      default: true,
      description:
        'Completion-only loss: labels of the prompt (of everything but the assistant turns in chats) are -100.',
    },
    add_bos: {
      type: 'boolean',
      description:
        'Put the BOS token first. Left out: as the tokenizer does when adding special tokens; never for chats (the chat template writes it).',
    },
    add_eos: {
      type: 'boolean',
      description:
        'End each example with the EOS token. Left out: yes when the tokenizer has one, except for chats (the chat template ends the turns).',
    },
    max_length: {
      type: 'integer',
      minimum: 1,
      default: 256,
      description: 'Longest example in tokens; with packing, the length of every sequence.',
    },
    truncation: {
      type: 'string',
      enum: ['truncate', 'drop'],
      default: 'truncate',
      description:
        'Examples longer than max_length: cut to max_length (truncate) or left out (drop). With packing, ' +
        'truncate does nothing: a long example goes on in the next sequence.',
    },
    packing: {
      type: 'boolean',
      default: false,
      description:
        'Concatenate the examples and cut them into sequences of exactly max_length tokens; the last, partial sequence is dropped.',
    },
  },
  additionalProperties: false,
});

/** The `formatter:` section once validated: every option with a default is there. */
export type FormatterOptions = FromSchema<typeof formatterSchema>;
export type OptionKey = keyof typeof formatterSchema.properties;

/** The options naming a row field, each with the field it names by default. */
export const FIELD_OPTIONS = ['text_field', 'prompt_field', 'response_field', 'messages_field'] as const;

export function defaultField(key: (typeof FIELD_OPTIONS)[number]): string {
  return formatterSchema.properties[key].default;
}

/** `text` about option `key`, when there is one: `key: text` (the row's index goes after the key). */
export function about(key: string | undefined, text: string): string {
  return key ? `${key}: ${text}` : text;
}

/** The option a message `KEY: text` (as `about` writes it) is about, and the text; undefined for others. */
export function aboutWhich(message: string): { key: OptionKey; text: string } | undefined {
  const m = /^(\w+): ([\s\S]*)$/.exec(message);
  return m && Object.hasOwn(formatterSchema.properties, m[1]!) ? { key: m[1] as OptionKey, text: m[2]! } : undefined;
}
