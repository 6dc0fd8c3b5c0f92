// Makes the quickstart assets in resources/quickstart/, all written by this script (nothing downloaded),
// so that `dumbo run resources/examples/quickstart.yaml` can train a small GPT-2 from scratch anywhere:
//   data/stories.jsonl, data/eval.jsonl   simple English stories ({"text": ...} a line) made from templates
//                                         and word lists (TinyStories-like: a beginning, a problem, an ending)
//   tokenizer/tokenizer.json (+ config)   a byte-level BPE tokenizer (GPT-2 style, 512 tokens) trained here
//                                         on stories.jsonl, in the Hugging Face `tokenizers` format
//   model/config.json (+ tokenizer)       a GPT-2 config of ~0.24 M parameters: a model folder minus weights
//   README.md                             what the folder holds, with the numbers of this build
// Everything is deterministic (a seeded PRNG, no Math.random, no clock in the output): running
// `node scripts/make-quickstart.mjs [--out DIR]` again rewrites the same bytes (a test checks it).
// This file is the entry point: the seeds and sizes, makeQuickstart() and the CLI. The parts live in
// scripts/quickstart/: rng.mjs (the PRNG), words.mjs and plots-*.mjs (the story templates), stories.mjs (the
// corpus), bpe.mjs (the tokenizer trainer and encoder), hf-files.mjs (the Hugging Face files and README.md);
// their exports are re-exported here, so importers need only this file.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VOCAB_SIZE, makeEncoder, trainBpe } from './quickstart/bpe.mjs';
import {
  MODEL_CONFIG,
  configJson,
  gpt2Parameters,
  readme,
  tokenizerConfig,
  tokenizerJson,
} from './quickstart/hf-files.mjs';
import { makeStories, toJsonl } from './quickstart/stories.mjs';

export {
  BYTE_TO_CHAR,
  BYTE_TOKENS,
  PRETOKENIZE,
  SPECIAL_ID,
  SPECIAL_TOKEN,
  VOCAB_SIZE,
  makeEncoder,
  preTokenize,
  trainBpe,
} from './quickstart/bpe.mjs';
export { MODEL_CONFIG, gpt2Parameters, tokenizerConfig, tokenizerJson } from './quickstart/hf-files.mjs';
export { Rng } from './quickstart/rng.mjs';
export { makeStories, makeStory } from './quickstart/stories.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT = path.join(root, 'resources', 'quickstart');

/** Seeds of the two corpora (the eval stories come from their own stream). */
export const TRAIN_SEED = 20240611;
export const EVAL_SEED = 777;
/** Size of stories.jsonl, in bytes (the generator stops at the first story past it); eval is ~5% of it. */
export const TRAIN_BYTES = 450_000;
export const EVAL_BYTES = 22_500;

/**
 * Makes every file; returns them (path relative to the output folder -> content) and the numbers.
 */
export function makeQuickstart() {
  const stories = makeStories(TRAIN_SEED, TRAIN_BYTES);
  const evalStories = makeStories(EVAL_SEED, EVAL_BYTES, new Set(stories));
  const { vocab, merges } = trainBpe(stories, VOCAB_SIZE - 1);
  if (vocab.length !== VOCAB_SIZE - 1) throw new Error(`BPE stopped at ${vocab.length} tokens`);
  const encode = makeEncoder(vocab, merges);
  let tokens = 0;
  let bytes = 0;
  for (const text of stories) {
    tokens += encode(text).length;
    bytes += Buffer.byteLength(text);
  }
  const trainJsonl = toJsonl(stories);
  const evalJsonl = toJsonl(evalStories);
  const stats = {
    stories: stories.length,
    storyBytes: Buffer.byteLength(trainJsonl),
    evalStories: evalStories.length,
    evalBytes: Buffer.byteLength(evalJsonl),
    merges: merges.length,
    tokensPerStory: tokens / stories.length,
    bytesPerToken: bytes / tokens,
    parameters: gpt2Parameters(MODEL_CONFIG),
  };
  const tok = tokenizerJson(vocab, merges);
  const tokConfig = tokenizerConfig();
  /** @type {Record<string, string>} */
  const files = {
    'README.md': readme(stats),
    'data/stories.jsonl': trainJsonl,
    'data/eval.jsonl': evalJsonl,
    'tokenizer/tokenizer.json': tok,
    'tokenizer/tokenizer_config.json': tokConfig,
    'model/config.json': configJson(),
    'model/tokenizer.json': tok,
    'model/tokenizer_config.json': tokConfig,
  };
  return { files, stats };
}

/** @param {string[]} argv */
function main(argv) {
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out' && argv[i + 1]) out = path.resolve(/** @type {string} */ (argv[++i]));
    else if (arg?.startsWith('--out=')) out = path.resolve(arg.slice('--out='.length));
    else {
      console.error(`usage: node scripts/make-quickstart.mjs [--out DIR]   (default: ${DEFAULT_OUT})`);
      process.exit(2);
    }
  }
  const start = performance.now();
  const { files, stats } = makeQuickstart();
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(out, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  const seconds = ((performance.now() - start) / 1000).toFixed(2);
  console.log(
    `quickstart assets in ${out} (${seconds} s): ${stats.stories} stories (${stats.storyBytes} B), ` +
      `${stats.evalStories} eval stories (${stats.evalBytes} B); tokenizer ${VOCAB_SIZE} tokens ` +
      `(${stats.merges} merges), ${stats.tokensPerStory.toFixed(1)} tokens/story, ` +
      `${stats.bytesPerToken.toFixed(2)} bytes/token; model ${stats.parameters} parameters`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
