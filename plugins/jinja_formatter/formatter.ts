/**
 * From rows to examples: `RowFormatter` tells each row's kind (text, prompt/response, chat), cuts it into
 * segments that are trained on or masked (a chat rendered message prefix by message prefix, to find each
 * assistant turn), tokenizes each segment on its own so the mask boundary is exact, adds BOS/EOS, and
 * truncates or drops what is longer than `max_length`.
 */
import type { Template } from '@huggingface/jinja';
import { Err, errorMessage, Ok, type Result, type Tokenizer } from 'dumbo';
import { about, aboutWhich, defaultField, FIELD_OPTIONS, type FormatterOptions } from './options.js';
import { compile, jinjaValue, PromptTemplate } from './template.js';

export type Row = Readonly<Record<string, unknown>>;

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

type Kind = 'text' | 'prompt_response' | 'chat';

export interface Tokenized {
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
    return FIELD_OPTIONS.find((k) => this.o[k] === f && f !== defaultField(k));
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
        const m = aboutWhich(segments.error);
        return fail(m ? about(m.key, `${where}: ${m.text}`) : `${where}: ${segments.error}`);
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
      const set = FIELD_OPTIONS.find((k) => this.fieldOption(o[k]) === k);
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
