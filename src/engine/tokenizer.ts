/**
 * Tokenizers through @huggingface/tokenizers (tokenizer.json + tokenizer_config.json of a local folder) —
 * the library transformers.js tokenizes with (its `PreTrainedTokenizer.encode` is this library's
 * `encode(...).ids`), without transformers.js's ONNX runtimes — wrapped into the SDK's `Tokenizer`, with the
 * special tokens resolved from tokenizer_config.json as transformers.js resolves them. Only local files are
 * read here; downloading is hub.ts's job. Both files are checked first, so a truncated or hand-broken file
 * fails with `FILE[:LINE:COL]: what is wrong, what was expected` rather than with a bare JSON.parse message.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, type Tokenizer } from '../core/index.js';
import { describeJson, isNonNegativeInteger, isPlainObject } from './json-values.js';

/** The loaded tokenizer, and the folder its files came from (copied into a run's final/ folder). */
export interface EngineTokenizer extends Tokenizer {
  readonly sourceDir: string;
  /** Files of the tokenizer in `sourceDir`, to save beside a trained model. */
  readonly files: string[];
}

export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
];

/**
 * A special token of tokenizer_config.json (a string, or an AddedToken object) under the first of `keys` that
 * has one, as transformers.js's getTokenFromConfig reads it.
 */
function configToken(config: Record<string, unknown>, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const item = config[key];
    if (!item) continue;
    if (typeof item === 'string') return item;
    if (typeof item === 'object' && (item as { content?: unknown }).content !== undefined) {
      return String((item as { content: unknown }).content);
    }
  }
  return undefined;
}

export async function loadTokenizer(dir: string): Promise<EngineTokenizer> {
  const abs = path.resolve(dir);
  const tokenizerFile = path.join(abs, 'tokenizer.json');
  if (!existsSync(tokenizerFile)) {
    throw new Error(
      `${abs}: no tokenizer.json (a Hugging Face tokenizer folder has tokenizer.json and tokenizer_config.json)`,
    );
  }
  // The library's own errors ("Unexpected end of JSON input", "Tokenizer must contain a \"decoder\"
  // property", "Cannot convert undefined or null to object") name neither the file nor the field: check them
  // here first, so a broken download or a hand-edited file is named.
  const tokenizerJson = readJsonFile(tokenizerFile);
  checkTokenizerJson(tokenizerJson, tokenizerFile);
  const configFile = path.join(abs, 'tokenizer_config.json');
  // A Hugging Face tokenizer folder has both: the special tokens and the chat template live in this one.
  if (!existsSync(configFile)) {
    throw new Error(
      `${abs}: no tokenizer_config.json beside tokenizer.json (a Hugging Face tokenizer folder has both; {} will do)`,
    );
  }
  const config = readJsonFile(configFile);
  if (!isPlainObject(config)) {
    throw new Error(`${configFile}: expected a JSON object (the tokenizer's settings), got ${describeJson(config)}`);
  }
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tok: InstanceType<typeof Tokenizer>;
  try {
    tok = new Tokenizer(tokenizerJson as object, config);
  } catch (error) {
    // What the checks above do not cover (an unknown pre-tokenizer type, say): still say which file.
    throw new Error(
      `${tokenizerFile}: cannot build a tokenizer from it (and tokenizer_config.json beside it): ${errorMessage(error)}`,
      { cause: error },
    );
  }
  // The special tokens and their ids, as transformers.js resolves them (a missing pad token is the EOS token).
  const roles = {
    bos_token: configToken(config, 'bos_token'),
    eos_token: configToken(config, 'eos_token'),
    pad_token: configToken(config, 'pad_token', 'eos_token'),
    unk_token: configToken(config, 'unk_token'),
  };
  const specialTokens: Record<string, string> = {};
  for (const [role, t] of Object.entries(roles)) if (t !== undefined) specialTokens[role] = t;
  const id = (token: string | undefined) => (token === undefined ? undefined : tok.token_to_id(token));
  return {
    sourceDir: abs,
    files: TOKENIZER_FILES.filter((f) => existsSync(path.join(abs, f))),
    vocabSize: tok.get_vocab().size,
    encode: (text, options) => tok.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }).ids,
    // Nothing decodes to nothing (transformers.js refuses an empty list).
    decode: (ids, options) =>
      ids.length === 0 ? '' : tok.decode(ids, { skip_special_tokens: options?.skipSpecialTokens ?? false }),
    eosTokenId: id(roles.eos_token),
    bosTokenId: id(roles.bos_token),
    padTokenId: id(roles.pad_token),
    specialTokens,
    chatTemplate: typeof config.chat_template === 'string' ? config.chat_template : undefined,
  };
}

/** Parses a JSON file; a syntax error is reported as `FILE:LINE:COL: not valid JSON (...)`. */
function readJsonFile(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8 names the position for some errors only ("Unterminated string in JSON at position 9"), and quotes
    // the text around others ("Unexpected token '}', "..." is not valid JSON"): keep its words, drop both,
    // and find the position ourselves.
    const detail = errorMessage(error)
      .replace(/, (?:\.\.\.)?".*is not valid JSON$/s, '')
      .replace(/ in JSON at position \d+.*$/s, '');
    const offset = syntaxErrorOffset(text);
    const where = offset === undefined ? '' : `:${lineColumn(text, offset)}`;
    const truncated = offset === text.length ? '; the file ends there: is it truncated?' : '';
    throw new Error(`${file}${where}: not valid JSON (${detail})${truncated}`, { cause: error });
  }
}

/** 1-based `LINE:COL` of a character offset. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

/**
 * Where JSON text stops being JSON (RFC 8259): the offset of the first character that cannot continue it,
 * `text.length` when it ends too early, undefined when it is valid (or nested too deep to follow).
 */
function syntaxErrorOffset(text: string): number | undefined {
  let i = 0;
  const stop = new Error('not JSON');
  const expect = (ok: boolean) => {
    if (!ok) throw stop;
  };
  const space = () => {
    while (' \t\n\r'.includes(text[i] ?? 'x')) i++;
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      const c = text[i];
      expect(c !== undefined && c >= ' ');
      i++;
      if (c === '"') return;
      if (c === '\\') {
        if (text[i] === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) expect(/[0-9a-fA-F]/.test(text[i] ?? ''));
        } else {
          expect('"\\/bfnrt'.includes(text[i] ?? 'x'));
          i++;
        }
      }
    }
  };
  const sequence = (close: string, item: () => void) => {
    i++; // the opening bracket
    space();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      space();
      if (text[i] === close) return void i++;
      expect(text[i] === ',');
      i++;
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      return sequence('}', () => {
        space();
        expect(text[i] === '"');
        string();
        space();
        expect(text[i] === ':');
        i++;
        value();
      });
    }
    if (c === '[') return sequence(']', value);
    if (c === '"') return string();
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = i;
    const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, i));
    const match = literal ?? number.exec(text)?.[0];
    expect(match !== undefined);
    i += match!.length;
  };
  try {
    value();
    space();
    expect(i === text.length);
    return undefined;
  } catch (error) {
    if (error !== stop) return undefined; // a stack overflow: no position, V8's message still stands
    return Math.min(i, text.length);
  }
}

const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'];
/** Keys the tokenizers library requires in tokenizer.json; Hugging Face's tokenizers writes each (null when unused). */
const COMPONENTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'];

/**
 * The structure the tokenizers library relies on, as Hugging Face's `tokenizers` writes it: a JSON object with
 * `model` (its `type` and `vocab`, and `merges` for BPE), `added_tokens`, and the four pipeline components.
 * Throws `FILE: field: expected ..., got ...` at the first thing that does not fit.
 */
function checkTokenizerJson(json: unknown, file: string): void {
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new Error(`${file}: ${field}: expected ${expected}, got ${describeJson(value)}`);
  };
  if (!isPlainObject(json)) {
    throw new Error(
      `${file}: expected a JSON object (a Hugging Face tokenizers file with "model", "added_tokens", ...), got ${describeJson(json)}`,
    );
  }
  const model = json.model;
  if (!isPlainObject(model)) fail('model', 'an object with the vocabulary ("type", "vocab", ...)', model);
  const m = model as Record<string, unknown>;
  const type = m.type;
  if (type !== undefined && !MODEL_TYPES.includes(type as string)) {
    fail('model.type', `one of ${MODEL_TYPES.join(', ')} (what the tokenizers library reads)`, type);
  }
  if (type === 'Unigram' || (type === undefined && Array.isArray(m.vocab))) {
    if (!Array.isArray(m.vocab))
      fail('model.vocab', 'an array of [token, score] pairs (a Unigram vocabulary)', m.vocab);
    (m.vocab as unknown[]).forEach((entry, i) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        fail(`model.vocab[${i}]`, 'a [token, score] pair', entry);
      }
    });
  } else {
    if (!isPlainObject(m.vocab)) fail('model.vocab', 'an object mapping each token to its id', m.vocab);
    for (const [token, id] of Object.entries(m.vocab as Record<string, unknown>)) {
      if (!isNonNegativeInteger(id)) fail(`model.vocab[${JSON.stringify(token)}]`, 'a token id (an integer ≥ 0)', id);
    }
  }
  if (type === 'BPE') {
    if (!Array.isArray(m.merges)) fail('model.merges', 'an array of merges ("a b" or ["a", "b"])', m.merges);
    (m.merges as unknown[]).forEach((merge, i) => {
      const pair = Array.isArray(merge) && merge.length === 2 && merge.every((p) => typeof p === 'string');
      if (!pair && !(typeof merge === 'string' && merge.includes(' '))) {
        fail(`model.merges[${i}]`, 'a merge, "a b" or ["a", "b"]', merge);
      }
    });
  }
  if (!Array.isArray(json.added_tokens)) {
    fail('added_tokens', 'an array of {"id", "content", ...} (empty when there are none)', json.added_tokens);
  }
  (json.added_tokens as unknown[]).forEach((token, i) => {
    if (!isPlainObject(token)) fail(`added_tokens[${i}]`, 'an object {"id", "content", ...}', token);
    const t = token as Record<string, unknown>;
    if (!isNonNegativeInteger(t.id)) fail(`added_tokens[${i}].id`, 'a token id (an integer ≥ 0)', t.id);
    if (typeof t.content !== 'string') fail(`added_tokens[${i}].content`, "the token's text (a string)", t.content);
  });
  for (const key of COMPONENTS) {
    const value = json[key];
    if (value === null) continue;
    if (!isPlainObject(value) || typeof value.type !== 'string') {
      fail(key, 'null or an object with a "type"', value);
    }
  }
}
