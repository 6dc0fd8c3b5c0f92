/**
 * jinja_formatter: turns loaded rows (`{text}`, `{prompt, response}` or chat `{messages}`) into the
 * `TokenizedRow`s (`input_ids` + `labels`, -100 = not predicted) that trainers consume (`dataset_formatter`).
 *
 * - `{text}` rows: the text as is.
 * - `{prompt, response}` rows: the prompt rendered by the Jinja `template` (or the prompt field as is), then
 *   the response right after it. Prompt and response are tokenized separately and their ids concatenated,
 *   so the mask boundary is exact; with `mask_prompt` the prompt's labels are -100 (completion-only loss).
 * - chat rows (`template: chat` / `use_chat_template`, or rows with a `messages` field): the tokenizer's
 *   chat template, rendered message prefix by message prefix to find each assistant turn (as TRL and axolotl
 *   do); with `mask_prompt` everything but the assistant turns is masked.
 *
 * Then BOS/EOS, truncation to `max_length` (or dropping), and optional packing into sequences of exactly
 * `max_length` tokens (a long example goes on in the next sequence; the last partial sequence of each split
 * is dropped, not padded). README.md beside this file documents every option.
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import {
  BasePlugin,
  Err,
  errorMessage,
  getLogger,
  Ok,
  type Dataset,
  type DatasetInfo,
  type PluginConfig,
  type Result,
  type TokenizedRow,
  type Tokenizer,
} from 'dumbo';

const log = getLogger('jinja_formatter');

type Row = Readonly<Record<string, unknown>>;

/** The plugin's section with its defaults applied. */
export interface FormatterOptions {
  template?: string;
  use_chat_template: boolean;
  text_field: string;
  prompt_field: string;
  response_field: string;
  messages_field: string;
  mask_prompt: boolean;
  add_bos?: boolean;
  add_eos?: boolean;
  max_length: number;
  truncation: 'truncate' | 'drop';
  packing: boolean;
}

/** What one split's formatting did, reported in `info().formatted`. */
export interface SplitStats {
  /** Input rows turned into examples (rows dropped as too long or empty are not counted). */
  examples: number;
  /** Examples longer than `max_length` cut to `max_length` tokens (never with packing). */
  truncated: number;
  /** Examples longer than `max_length` skipped (`truncation: drop`). */
  dropped: number;
  /** Rows that gave no token at all (empty text, no BOS/EOS), skipped. */
  empty: number;
  /** Output rows: packed sequences with `packing`, else one per example. */
  sequences: number;
  /** Packed sequences (0 without packing). */
  packedSequences: number;
  /** Tokens in the output rows. */
  tokens: number;
  /** Tokens of the last, partial sequence left out by packing. */
  packingDroppedTokens: number;
  /** Fraction of the output's label positions that are -100. */
  maskedFraction: number;
}

export interface FormattedInfo {
  mode: string[];
  maxLength: number;
  packing: boolean;
  train: SplitStats;
  eval?: SplitStats;
}

/** A piece of an example's text and whether its tokens are predicted (labels kept) or masked (-100). */
interface Segment {
  text: string;
  train: boolean;
}

/** `Err` with an Error of this message. */
function fail<T>(message: string): Result<T> {
  return Err(new Error(message));
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function fieldsOf(row: Row): string {
  const keys = Object.keys(row);
  return keys.length ? keys.join(', ') : 'no fields';
}

/** The options a message can be about; a message `KEY: ...` or `KEY must ...` is about that option. */
const OPTION_KEYS = new Set([
  'template',
  'use_chat_template',
  'text_field',
  'prompt_field',
  'response_field',
  'messages_field',
  'mask_prompt',
  'add_bos',
  'add_eos',
  'max_length',
  'truncation',
  'packing',
]);

/** `text` about option `key`, when there is one: `key: text` (the row's index goes after the key). */
function about(key: string | undefined, text: string): string {
  return key ? `${key}: ${text}` : text;
}

// ---------------------------------------------------------------------------------------------------------
// Templates

/** Jinja's errors carry no position: find the first line at which the template fails the same way. */
function syntaxErrorMessage(source: string, error: unknown): string {
  const message = errorMessage(error);
  const fails = (src: string) => {
    try {
      new Template(src);
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  };
  const lines = source.split('\n');
  let where = '';
  for (let k = 1; k <= lines.length; k++) {
    if (fails(lines.slice(0, k).join('\n')) === message) {
      where = ` at line ${k}`;
      break;
    }
  }
  // The parser's way of saying it ran out of tokens.
  const text = /^Cannot read properties of undefined/.test(message)
    ? 'unexpected end of template (a block or expression is not closed)'
    : message;
  return `syntax error${where}: ${text}`;
}

function compile(source: string, what: string): Result<Template> {
  try {
    return Ok(new Template(source));
  } catch (error) {
    return fail(`${what}: ${syntaxErrorMessage(source, error)}`);
  }
}

/**
 * The parts of @huggingface/jinja's runtime used here. Its .d.ts files import `./runtime` without an
 * extension, which NodeNext resolution does not follow, so these classes are typed by hand.
 */
interface RuntimeValue {
  type: string;
  value: unknown;
}
interface JinjaEnvironment {
  variables: Map<string, unknown>;
  set(name: string, value: unknown): unknown;
  lookupVariable(name: string): RuntimeValue;
}
const JinjaEnvironment = Environment as unknown as new () => JinjaEnvironment;
const JinjaInterpreter = Interpreter as unknown as new (env: JinjaEnvironment) => {
  run(program: unknown): RuntimeValue;
};

/** The root scope of a prompt template: remembers the names it looked up and did not find. */
class TrackingEnvironment extends JinjaEnvironment {
  readonly missing = new Set<string>();
  override lookupVariable(name: string): RuntimeValue {
    const value = super.lookupVariable(name);
    if (value.type === 'UndefinedValue') this.missing.add(name);
    return value;
  }
}

function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => d.toLocaleString('en-US', { month: style });
  return format.replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad(d.getMonth() + 1);
      case '%d':
        return pad(d.getDate());
      case '%b':
        return month('short');
      case '%B':
        return month('long');
      case '%H':
        return pad(d.getHours());
      case '%M':
        return pad(d.getMinutes());
      default:
        return '%';
    }
  });
}

/** The globals @huggingface/jinja's `Template.render` sets up (it does not export its `setupGlobals`). */
const GLOBALS: Record<string, unknown> = {
  false: false,
  true: true,
  none: null,
  False: false,
  True: true,
  None: null,
  raise_exception: (message: string) => {
    throw new Error(message);
  },
  range,
  strftime_now: strftimeNow,
};

/** Names a template tests with `is defined` / `is undefined` or gives a `default`: optional, may be missing. */
function optionalNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const n of node) optionalNames(n, out);
  } else if (node instanceof Map) {
    for (const [k, v] of node) {
      optionalNames(k, out);
      optionalNames(v, out);
    }
  } else if (node !== null && typeof node === 'object') {
    const n = node as { type?: unknown; operand?: { type?: string; value?: unknown }; test?: { value?: unknown } };
    const filter = (node as { filter?: { type?: string; value?: unknown; callee?: { value?: unknown } } }).filter;
    if (n.operand?.type === 'Identifier' && typeof n.operand.value === 'string') {
      const filterName = filter?.type === 'CallExpression' ? filter.callee?.value : filter?.value;
      if (
        (n.type === 'TestExpression' && (n.test?.value === 'defined' || n.test?.value === 'undefined')) ||
        (n.type === 'FilterExpression' && (filterName === 'default' || filterName === 'd'))
      ) {
        out.add(n.operand.value);
      }
    }
    for (const v of Object.values(node)) if (v !== null && typeof v === 'object') optionalNames(v, out);
  }
  return out;
}

/** Values a Jinja runtime accepts: bigints and dates (as some loaders give them) become numbers and strings. */
function jinjaValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** A compiled prompt template: renders a row's fields, reporting fields it uses that the row lacks. */
class PromptTemplate {
  private readonly optional: Set<string>;
  constructor(private readonly template: Template) {
    this.optional = optionalNames(template.parsed);
  }

  /**
   * Ok(text), or Err(message) of what went wrong (the caller names the row). `hidden`: the field not passed
   * (the response); `fields`: the row's fields, for messages.
   */
  render(context: Record<string, unknown>, hidden: string, fields: string): Result<string, string> {
    const env = new TrackingEnvironment();
    try {
      for (const [k, v] of Object.entries(context)) if (!env.variables.has(k)) env.set(k, jinjaValue(v));
      for (const [k, v] of Object.entries(GLOBALS)) if (!env.variables.has(k)) env.set(k, v);
    } catch (error) {
      return Err(`cannot pass the row to the template: ${errorMessage(error)}`);
    }
    let result: RuntimeValue;
    try {
      result = new JinjaInterpreter(env).run(this.template.parsed);
    } catch (error) {
      return Err(`template error: ${errorMessage(error)}`);
    }
    const missing = [...env.missing].filter((name) => !this.optional.has(name));
    if (missing.includes(hidden)) {
      return Err(
        `the template uses '${hidden}', the response field: the template renders the prompt only and the ` +
          `response is appended after it`,
      );
    }
    if (missing.length) {
      return Err(
        `missing field '${missing[0]}' used by the template (the row has: ${fields}); ` +
          `write {{ ${missing[0]} | default('') }} for an optional field`,
      );
    }
    if (result.type !== 'StringValue' || typeof result.value !== 'string') {
      return Err(`the template rendered ${result.type}, not a string`);
    }
    return Ok(result.value);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Options

const DEFAULTS = {
  use_chat_template: false,
  text_field: 'text',
  prompt_field: 'prompt',
  response_field: 'response',
  messages_field: 'messages',
  mask_prompt: true,
  max_length: 256,
  truncation: 'truncate',
  packing: false,
} as const;

export function readOptions(config: PluginConfig): Result<FormatterOptions> {
  const o = { ...DEFAULTS, ...config } as Record<string, unknown>;
  for (const key of ['text_field', 'prompt_field', 'response_field', 'messages_field'] as const) {
    if (typeof o[key] !== 'string' || o[key] === '') return fail(`${key} must be a non-empty string`);
  }
  for (const key of ['use_chat_template', 'mask_prompt', 'packing'] as const) {
    if (typeof o[key] !== 'boolean') return fail(`${key} must be true or false`);
  }
  for (const key of ['add_bos', 'add_eos'] as const) {
    if (o[key] !== undefined && o[key] !== null && typeof o[key] !== 'boolean') {
      return fail(`${key} must be true or false (or left out: as the tokenizer does)`);
    }
  }
  if (o.template !== undefined && o.template !== null && typeof o.template !== 'string') {
    return fail(`template must be a string (a Jinja template, or 'chat')`);
  }
  if (!Number.isInteger(o.max_length) || (o.max_length as number) < 1) {
    return fail(`max_length must be a positive integer, got ${String(o.max_length)}`);
  }
  if (o.truncation !== 'truncate' && o.truncation !== 'drop') {
    return fail(`truncation must be 'truncate' or 'drop', got ${String(o.truncation)}`);
  }
  return Ok({
    ...(o as unknown as FormatterOptions),
    template: (o.template ?? undefined) as string | undefined,
    add_bos: (o.add_bos ?? undefined) as boolean | undefined,
    add_eos: (o.add_eos ?? undefined) as boolean | undefined,
  });
}

// ---------------------------------------------------------------------------------------------------------
// The formatter

type Kind = 'text' | 'prompt_response' | 'chat';

interface Tokenized {
  ids: number[];
  labels: number[];
}

/** Formats the rows of one run; `format(rows, split)` per split. */
export class RowFormatter {
  private promptTemplate: PromptTemplate | undefined;
  private chatTemplate: Template | undefined;
  private chatTemplateError: string | undefined;
  /** Whether `encode(text, {addSpecialTokens: true})` puts BOS in front. */
  private readonly tokenizerAddsBos: boolean;
  readonly kinds = new Set<Kind>();

  private constructor(
    private readonly o: FormatterOptions,
    private readonly tok: Tokenizer,
  ) {
    const bos = tok.bosTokenId;
    const probe = (add: boolean) => tok.encode('a', { addSpecialTokens: add })[0];
    this.tokenizerAddsBos = bos !== undefined && probe(true) === bos && probe(false) !== bos;
  }

  static create(o: FormatterOptions, tok: Tokenizer): Result<RowFormatter> {
    const f = new RowFormatter(o, tok);
    if (o.add_bos === true && tok.bosTokenId === undefined) return fail('add_bos: the tokenizer has no BOS token');
    if (o.add_eos === true && tok.eosTokenId === undefined) return fail('add_eos: the tokenizer has no EOS token');
    if (o.template !== undefined && !f.chatMode) {
      const t = compile(o.template, 'template');
      if (!t.ok) return Err(t.error);
      f.promptTemplate = new PromptTemplate(t.value);
    }
    if (typeof tok.chatTemplate === 'string') {
      const t = compile(tok.chatTemplate, "the tokenizer's chat template");
      if (t.ok) f.chatTemplate = t.value;
      else f.chatTemplateError = t.error.message;
    }
    if (f.chatMode) {
      const c = f.needChatTemplate();
      if (!c.ok) return fail(about(o.template === 'chat' ? 'template' : 'use_chat_template', c.error.message));
    }
    return Ok(f);
  }

  /**
   * The option the config set to name field `f` (`text_field: story`), or undefined where `f` is a default
   * name: a message about a field the user named points at the line that named it.
   */
  private fieldOption(f: string): string | undefined {
    for (const k of ['text_field', 'prompt_field', 'response_field', 'messages_field'] as const) {
      if (this.o[k] === f && f !== DEFAULTS[k]) return k;
    }
    return undefined;
  }

  /** Chat formatting asked for in the config (rows with a messages field use it even when not). */
  private get chatMode(): boolean {
    return this.o.use_chat_template || this.o.template === 'chat';
  }

  private needChatTemplate(): Result<Template> {
    if (this.chatTemplateError) return fail(this.chatTemplateError);
    if (!this.chatTemplate) {
      return fail(
        "chat formatting needs the tokenizer's chat template, and this tokenizer has none " +
          '(tokenizer_config.json chat_template); set template to a Jinja string for the prompt instead',
      );
    }
    return Ok(this.chatTemplate);
  }

  /** Formats the rows of a split into examples (before packing), counting what it skipped or cut. */
  format(rows: readonly Row[], split: string): Result<{ examples: Tokenized[]; stats: SplitStats }> {
    const stats: SplitStats = {
      examples: 0,
      truncated: 0,
      dropped: 0,
      empty: 0,
      sequences: 0,
      packedSequences: 0,
      tokens: 0,
      packingDroppedTokens: 0,
      maskedFraction: 0,
    };
    const examples: Tokenized[] = [];
    const max = this.o.max_length;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const where = `${split} row ${i}`;
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        return fail(`${where}: a row must be an object of fields, got ${describeType(row)}`);
      }
      const segments = this.segments(row);
      if (!segments.ok) {
        // `text_field: no 'story' field ...` stays about its option, with the row after it.
        const m = /^(\w+): ([\s\S]*)$/.exec(segments.error);
        return fail(m && OPTION_KEYS.has(m[1]!) ? `${m[1]}: ${where}: ${m[2]}` : `${where}: ${segments.error}`);
      }
      const ex = this.tokenize(segments.value.segments, segments.value.kind);
      if (ex.ids.length === 0) {
        stats.empty++;
        continue;
      }
      // With packing a long example goes on in the next sequence: only `drop` applies.
      if (ex.ids.length > max && (this.o.truncation === 'drop' || !this.o.packing)) {
        if (this.o.truncation === 'drop') {
          stats.dropped++;
          continue;
        }
        ex.ids.length = max;
        ex.labels.length = max;
        stats.truncated++;
      }
      examples.push(ex);
      stats.examples++;
    }
    return Ok({ examples, stats });
  }

  /** Ok(the row's segments), or Err(what is wrong with it) — the caller adds the row's index. */
  private segments(row: Row): Result<{ segments: Segment[]; kind: Kind }, string> {
    const o = this.o;
    const has = (f: string) => Object.hasOwn(row, f) && row[f] !== undefined;
    const str = (f: string): Result<string, string> => {
      const key = this.fieldOption(f);
      if (!has(f)) return Err(about(key, `missing field '${f}' (the row has: ${fieldsOf(row)})`));
      const v = row[f];
      return typeof v === 'string' ? Ok(v) : Err(about(key, `field '${f}' must be a string, got ${describeType(v)}`));
    };
    let kind: Kind;
    if (this.chatMode) kind = 'chat';
    else if (this.promptTemplate) kind = 'prompt_response';
    else if (has(o.text_field)) kind = 'text';
    else if (has(o.prompt_field) || has(o.response_field)) kind = 'prompt_response';
    else if (has(o.messages_field)) kind = 'chat';
    else {
      const set = (['text_field', 'prompt_field', 'response_field', 'messages_field'] as const).find(
        (k) => this.fieldOption(o[k]) === k,
      );
      return Err(
        about(
          set,
          `no '${o.text_field}', '${o.prompt_field}'/'${o.response_field}' or '${o.messages_field}' field ` +
            `(the row has: ${fieldsOf(row)})`,
        ),
      );
    }
    this.kinds.add(kind);

    if (kind === 'text') {
      const text = str(o.text_field);
      return text.ok ? Ok({ kind, segments: [{ text: text.value, train: true }] }) : text;
    }
    if (kind === 'prompt_response') {
      const response = str(o.response_field);
      if (!response.ok) return response;
      let prompt: Result<string, string>;
      if (this.promptTemplate) {
        const context: Record<string, unknown> = { ...this.tok.specialTokens };
        for (const [k, v] of Object.entries(row)) if (k !== o.response_field) context[k] = v;
        const rendered = this.promptTemplate.render(context, o.response_field, fieldsOf(row));
        prompt = rendered.ok ? rendered : Err(about('template', rendered.error));
      } else {
        prompt = str(o.prompt_field);
      }
      if (!prompt.ok) return prompt;
      return Ok({
        kind,
        segments: [
          { text: prompt.value, train: !o.mask_prompt },
          { text: response.value, train: true },
        ],
      });
    }
    const messages = this.messages(row);
    if (!messages.ok) return messages;
    const segments = this.chatSegments(messages.value);
    return segments.ok ? Ok({ kind, segments: segments.value }) : segments;
  }

  /** The row's conversation: its messages field, or a user/assistant pair built from prompt and response. */
  private messages(row: Row): Result<Row[], string> {
    const r = this.messagesOf(row);
    return r.ok ? r : Err(about(this.fieldOption(this.o.messages_field), r.error));
  }

  private messagesOf(row: Row): Result<Row[], string> {
    const o = this.o;
    const f = o.messages_field;
    if (!Object.hasOwn(row, f) || row[f] === undefined) {
      const p = row[o.prompt_field];
      const r = row[o.response_field];
      if (typeof p === 'string' && typeof r === 'string') {
        return Ok([
          { role: 'user', content: p },
          { role: 'assistant', content: r },
        ]);
      }
      return Err(`missing field '${f}' (the row has: ${fieldsOf(row)})`);
    }
    const v = row[f];
    if (!Array.isArray(v))
      return Err(`field '${f}' must be a list of {role, content} messages, got ${describeType(v)}`);
    if (v.length === 0) return Err(`field '${f}' is an empty list`);
    for (let j = 0; j < v.length; j++) {
      const m = v[j] as unknown;
      if (m === null || typeof m !== 'object' || Array.isArray(m)) {
        return Err(`${f}[${j}] must be a {role, content} object, got ${describeType(m)}`);
      }
      const role = (m as Row).role;
      if (typeof role !== 'string') return Err(`${f}[${j}] has no string 'role'`);
    }
    return Ok(v as Row[]);
  }

  private renderChat(messages: readonly Row[], addGenerationPrompt: boolean): Result<string, string> {
    const r = this.renderChatOf(messages, addGenerationPrompt);
    if (r.ok) return r;
    const key = this.o.template === 'chat' ? 'template' : this.o.use_chat_template ? 'use_chat_template' : undefined;
    return Err(about(key, r.error));
  }

  private renderChatOf(messages: readonly Row[], addGenerationPrompt: boolean): Result<string, string> {
    const t = this.needChatTemplate();
    if (!t.ok) return Err(t.error.message);
    const special = this.tok.specialTokens ?? {};
    let out: unknown;
    try {
      out = t.value.render({
        ...special,
        messages: messages.map((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, jinjaValue(v)]))),
        bos_token: special.bos_token ?? '',
        eos_token: special.eos_token ?? '',
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (error) {
      return Err(`chat template error: ${errorMessage(error)}`);
    }
    if (typeof out !== 'string') return Err(`the chat template rendered ${describeType(out)}, not a string`);
    return Ok(out);
  }

  /**
   * The conversation as segments: rendered prefix by prefix, so that each message's text is what its
   * prefix adds. Before an assistant turn the prefix is rendered with the generation prompt, so the
   * assistant header stays masked and only the turn itself (with its end-of-turn marker) is trained on.
   */
  private chatSegments(messages: readonly Row[]): Result<Segment[], string> {
    if (!this.o.mask_prompt) {
      const all = this.renderChat(messages, false);
      return all.ok ? Ok([{ text: all.value, train: true }]) : all;
    }
    const f = this.o.messages_field;
    const segments: Segment[] = [];
    let done = '';
    const extend = (text: string, train: boolean, upTo: number): Result<void, string> => {
      if (!text.startsWith(done)) {
        return Err(
          `cannot find the assistant turns: the chat template's rendering of ${f}[0..${upTo}] does not start ` +
            `with its rendering of the messages before it; set mask_prompt: false`,
        );
      }
      const piece = text.slice(done.length);
      const last = segments[segments.length - 1];
      if (piece && last && last.train === train) last.text += piece;
      else if (piece) segments.push({ text: piece, train });
      done = text;
      return Ok(undefined);
    };
    for (let j = 0; j < messages.length; j++) {
      const assistant = messages[j]!.role === 'assistant';
      if (assistant) {
        const header = this.renderChat(messages.slice(0, j), true);
        if (!header.ok) return header;
        const r = extend(header.value, false, j - 1);
        if (!r.ok) return r;
      }
      const upTo = this.renderChat(messages.slice(0, j + 1), false);
      if (!upTo.ok) return upTo;
      const r = extend(upTo.value, assistant, j);
      if (!r.ok) return r;
    }
    return Ok(segments);
  }

  /** Tokenizes each segment on its own (exact mask boundaries) and adds BOS/EOS. */
  private tokenize(segments: readonly Segment[], kind: Kind): Tokenized {
    const ids: number[] = [];
    const labels: number[] = [];
    for (const s of segments) {
      if (!s.text) continue;
      // A loop, not push(...piece): a whole book in one row would overflow the argument list.
      for (const id of this.tok.encode(s.text, { addSpecialTokens: false })) {
        ids.push(id);
        labels.push(s.train ? id : -100);
      }
    }
    const { bosTokenId: bos, eosTokenId: eos } = this.tok;
    // A chat template writes its own BOS and turn ends (Hugging Face tokenizes it without special tokens).
    const addBos = this.o.add_bos ?? (kind !== 'chat' && this.tokenizerAddsBos);
    const addEos = this.o.add_eos ?? (kind !== 'chat' && eos !== undefined);
    if (addBos && bos !== undefined && ids[0] !== bos) {
      ids.unshift(bos);
      labels.unshift(-100);
    }
    if (addEos && eos !== undefined && ids[ids.length - 1] !== eos) {
      ids.push(eos);
      labels.push(eos);
    }
    return { ids, labels };
  }
}

/** Concatenates the examples and cuts them into sequences of exactly `length`; the partial tail is dropped. */
export function pack(examples: readonly Tokenized[], length: number): { rows: TokenizedRow[]; droppedTokens: number } {
  const rows: TokenizedRow[] = [];
  let ids: number[] = [];
  let labels: number[] = [];
  for (const ex of examples) {
    for (let k = 0; k < ex.ids.length; k++) {
      ids.push(ex.ids[k]!);
      labels.push(ex.labels[k]!);
      if (ids.length === length) {
        rows.push({ input_ids: ids, labels });
        ids = [];
        labels = [];
      }
    }
  }
  return { rows, droppedTokens: ids.length };
}

function finish(examples: Tokenized[], stats: SplitStats, o: FormatterOptions, split: string): Result<TokenizedRow[]> {
  let rows: TokenizedRow[];
  if (o.packing) {
    const packed = pack(examples, o.max_length);
    rows = packed.rows;
    stats.packingDroppedTokens = packed.droppedTokens;
    stats.packedSequences = rows.length;
    if (rows.length === 0 && packed.droppedTokens > 0) {
      return fail(
        `packing: the ${split} split has ${packed.droppedTokens} tokens in all, fewer than max_length ` +
          `${o.max_length}, so no full sequence; lower max_length or set packing: false`,
      );
    }
  } else {
    rows = examples.map((e) => ({ input_ids: e.ids, labels: e.labels }));
  }
  let masked = 0;
  for (const r of rows) {
    stats.tokens += r.input_ids.length;
    for (const l of r.labels) if (l === -100) masked++;
  }
  stats.sequences = rows.length;
  stats.maskedFraction = stats.tokens ? masked / stats.tokens : 0;
  return Ok(rows);
}

function summary(split: string, s: SplitStats): string {
  const parts = [`${s.examples} examples`, `${s.tokens} tokens`];
  if (s.packedSequences) parts.push(`${s.packedSequences} packed sequences`);
  if (s.truncated) parts.push(`${s.truncated} truncated`);
  if (s.dropped) parts.push(`${s.dropped} dropped as too long`);
  if (s.empty) parts.push(`${s.empty} empty`);
  parts.push(`${(100 * s.maskedFraction).toFixed(1)}% of labels masked`);
  return `${split}: ${parts.join(', ')}`;
}

/** The whole formatting of a dataset (the hook's body, also usable on its own). */
export function formatDataset(dataset: Dataset, config: PluginConfig, tokenizer?: Tokenizer): Result<Dataset> {
  const options = readOptions(config);
  if (!options.ok) return options;
  const o = options.value;
  if (!tokenizer) {
    return fail('jinja_formatter needs a tokenizer: add a tokenizer_loader plugin (transformers) to plugins:');
  }
  if (!dataset || !Array.isArray(dataset.train)) return fail('the dataset has no train rows (a list)');
  const formatter = RowFormatter.create(o, tokenizer);
  if (!formatter.ok) return formatter;
  const f = formatter.value;

  const train = f.format(dataset.train, 'train');
  if (!train.ok) return train;
  const trainRows = finish(train.value.examples, train.value.stats, o, 'train');
  if (!trainRows.ok) return trainRows;
  let evalRows: TokenizedRow[] | undefined;
  let evalStats: SplitStats | undefined;
  if (dataset.eval) {
    const ev = f.format(dataset.eval, 'eval');
    if (!ev.ok) return ev;
    const rows = finish(ev.value.examples, ev.value.stats, o, 'eval');
    if (!rows.ok) return rows;
    evalRows = rows.value;
    evalStats = ev.value.stats;
  }

  const inputInfo: DatasetInfo = dataset.info?.() ?? { rows: dataset.train.length, evalRows: dataset.eval?.length };
  const formatted: FormattedInfo = {
    mode: [...f.kinds],
    maxLength: o.max_length,
    packing: o.packing,
    train: train.value.stats,
    ...(evalStats ? { eval: evalStats } : {}),
  };
  const info: DatasetInfo = { ...inputInfo, formatted };
  log.info(summary('train', train.value.stats));
  if (evalStats) log.info(summary('eval', evalStats));
  const out: Dataset = {
    train: trainRows.value,
    ...(evalRows ? { eval: evalRows } : {}),
    info: () => info,
  };
  return Ok(out);
}

export class JinjaFormatter extends BasePlugin {
  static configKey = 'formatter';
  static provides = ['dataset_formatter'];
  static requires: string[] = [];
  static conflicts: string[] = [];
  static description =
    'Formats text, prompt/response and chat rows with Jinja templates into token ids and labels ' +
    '(completion-only masking, truncation, packing).';
  static version = '1.0.0';
  static configSchema = {
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
  };

  /**
   * The formatting, with a message about an option said as `formatter.OPTION: ...`: the run and `dumbo
   * validate` point at that option's line of the config, not at the section.
   */
  formatDataset(dataset: Dataset, config: PluginConfig, tokenizer?: Tokenizer): Result<Dataset> {
    const r = formatDataset(dataset, config, tokenizer);
    if (r.ok) return r;
    const m = /^(\w+)(?::| (?=must ))([\s\S]*)$/.exec(r.error.message);
    if (!m || !OPTION_KEYS.has(m[1]!)) return r;
    const key = (this.constructor as typeof JinjaFormatter).configKey;
    return Err(new Error(`${key}.${m[1]}: ${m[2]!.trimStart()}`, { cause: r.error }));
  }

  hooks() {
    return {
      dataset_formatter: (dataset: Dataset, config: PluginConfig, tokenizer?: Tokenizer) =>
        this.formatDataset(dataset, config, tokenizer),
    };
  }
}

export const AVAILABLE_PLUGINS = [JinjaFormatter];
