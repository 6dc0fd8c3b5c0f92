// The quickstart corpus: one story from a plot picked at random, and corpora of stories up to a size in bytes
// (as JSONL), deterministic for a seed. Imported and re-exported by scripts/make-quickstart.mjs.
import { plotDiscovery, plotMaking, plotRainyDay } from './plots-days.mjs';
import { plotHelping, plotLostThing, plotNewFriend, plotSharing } from './plots-friends.mjs';
import { plotFear, plotRule, plotTrying } from './plots-growing.mjs';
import { Rng } from './rng.mjs';

const PLOTS = [
  plotLostThing,
  plotSharing,
  plotFear,
  plotHelping,
  plotMaking,
  plotRule,
  plotTrying,
  plotDiscovery,
  plotRainyDay,
  plotNewFriend,
];

/**
 * One story: paragraphs separated by a blank line.
 * @param {Rng} rng
 */
export function makeStory(rng) {
  return rng.pick(PLOTS)(rng).join('\n\n');
}

/**
 * Stories from `seed` until their JSONL passes `bytes`, leaving out any text in `exclude`.
 * @param {number} seed
 * @param {number} bytes
 * @param {Set<string>} [exclude]
 */
export function makeStories(seed, bytes, exclude = new Set()) {
  const rng = new Rng(seed);
  /** @type {string[]} */
  const stories = [];
  const seen = new Set(exclude);
  let size = 0;
  while (size < bytes) {
    const text = makeStory(rng);
    if (seen.has(text)) continue;
    seen.add(text);
    stories.push(text);
    size += Buffer.byteLength(JSON.stringify({ text }) + '\n');
  }
  return stories;
}

/** @param {string[]} stories */
export const toJsonl = (stories) => stories.map((text) => JSON.stringify({ text }) + '\n').join('');
