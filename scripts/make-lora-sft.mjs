// Makes the LoRA SFT example's data in resources/lora-sft/ (resources/examples/lora-sft.yaml): prompt/response
// rows, `{"prompt": "Q: Where does Mia play with the kite?\nA:", "response": " Mia plays with the kite at the
// beach."}`, in the quickstart stories' words (so the quickstart model's tokenizer knows them). The answer
// follows one rule the model can learn: every toy has its place (kite → beach, ball → park, ...), whoever plays.
// Deterministic (the quickstart's seeded PRNG): `node scripts/make-lora-sft.mjs [--out DIR]` rewrites the same
// bytes (a test checks it).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from './quickstart/rng.mjs';

const words = JSON.parse(readFileSync(new URL('./quickstart/words.json', import.meta.url), 'utf8'));
const NAMES = [...words.girls, ...words.boys];

/** Each toy's place: the rule the adapter learns. */
export const PLACE_OF = Object.fromEntries(
  words.toys.map((/** @type {string} */ toy, /** @type {number} */ i) => [
    toy,
    words.places[i % words.places.length].at,
  ]),
);

/**
 * `count` rows drawn with `seed`.
 * @param {number} count
 * @param {number} seed
 */
export function makeRows(count, seed) {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const name = rng.pick(NAMES);
    const toy = rng.pick(words.toys);
    return {
      prompt: `Q: Where does ${name} play with the ${toy}?\nA:`,
      response: ` ${name} plays with the ${toy} ${PLACE_OF[toy]}.`,
    };
  });
}

const toJsonl = (/** @type {object[]} */ rows) => rows.map((r) => JSON.stringify(r) + '\n').join('');

/**
 * Writes train.jsonl (400 rows) and eval.jsonl (40 rows, another seed) into `out`.
 * @param {string} out
 */
export function makeLoraSft(out) {
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'train.jsonl'), toJsonl(makeRows(400, 11)));
  writeFileSync(path.join(out, 'eval.jsonl'), toJsonl(makeRows(40, 12)));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const out = (at > 0 && process.argv[at + 1]) || fileURLToPath(new URL('../resources/lora-sft/', import.meta.url));
  makeLoraSft(out);
  process.stdout.write(`wrote ${out}\n`);
}
