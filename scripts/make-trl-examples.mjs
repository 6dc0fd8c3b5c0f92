// Makes the datasets of the trl examples in resources/trl/, all written by this script (nothing downloaded),
// in the words of the quickstart stories (scripts/quickstart/words.json), so the quickstart tokenizer reads them
// in few tokens:
//   chat.jsonl, chat-eval.jsonl   chat rows ({"messages": [{role, content}, ...]}) for resources/examples/chat-sft.yaml:
//                                 one- and two-turn talks about the story characters, some with a system message
//   dpo.jsonl, dpo-eval.jsonl     preference rows ({"prompt", "chosen", "rejected"}) for resources/examples/dpo.yaml:
//                                 the chosen answer follows a rule the model can learn (it says yes and names the
//                                 one who asked), the rejected one is curt or rude
//   README.md                     what the folder holds, with the counts of this build
// Everything is deterministic (the quickstart's seeded PRNG, no Math.random, no clock in the output): running
// `node scripts/make-trl-examples.mjs [--out DIR]` again rewrites the same bytes (a test checks it).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from './quickstart/rng.mjs';
import { COLORS, PLACES, TOYS } from './quickstart/words.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT = path.join(root, 'resources', 'trl');

/** The quickstart's word lists (scripts/quickstart/words.json), as its stories use them. */
/** @type {{ girls: string[], boys: string[], animals: string[], traits: string[] }} */
const W = JSON.parse(readFileSync(path.join(root, 'scripts', 'quickstart', 'words.json'), 'utf8'));

export const CHAT_SEED = 1101;
export const CHAT_EVAL_SEED = 1102;
export const DPO_SEED = 2201;
export const DPO_EVAL_SEED = 2202;
export const CHAT_ROWS = 240;
export const CHAT_EVAL_ROWS = 24;
export const DPO_ROWS = 96;
export const DPO_EVAL_ROWS = 24;

/** @param {Rng} rng */
function name(rng) {
  return rng.pick(rng.chance(0.5) ? W.girls : W.boys);
}

/**
 * One chat: a short question about a story character and its answer, sometimes a system message first and a
 * second turn after.
 * @param {Rng} rng
 * @returns {{ role: string, content: string }[]}
 */
export function makeChat(rng) {
  const who = name(rng);
  const messages = rng.chance(0.15) ? [{ role: 'system', content: 'Be kind.' }] : [];
  const talk = rng.int(3);
  if (talk === 0) {
    const [color, toy] = [rng.pick(COLORS), rng.pick(TOYS)];
    messages.push(
      { role: 'user', content: `${who} has a ${color} ${toy}. What color is it?` },
      { role: 'assistant', content: `It is ${color}.` },
    );
  } else if (talk === 1) {
    messages.push(
      { role: 'user', content: `Who is ${who}?` },
      { role: 'assistant', content: `${who} is a ${rng.pick(W.traits)} friend.` },
    );
  } else {
    const animal = rng.pick(W.animals);
    messages.push(
      { role: 'user', content: `Where is the ${animal}?` },
      { role: 'assistant', content: `The ${animal} is ${rng.pick(PLACES).at}.` },
    );
  }
  if (rng.chance(0.15)) {
    messages.push({ role: 'user', content: 'Thanks!' }, { role: 'assistant', content: 'You are welcome!' });
  }
  return messages;
}

const REQUESTS = ['play with you', 'have a turn', 'come too', 'sit here', 'help you'];
const RUDE = [' No. Go away.', ' No!', ' I do not care.', ' Stop it.', ' No, you are silly.'];

/**
 * One preference pair: a request; a kind answer that says yes and names the one who asked (chosen); a curt or
 * rude one (rejected).
 * @param {Rng} rng
 * @returns {{ prompt: string, chosen: string, rejected: string }}
 */
export function makePair(rng) {
  const who = name(rng);
  const request = rng.chance(0.3) ? `see the ${rng.pick(W.animals)}` : rng.pick(REQUESTS);
  return { prompt: `${who}: can I ${request}?\nYou:`, chosen: ` Yes, ${who}!`, rejected: rng.pick(RUDE) };
}

/**
 * `count` distinct items of `make`, none of them in `avoid` (compared as JSON).
 * @template T
 * @param {number} seed
 * @param {number} count
 * @param {(rng: Rng) => T} make
 * @param {Set<string>} [avoid]
 * @returns {string[]} the items as JSON lines
 */
function distinct(seed, count, make, avoid = new Set()) {
  const rng = new Rng(seed);
  const seen = new Set(avoid);
  const out = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries > count * 100) throw new Error(`only ${out.length} distinct rows of ${count}`);
    const line = JSON.stringify(make(rng));
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(line);
  }
  return out;
}

const jsonl = (/** @type {string[]} */ lines) => lines.join('\n') + '\n';

/** @param {Record<string, number>} n */
function readme(n) {
  return `# The trl examples' datasets

Made by \`node scripts/make-trl-examples.mjs\` (deterministic: running it again rewrites the same bytes), in the
words of the quickstart stories, for the quickstart tokenizer and model (\`resources/quickstart/\`).

- \`chat.jsonl\` (${n.chat} rows), \`chat-eval.jsonl\` (${n.chatEval} rows): chat rows, \`{"messages": [{"role",
  "content"}, ...]}\`: a short question about a story character and its answer, some with a system message first,
  some with a second turn. Used by \`resources/examples/chat-sft.yaml\` (trl, \`method: sft\`, assistant-only
  loss).
- \`dpo.jsonl\` (${n.dpo} rows), \`dpo-eval.jsonl\` (${n.dpoEval} rows): preference rows, \`{"prompt", "chosen",
  "rejected"}\`. The chosen answer follows a rule the model can learn: it says yes and names the one who asked
  (\`" Yes, Tom!"\`); the rejected answer is one of ${RUDE.length} curt or rude replies. Used by
  \`resources/examples/dpo.yaml\` (trl, \`method: dpo\`).

No eval row is also a training row.
`;
}

/** Makes every file; returns them (path relative to the output folder -> content). */
export function makeTrlExamples() {
  const chat = distinct(CHAT_SEED, CHAT_ROWS, (rng) => ({ messages: makeChat(rng) }));
  const chatEval = distinct(CHAT_EVAL_SEED, CHAT_EVAL_ROWS, (rng) => ({ messages: makeChat(rng) }), new Set(chat));
  const dpo = distinct(DPO_SEED, DPO_ROWS, makePair);
  const dpoEval = distinct(DPO_EVAL_SEED, DPO_EVAL_ROWS, makePair, new Set(dpo));
  /** @type {Record<string, string>} */
  const files = {
    'README.md': readme({ chat: chat.length, chatEval: chatEval.length, dpo: dpo.length, dpoEval: dpoEval.length }),
    'chat.jsonl': jsonl(chat),
    'chat-eval.jsonl': jsonl(chatEval),
    'dpo.jsonl': jsonl(dpo),
    'dpo-eval.jsonl': jsonl(dpoEval),
  };
  return files;
}

/** @param {string[]} argv */
function main(argv) {
  let out = DEFAULT_OUT;
  try {
    const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } }, strict: true });
    if (values.out) out = path.resolve(values.out);
  } catch {
    console.error(`usage: node scripts/make-trl-examples.mjs [--out DIR]   (default: ${DEFAULT_OUT})`);
    process.exit(2);
  }
  const files = makeTrlExamples();
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, rel), content);
  }
  console.log(`trl example datasets in ${out}: ${Object.keys(files).join(', ')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
