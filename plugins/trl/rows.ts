/**
 * What SFT and DPO share about rows: telling a field's kind (text or a list of chat messages), naming a row's
 * fields in messages, the tokenizer seen with the section's `chat_template`, and turning a conversational
 * prompt and completion into the two texts the chat template makes of them (as TRL's
 * `maybe_apply_chat_template`: the prompt with the generation prompt, the completion as what the whole
 * conversation adds after it).
 */
import { Template } from '@huggingface/jinja';
import { Err, errorMessage, Ok, type Dataset, type Result, type Tokenizer } from 'dumbo';
import type { FormatterOptions } from '../jinja_formatter/index.js';
import { aboutOption, type TrlOptions } from './options.js';

export type Row = Readonly<Record<string, unknown>>;
export type Message = Readonly<Record<string, unknown>> & { role: string };

/** `prompt, completion` — or `no fields` — for messages about a row. */
export function fieldsOf(row: Row): string {
  const keys = Object.keys(row);
  return keys.length ? keys.join(', ') : 'no fields';
}

export function has(row: Row, field: string): boolean {
  return Object.hasOwn(row, field) && row[field] !== undefined && row[field] !== null;
}

/** A list of chat messages (objects with a string `role`), as TRL's `is_conversational` tells one. */
export function isMessages(v: unknown): v is Message[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((m) => m !== null && typeof m === 'object' && typeof (m as Message).role === 'string')
  );
}

/** How a field reads: text, a message list, or something a row must not hold there. */
export function valueKind(v: unknown): 'text' | 'messages' | 'other' {
  if (typeof v === 'string') return 'text';
  return isMessages(v) ? 'messages' : 'other';
}

/** How a dataset's rows are told apart: each row's kind, the kind of train row 0, and their names. */
export interface RowKinds<K extends string> {
  of(row: Row): Result<K, string>;
  expected: K;
  names: Record<K, string>;
}

/**
 * A dataset's kind of rows (train row 0 decides, as in TRL) and the run's chat template, which the kinds that
 * `needChat` may not lack.
 */
export function datasetKinds<K extends string>(
  dataset: Dataset,
  o: TrlOptions,
  tok: Tokenizer,
  kinds: Omit<RowKinds<K>, 'expected'> & { needChat(kind: K): boolean },
): Result<{ kinds: RowKinds<K>; chat: ChatTemplate | undefined }> {
  const first = dataset.train[0];
  if (first === undefined) return Err(new Error('the dataset has no train rows'));
  const kind = kinds.of(first);
  if (!kind.ok) return Err(new Error(`train row 0: ${kind.error}`));
  const chat = ChatTemplate.of(o, tok);
  if (!chat.ok) return chat;
  if (kinds.needChat(kind.value) && !chat.value) return Err(ChatTemplate.missing(`${kinds.names[kind.value]} rows`));
  return Ok({ kinds: { of: kinds.of, names: kinds.names, expected: kind.value }, chat: chat.value });
}

/** The row if it is an object of the dataset's kind (a dataset holds one kind of rows, as in TRL). */
function ofKind<K extends string>(row: unknown, kinds: RowKinds<K>): Result<Row, string> {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return Err('a row must be an object of fields');
  const k = kinds.of(row as Row);
  if (!k.ok) return k;
  if (k.value === kinds.expected) return Ok(row as Row);
  const { names, expected } = kinds;
  return Err(
    `a ${names[k.value]} row in a dataset of ${names[expected]} rows (as train row 0): a dataset holds one kind of rows`,
  );
}

/** `map` of each row of a split, once checked to be of the dataset's kind; an error names the split and row. */
export function mapRows<K extends string, T>(
  rows: readonly unknown[],
  split: string,
  kinds: RowKinds<K>,
  map: (row: Row) => Result<T, string>,
): Result<T[]> {
  const out: T[] = [];
  for (const [i, row] of rows.entries()) {
    const checked = ofKind(row, kinds);
    const r: Result<T, string> = checked.ok ? map(checked.value) : Err(checked.error);
    if (!r.ok) return Err(new Error(`${split} row ${i}: ${r.error}`));
    out.push(r.value);
  }
  return Ok(out);
}

/** The jinja formatter's options for the rows trl hands it (`{prompt, response}` or `{messages}`). */
export function formatterOptions(o: TrlOptions, set: Partial<FormatterOptions>): FormatterOptions {
  const fields = { text_field: 'text', prompt_field: 'prompt', response_field: 'response', messages_field: 'messages' };
  return {
    ...fields,
    use_chat_template: false,
    mask_prompt: true,
    max_length: o.max_length,
    truncation: 'truncate',
    packing: false,
    ...set,
  };
}

/** The tokenizer with `template` as its chat template (the jinja formatter reads `chatTemplate`). */
export function withChatTemplate(tok: Tokenizer, template: string | undefined): Tokenizer {
  return {
    vocabSize: tok.vocabSize,
    encode: (text, options) => tok.encode(text, options),
    decode: (ids, options) => tok.decode(ids, options),
    eosTokenId: tok.eosTokenId,
    bosTokenId: tok.bosTokenId,
    padTokenId: tok.padTokenId,
    specialTokens: tok.specialTokens,
    chatTemplate: template,
  };
}

/** The chat template of a run: the section's `chat_template`, else the tokenizer's. */
export class ChatTemplate {
  private constructor(
    readonly source: string,
    private readonly template: Template,
    private readonly special: Record<string, string>,
  ) {}

  /** Ok(undefined) when there is no template at all: only rows that need one fail, saying so. */
  static of(o: TrlOptions, tok: Tokenizer): Result<ChatTemplate | undefined> {
    const source = o.chat_template ?? tok.chatTemplate;
    if (source === undefined) return Ok(undefined);
    try {
      return Ok(new ChatTemplate(source, new Template(source), tok.specialTokens ?? {}));
    } catch (error) {
      const what = o.chat_template !== undefined ? 'syntax error' : "the tokenizer's chat template has a syntax error";
      return Err(aboutOption('chat_template', `${what}: ${errorMessage(error)}`));
    }
  }

  /** The error of a row that needs a chat template when the run has none. */
  static missing(what: string): Error {
    return aboutOption(
      'chat_template',
      `${what} need a chat template, and the tokenizer has none (tokenizer_config.json chat_template): ` +
        'set chat_template to a Jinja template',
    );
  }

  render(messages: readonly Message[], addGenerationPrompt: boolean): Result<string, string> {
    try {
      const out = this.template.render({
        ...this.special,
        bos_token: this.special.bos_token ?? '',
        eos_token: this.special.eos_token ?? '',
        messages,
        add_generation_prompt: addGenerationPrompt,
      });
      return Ok(out);
    } catch (error) {
      return Err(`chat template error: ${errorMessage(error)}`);
    }
  }

  /**
   * A conversational prompt and completion as texts: the prompt rendered with the generation prompt, and the
   * completion as what rendering the whole conversation adds after it.
   */
  split(prompt: readonly Message[], completion: readonly Message[], field: string): Result<[string, string], string> {
    const head = this.render(prompt, true);
    if (!head.ok) return head;
    const whole = this.render([...prompt, ...completion], false);
    if (!whole.ok) return whole;
    if (!whole.value.startsWith(head.value)) {
      return Err(
        `the chat template's rendering of prompt + ${field} does not start with its rendering of the prompt ` +
          '(with the generation prompt), so the prompt cannot be masked',
      );
    }
    return Ok([head.value, whole.value.slice(head.value.length)]);
  }
}
