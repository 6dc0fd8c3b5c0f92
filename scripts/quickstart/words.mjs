// What the quickstart's stories are made of, and what every plot starts with. The words and the plots' tables
// are data, in words.json (names, animals, traits, colors, likes, openers, homes, places, things, feelings)
// and tables.json (fears, troubles, projects, rules, skills, finds: a row a story); this file gives them
// their types and names, and holds the helpers of the plots: a character (`makeChar`, with its pronouns),
// the opening sentences about it (`intro`), and `fill`, which puts the character into a table's template.
// Imported by the plot modules beside it (plots-*.mjs).
import { readFileSync } from 'node:fs';
/** @typedef {import('./rng.mjs').Rng} Rng */

/** @param {string} file a JSON file beside this one */
const readJson = (file) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8'));

/**
 * A place, with the preposition used for being there (`at`), spots where things hide, and things to do there.
 * @typedef {{ name: string, at: string, spots: string[], doing: string[] }} Place
 */

/**
 * @type {{ girls: string[], boys: string[], animals: string[], traits: string[], colors: string[],
 *   likes: string[], openers: string[], homes: string[], places: Place[], toys: string[], treasures: string[],
 *   objectAdjectives: string[], sadWords: string[], happyWords: string[] }}
 */
const words = readJson('./words.json');
const { girls: GIRLS, boys: BOYS, animals: ANIMALS, traits: TRAITS, likes: LIKES, homes: HOMES } = words;
export const { colors: COLORS, openers: OPENERS, places: PLACES, toys: TOYS, treasures: TREASURES } = words;
export const { objectAdjectives: OBJ_ADJS, sadWords: SAD_WORDS, happyWords: HAPPY_WORDS } = words;

// The tables' templates name the story's character in capitals, which `fill` replaces: CHAR (the name), HE,
// HIS, HIMSELF and PARENT ("his mom").
/**
 * A fear: what scares, when it happens (`scene`), a grown-up's advice, the brave try (`act`), and after.
 * @typedef {{ fear: string, scene: string, advice: string, act: string, after: string }} Fear
 */
/**
 * Someone in trouble (`who`, `trouble`), and how the character helps and is thanked.
 * @typedef {{ who: string, trouble: string, help: string, thanks: string }} Trouble
 */
/**
 * Something made with a grown-up (`what`, `verb`), how, what goes wrong (`oops`) and how it ends (`fix`).
 * @typedef {{ what: string, verb: string, steps: string, oops: string, fix: string }} Project
 */
/**
 * A rule, what the character did instead, and what happened then.
 * @typedef {{ rule: string, did: string, then: string }} Rule
 */
/**
 * A skill, two ways trying it fails, and how it works out: clauses, with HE and HIS only.
 * @typedef {{ skill: string, fail: string, fail2: string, win: string }} Skill
 */
/**
 * A find, where it lies, what the character does with it, what it turns out to be (`inside`), and the end.
 * @typedef {{ find: string, where: string, open: string, inside: string, end: string }} Find
 */

/**
 * @type {{ fears: Fear[], troubles: Trouble[], projects: Project[], rules: Rule[], skills: Skill[],
 *   finds: Find[] }}
 */
export const TABLES = readJson('./tables.json');

/**
 * A character of a story, with the pronouns of its sentences.
 * @typedef {{ name: string, noun: string, trait: string, he: string, him: string, his: string, He: string,
 *   His: string, parent: string }} Char
 */

/** @param {string} s */
export const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
/** "a" or "an" and the word. @param {string} word */
export const a = (word) => (/^[aeiou]/i.test(word) ? 'an ' : 'a ') + word;

/**
 * @param {Rng} rng
 * @param {string[]} [avoid] names already used in the story
 * @returns {Char}
 */
export function makeChar(rng, avoid = []) {
  const girl = rng.chance(0.5);
  const names = (girl ? GIRLS : BOYS).filter((n) => !avoid.includes(n));
  const noun = rng.chance(0.55) ? (girl ? 'girl' : 'boy') : rng.pick(ANIMALS);
  const p = girl ? { he: 'she', him: 'her', his: 'her' } : { he: 'he', him: 'him', his: 'his' };
  return {
    name: rng.pick(names),
    noun,
    trait: rng.pick(TRAITS),
    ...p,
    He: cap(p.he),
    His: cap(p.his),
    parent: rng.pick(['mom', 'dad', 'mom', 'dad', 'grandma', 'grandpa']),
  };
}

/**
 * A template of tables.json with the character put in: CHAR is the name; HE, HIS, HIMSELF and PARENT ("his
 * mom") are the character's words, capitalized where they begin the template or a sentence in it.
 * @param {string} template
 * @param {Char} c
 */
export function fill(template, c) {
  const words = { CHAR: c.name, HE: c.he, HIS: c.his, HIMSELF: `${c.him}self`, PARENT: `${c.his} ${c.parent}` };
  /**
   * @param {string} name a placeholder: one of `words`, as the pattern below matches no other
   * @param {number} at where it stands in `text`, the template
   * @param {string} text
   */
  const put = (name, at, text) => {
    const word = words[/** @type {keyof typeof words} */ (name)];
    return at === 0 || text.endsWith('. ', at) ? cap(word) : word;
  };
  return template.replace(/\b(?:CHAR|HE|HIS|HIMSELF|PARENT)\b/g, put);
}

/**
 * The opening sentences: who the story is about.
 * @param {Rng} rng
 * @param {Char} c
 */
export function intro(rng, c) {
  const who = `${a(c.trait)} ${c.noun}`;
  const first = rng.pick([
    `Once upon a time, there was ${who} named ${c.name}.`,
    `Once upon a time, ${rng.pick(HOMES)}, there lived ${who} named ${c.name}.`,
    `There was once ${who} called ${c.name}.`,
    `${c.name} was ${who} who lived ${rng.pick(HOMES)}.`,
    `Once there was ${who}. ${c.His} name was ${c.name}.`,
  ]);
  const second = rng.pick([
    `${c.He} liked to ${rng.pick(LIKES)}.`,
    `${c.He} loved to ${rng.pick(LIKES)} every day.`,
    `${c.He} liked to ${rng.sample(LIKES, 2).join(' and ')}.`,
    `Every day, ${c.he} liked to ${rng.pick(LIKES)}.`,
    `${c.name} had many friends and ${c.he} was always ${rng.pick(['happy', 'busy', 'kind', 'smiling'])}.`,
  ]);
  return `${first} ${second}`;
}
