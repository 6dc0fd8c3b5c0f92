// Loading a tokenizer folder: a corrupt tokenizer.json (truncated, not JSON, or JSON of the wrong shape) and
// a corrupt tokenizer_config.json fail with `FILE[:LINE:COL]: message` naming the file, the field and what
// was expected — not with the library's bare "Unexpected end of JSON input".
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { repoRoot, tempDir } from '../helpers.js';

const quickstartTokenizer = path.join(repoRoot, 'resources', 'quickstart', 'tokenizer');
const validText = readFileSync(path.join(quickstartTokenizer, 'tokenizer.json'), 'utf8');
type Json = Record<string, unknown> & { model: Record<string, unknown> };

/** A copy of the quickstart tokenizer folder whose tokenizer.json is `text`; returns that file's path. */
function folderWith(text: string): string {
  const dir = tempDir('dumbo-tokenizer-');
  copyFileSync(path.join(quickstartTokenizer, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
  const file = path.join(dir, 'tokenizer.json');
  writeFileSync(file, text);
  return file;
}

/** The quickstart's tokenizer.json, parsed, changed by `edit`, and written into a fresh folder. */
function folderWithEdited(edit: (json: Json) => void): string {
  const json = JSON.parse(validText) as Json;
  edit(json);
  return folderWith(JSON.stringify(json, null, 2));
}

async function loadError(dir: string): Promise<string> {
  const error = await loadTokenizer(dir).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error, `loading ${dir} should fail`).toBeInstanceOf(Error);
  return error!.message;
}

describe('loadTokenizer', () => {
  it('loads an intact copy of the quickstart tokenizer (the checks accept a real file)', async () => {
    const file = folderWith(validText);
    const tokenizer = await loadTokenizer(path.dirname(file));
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.decode(tokenizer.encode('Once upon a time'))).toBe('Once upon a time');
  });

  it('a truncated tokenizer.json: FILE:LINE:COL of its end, and that it looks truncated', async () => {
    const text = validText.slice(0, 300); // cut inside a string of the "pre_tokenizer" object
    const file = folderWith(text);
    const lines = text.split('\n');
    const end = `${lines.length}:${lines[lines.length - 1]!.length + 1}`;
    expect(await loadError(path.dirname(file))).toBe(
      `${file}:${end}: not valid JSON (Unterminated string); the file ends there: is it truncated?`,
    );
  });

  it('a truncated tokenizer.json that ends between values says the same', async () => {
    const text = validText.slice(0, validText.indexOf('"normalizer"'));
    const file = folderWith(text);
    const lines = text.split('\n');
    expect(await loadError(path.dirname(file))).toMatch(
      new RegExp(
        `^${escape(file)}:${lines.length}:${lines[lines.length - 1]!.length + 1}: not valid JSON \\(.+\\); the file ends there: is it truncated\\?$`,
      ),
    );
  });

  it('a syntax error inside tokenizer.json: the line and column of the offending character', async () => {
    // "decoder": {  ->  "decoder": }{   on its own line of the pretty-printed file
    const text = validText.replace('"decoder": {', '"decoder": }{');
    const file = folderWith(text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('"decoder": }{')) + 1;
    const column = lines[line - 1]!.indexOf('}') + 1;
    expect(await loadError(path.dirname(file))).toBe(
      `${file}:${line}:${column}: not valid JSON (Unexpected token '}')`,
    );
  });

  it.each<[string, string | ((json: Json) => unknown), string]>([
    [
      'an array',
      '[1, 2]',
      'expected a JSON object (a Hugging Face tokenizers file with "model", "added_tokens", ...), got [1,2]',
    ],
    [
      'no model',
      (j) => delete (j as Record<string, unknown>).model,
      'model: expected an object with the vocabulary ("type", "vocab", ...), got missing',
    ],
    [
      'a model type transformers.js cannot read',
      (j) => (j.model.type = 'WordLevel'),
      'model.type: expected one of BPE, WordPiece, Unigram (what the tokenizers library reads), got "WordLevel"',
    ],
    [
      'no vocabulary',
      (j) => delete j.model.vocab,
      'model.vocab: expected an object mapping each token to its id, got missing',
    ],
    [
      'a token id that is not a number',
      (j) => ((j.model.vocab as Record<string, unknown>)['Ġthe'] = 'x'),
      'model.vocab["Ġthe"]: expected a token id (an integer ≥ 0), got "x"',
    ],
    [
      'merges that are not a list',
      (j) => (j.model.merges = 5),
      'model.merges: expected an array of merges ("a b" or ["a", "b"]), got 5',
    ],
    [
      'a merge of one token',
      (j) => ((j.model.merges as unknown[])[3] = ['Ġ']),
      'model.merges[3]: expected a merge, "a b" or ["a", "b"], got ["Ġ"]',
    ],
    [
      'a Unigram model with an object vocabulary',
      (j) => Object.assign(j.model, { type: 'Unigram', vocab: { a: 0 } }),
      'model.vocab: expected an array of [token, score] pairs (a Unigram vocabulary), got {"a":0}',
    ],
    [
      'no added_tokens',
      (j) => delete j.added_tokens,
      'added_tokens: expected an array of {"id", "content", ...} (empty when there are none), got missing',
    ],
    [
      'an added token without an id',
      (j) => delete (j.added_tokens as Record<string, unknown>[])[0]!.id,
      'added_tokens[0].id: expected a token id (an integer ≥ 0), got missing',
    ],
    ['no decoder key', (j) => delete j.decoder, 'decoder: expected null or an object with a "type", got missing'],
    [
      'a pre_tokenizer given as a string',
      (j) => (j.pre_tokenizer = 'ByteLevel'),
      'pre_tokenizer: expected null or an object with a "type", got "ByteLevel"',
    ],
  ])('valid JSON of the wrong shape (%s): FILE: field: expected ..., got ...', async (_case, change, message) => {
    const file = typeof change === 'string' ? folderWith(change) : folderWithEdited((j) => void change(j));
    expect(await loadError(path.dirname(file))).toBe(`${file}: ${message}`);
  });

  it('what only the tokenizers library rejects (an unknown decoder type) still names tokenizer.json', async () => {
    const file = folderWithEdited((j) => (j.decoder = { type: 'Bogus' }));
    expect(await loadError(path.dirname(file))).toBe(
      `${file}: cannot build a tokenizer from it (and tokenizer_config.json beside it): Unknown Decoder type: Bogus`,
    );
  });

  it('a folder without tokenizer_config.json says so', async () => {
    const dir = tempDir('dumbo-tokenizer-');
    writeFileSync(path.join(dir, 'tokenizer.json'), validText);
    expect(await loadError(dir)).toBe(
      `${dir}: no tokenizer_config.json beside tokenizer.json (a Hugging Face tokenizer folder has both; {} will do)`,
    );
    writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
    expect((await loadTokenizer(dir)).vocabSize).toBe(512);
  });

  it('a corrupt tokenizer_config.json names that file', async () => {
    const dir = path.dirname(folderWith(validText));
    const configFile = path.join(dir, 'tokenizer_config.json');
    writeFileSync(configFile, '{\n  "tokenizer_class": "GPT2Tokenizer",\n');
    expect(await loadError(dir)).toBe(
      `${configFile}:3:1: not valid JSON (Expected double-quoted property name); the file ends there: is it truncated?`,
    );
    writeFileSync(configFile, '"GPT2Tokenizer"');
    expect(await loadError(dir)).toBe(
      `${configFile}: expected a JSON object (the tokenizer's settings), got "GPT2Tokenizer"`,
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
