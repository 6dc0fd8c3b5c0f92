/**
 * Tokenizers through @huggingface/transformers (tokenizer.json + tokenizer_config.json of a local folder),
 * wrapped into the SDK's `Tokenizer`. Only local files are read here; downloading is hub.ts's job.
 */

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Tokenizer } from '../core/index.js';

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

interface HFTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  get_vocab(): Map<string, number>;
  eos_token_id?: number;
  bos_token_id?: number;
  pad_token_id?: number;
  eos_token?: string;
  bos_token?: string;
  pad_token?: string;
  unk_token?: string;
  chat_template?: unknown;
}

export async function loadTokenizer(dir: string): Promise<EngineTokenizer> {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, 'tokenizer.json'))) {
    throw new Error(
      `${abs}: no tokenizer.json (a Hugging Face tokenizer folder has tokenizer.json and tokenizer_config.json)`,
    );
  }
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(abs) + path.sep;
  const hf = (await AutoTokenizer.from_pretrained(path.basename(abs), {
    local_files_only: true,
  })) as unknown as HFTokenizer;
  const vocabSize = hf.get_vocab().size;
  const specialTokens: Record<string, string> = {};
  for (const role of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
    const t = hf[role];
    if (typeof t === 'string') specialTokens[role] = t;
  }
  const id = (v: unknown) => (typeof v === 'number' && v >= 0 ? v : undefined);
  return {
    sourceDir: abs,
    files: TOKENIZER_FILES.filter((f) => existsSync(path.join(abs, f))),
    vocabSize,
    encode: (text, options) => hf.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }),
    // transformers.js throws on an empty list; nothing decodes to nothing.
    decode: (ids, options) =>
      ids.length === 0 ? '' : hf.decode(ids, { skip_special_tokens: options?.skipSpecialTokens ?? false }),
    eosTokenId: id(hf.eos_token_id),
    bosTokenId: id(hf.bos_token_id),
    padTokenId: id(hf.pad_token_id),
    specialTokens,
    chatTemplate: typeof hf.chat_template === 'string' ? hf.chat_template : undefined,
  };
}
