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
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT = path.join(root, 'resources', 'quickstart');

/** Seeds of the two corpora (the eval stories come from their own stream). */
export const TRAIN_SEED = 20240611;
export const EVAL_SEED = 777;
/** Size of stories.jsonl, in bytes (the generator stops at the first story past it); eval is ~5% of it. */
export const TRAIN_BYTES = 450_000;
export const EVAL_BYTES = 22_500;
/** The tokenizer: 256 byte tokens + merges up to 511 tokens, then the special token at id 511. */
export const VOCAB_SIZE = 512;
export const SPECIAL_TOKEN = '<|endoftext|>';
export const SPECIAL_ID = VOCAB_SIZE - 1;

// ---------------------------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32: 32-bit integer arithmetic, the same numbers on every platform).

export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). @param {number} n */
  int(n) {
    return Math.floor(this.next() * n);
  }
  /** @param {number} p */
  chance(p) {
    return this.next() < p;
  }
  /**
   * @template T
   * @param {readonly T[]} items
   * @returns {T}
   */
  pick(items) {
    if (items.length === 0) throw new Error('pick from an empty list');
    return /** @type {T} */ (items[this.int(items.length)]);
  }
  /**
   * Distinct items (k ≤ items.length), in random order.
   * @template T
   * @param {readonly T[]} items
   * @param {number} k
   * @returns {T[]}
   */
  sample(items, k) {
    const pool = items.slice();
    /** @type {T[]} */
    const out = [];
    for (let i = 0; i < k && pool.length > 0; i++)
      out.push(/** @type {T} */ (pool.splice(this.int(pool.length), 1)[0]));
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Story generator: word lists, characters and ten plots, each told with varied sentence templates.

const GIRL_NAMES = ['Lily', 'Mia', 'Sue', 'Anna', 'Emma', 'Lucy', 'Zoe', 'Ella', 'Amy', 'Sara', 'Kim', 'Rosie'];
const GIRL_NAMES_2 = ['Jane', 'Molly', 'Daisy', 'Nora', 'Ruby', 'Hannah', 'Lola', 'Grace', 'Ivy', 'Pam'];
const BOY_NAMES = ['Tom', 'Ben', 'Max', 'Sam', 'Tim', 'Jack', 'Leo', 'Finn', 'Jake', 'Bob', 'Dan', 'Joe'];
const BOY_NAMES_2 = ['Billy', 'Toby', 'Ollie', 'Ned', 'Timmy', 'Sid', 'Rex', 'Jim', 'Pete', 'Will'];
const GIRLS = [...GIRL_NAMES, ...GIRL_NAMES_2];
const BOYS = [...BOY_NAMES, ...BOY_NAMES_2];
const ANIMALS = ['cat', 'dog', 'bunny', 'bear', 'bird', 'fox', 'frog', 'duck', 'mouse', 'puppy', 'kitten', 'owl'];
const ANIMALS_2 = ['turtle', 'lion', 'pig', 'squirrel', 'hen', 'sheep', 'elephant', 'monkey', 'deer', 'horse'];
const ALL_ANIMALS = [...ANIMALS, ...ANIMALS_2];
const TRAITS = ['little', 'happy', 'kind', 'curious', 'brave', 'shy', 'small', 'silly', 'friendly', 'sweet'];
const TRAITS_2 = ['cheerful', 'clever', 'gentle', 'playful', 'busy', 'funny', 'quiet', 'good'];
const ALL_TRAITS = [...TRAITS, ...TRAITS_2];
const COLORS = ['red', 'blue', 'yellow', 'green', 'pink', 'purple', 'orange', 'white', 'brown', 'black'];
const LIKES = [
  'play outside',
  'run and jump',
  'sing songs',
  'draw pictures',
  'read books',
  'play in the sun',
  'look at the stars',
  'pick flowers',
  'dance',
  'climb trees',
  'play games with friends',
  'splash in puddles',
  'watch the clouds',
  'build things',
];
const OPENERS = [
  'One day,',
  'One sunny day,',
  'One morning,',
  'One day,',
  'One bright morning,',
  'One afternoon,',
  'One warm day,',
  'The next day,',
  'One Saturday,',
];
const HOMES = [
  'in a small house',
  'in a little house',
  'in a big town',
  'in a quiet village',
  'in a cozy house',
  'in a house by the sea',
  'in a house near the woods',
  'on a little farm',
];

/**
 * Places, with the preposition used for being there and spots where things hide.
 * @typedef {{ name: string, at: string, spots: string[], doing: string[] }} Place
 * @type {Place[]}
 */
const PLACES = [
  {
    name: 'park',
    at: 'in the park',
    spots: ['bench', 'slide', 'swings', 'big tree', 'bush'],
    doing: ['went down the slide', 'played on the swings', 'ran on the grass'],
  },
  {
    name: 'forest',
    at: 'in the forest',
    spots: ['log', 'rock', 'tall tree', 'bush', 'pile of leaves'],
    doing: ['walked under the tall trees', 'jumped over logs', 'looked at the mushrooms'],
  },
  {
    name: 'garden',
    at: 'in the garden',
    spots: ['flowers', 'big pot', 'fence', 'watering can', 'bush'],
    doing: ['smelled the flowers', 'watched the bees', 'helped water the plants'],
  },
  {
    name: 'beach',
    at: 'at the beach',
    spots: ['rock', 'boat', 'towel', 'sand castle', 'big umbrella'],
    doing: ['dug in the sand', 'looked for shells', 'ran in the waves'],
  },
  {
    name: 'farm',
    at: 'on the farm',
    spots: ['hay', 'fence', 'barn door', 'wagon', 'water trough'],
    doing: ['fed the chickens', 'played in the hay', 'said hello to the cows'],
  },
  {
    name: 'lake',
    at: 'by the lake',
    spots: ['rock', 'boat', 'reeds', 'old dock', 'tree'],
    doing: ['threw stones in the water', 'watched the ducks', 'sat on the dock'],
  },
  {
    name: 'meadow',
    at: 'in the meadow',
    spots: ['tall grass', 'rock', 'flowers', 'tree', 'hill'],
    doing: ['chased butterflies', 'rolled down the hill', 'picked flowers'],
  },
  {
    name: 'playground',
    at: 'at the playground',
    spots: ['slide', 'sandbox', 'swings', 'bench', 'climbing frame'],
    doing: ['played in the sandbox', 'went on the swings', 'climbed up the ladder'],
  },
];
const TOYS = ['ball', 'kite', 'teddy bear', 'toy car', 'doll', 'toy boat', 'drum', 'truck', 'top', 'yo-yo'];
const TREASURES = ['hat', 'book', 'balloon', 'scarf', 'necklace', 'ring', 'blanket', 'bag', 'shoe', 'whistle'];
const OBJ_ADJS = ['red', 'blue', 'big', 'shiny', 'soft', 'pretty', 'yellow', 'green', 'new', 'little', 'special'];
const SAD_WORDS = ['sad', 'upset', 'worried', 'unhappy'];
const HAPPY_WORDS = ['happy', 'glad', 'excited', 'joyful'];

/**
 * A character of a story, with the pronouns of its sentences.
 * @typedef {{ name: string, noun: string, trait: string, he: string, him: string, his: string, He: string,
 *   His: string, parent: string }} Char
 */

/** @param {string} s */
const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
/** "a" or "an" and the word. @param {string} word */
const a = (word) => (/^[aeiou]/i.test(word) ? 'an ' : 'a ') + word;

/**
 * @param {Rng} rng
 * @param {string[]} [avoid] names already used in the story
 * @returns {Char}
 */
function makeChar(rng, avoid = []) {
  const girl = rng.chance(0.5);
  const names = (girl ? GIRLS : BOYS).filter((n) => !avoid.includes(n));
  const noun = rng.chance(0.55) ? (girl ? 'girl' : 'boy') : rng.pick(ALL_ANIMALS);
  const p = girl ? { he: 'she', him: 'her', his: 'her' } : { he: 'he', him: 'him', his: 'his' };
  return {
    name: rng.pick(names),
    noun,
    trait: rng.pick(ALL_TRAITS),
    ...p,
    He: cap(p.he),
    His: cap(p.his),
    parent: rng.pick(['mom', 'dad', 'mom', 'dad', 'grandma', 'grandpa']),
  };
}

/**
 * The opening sentences: who the story is about.
 * @param {Rng} rng
 * @param {Char} c
 */
function intro(rng, c) {
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

/**
 * Plot: a favourite thing is lost, a friend helps to look for it, and it is found.
 * @param {Rng} rng
 */
function plotLostThing(rng) {
  const c = makeChar(rng);
  const f = makeChar(rng, [c.name]);
  const place = rng.pick(PLACES);
  const thing = rng.pick([...TOYS, ...TREASURES]);
  const adj = rng.pick(OBJ_ADJS);
  const [s1, s2, s3] = /** @type {[string, string, string]} */ (rng.sample(place.spots, 3));
  const p1 = `${intro(rng, c)} ${rng.pick([
    `${c.He} had ${a(adj)} ${thing}. ${c.He} took it everywhere.`,
    `${c.His} favorite thing was ${a(adj)} ${thing}.`,
    `${c.He} loved ${c.his} ${adj} ${thing} very much.`,
  ])}`;
  const p2 = [
    `${rng.pick(OPENERS)} ${c.name} went to the ${place.name} with ${c.his} ${thing}.`,
    `${c.He} ${rng.sample(place.doing, 2).join(' and ')}.`,
    rng.pick([
      `When it was time to go home, ${c.name} looked for ${c.his} ${thing}, but it was gone!`,
      `But when ${c.he} looked down, the ${thing} was not there.`,
      `Then ${c.he} saw that ${c.his} ${thing} was gone.`,
    ]),
    rng.pick([
      `${c.name} felt very ${rng.pick(SAD_WORDS)}. ${c.He} started to cry.`,
      `${c.name} was ${rng.pick(SAD_WORDS)}. ${c.He} did not know what to do.`,
      `${c.name} sat down and cried.`,
    ]),
  ].join(' ');
  const p3 = [
    rng.pick([
      `Just then, ${a(f.noun)} named ${f.name} came by. "Why are you sad, ${c.name}?" ${f.he} asked.`,
      `${f.name}, ${a(f.trait)} ${f.noun}, saw ${c.name} crying. "What is wrong?" asked ${f.name}.`,
      `A friend named ${f.name} came over. "${c.name}, why are you crying?" ${f.he} asked.`,
    ]),
    `"I lost my ${thing}," said ${c.name}.`,
    rng.pick([
      `"Don't worry. I will help you find it," said ${f.name}.`,
      `"Let's look for it together," said ${f.name}.`,
      `"I can help you look," ${f.name} said with a smile.`,
    ]),
    `They looked under the ${s1}, but it was not there.`,
    `They looked behind the ${s2}, but it was not there either.`,
    rng.pick([
      `Then ${f.name} saw something ${COLORS.includes(adj) ? adj : 'familiar'} next to the ${s3}. "Look!" ${f.he} said. It was the ${thing}!`,
      `At last, ${c.name} looked next to the ${s3}, and there it was!`,
      `Then they heard a bird sing by the ${s3}. They went to look, and there was the ${thing}!`,
    ]),
  ].join(' ');
  const p4 = [
    rng.pick([
      `${c.name} was so ${rng.pick(HAPPY_WORDS)}. "Thank you, ${f.name}!" ${c.he} said, and gave ${f.name} a big hug.`,
      `${c.name} smiled and hugged ${c.his} ${thing}. "Thank you for helping me, ${f.name}," ${c.he} said.`,
      `"You are a good friend," said ${c.name}. ${f.name} smiled.`,
    ]),
    rng.pick([
      `From that day on, ${c.name} always kept ${c.his} ${thing} close.`,
      `${c.name} learned to take good care of ${c.his} things.`,
      `The two friends played together until the sun went down.`,
      `After that, ${c.name} and ${f.name} were best friends.`,
    ]),
  ].join(' ');
  return [p1, p2, p3, p4];
}

/**
 * Plot: someone does not want to share a toy, feels lonely, and shares after all.
 * @param {Rng} rng
 */
function plotSharing(rng) {
  const c = makeChar(rng);
  const f = makeChar(rng, [c.name]);
  const place = rng.pick(PLACES);
  const toy = rng.pick(TOYS);
  const color = rng.pick(COLORS);
  const p1 = `${intro(rng, c)} ${c.He} had ${a(color)} ${toy} that ${c.he} loved very much.`;
  const p2 = [
    `${rng.pick(OPENERS)} ${c.name} was playing with ${c.his} ${toy} ${place.at}.`,
    rng.pick([
      `${f.name} came over and said, "Can I play with your ${toy} too?"`,
      `${cap(a(f.trait))} ${f.noun} named ${f.name} came to ${c.him}. "Can I play with you?" ${f.he} asked.`,
      `${c.His} friend ${f.name} saw the ${toy}. "Wow! Can I have a turn?" ${f.he} asked.`,
    ]),
    rng.pick([
      `${c.name} held the ${toy} tight. "No, it is mine!" ${c.he} said.`,
      `But ${c.name} did not want to share. "Go away. It is my ${toy}," ${c.he} said.`,
      `${c.name} shook ${c.his} head. "No. I want to play alone," ${c.he} said.`,
    ]),
    `${f.name} felt ${rng.pick(SAD_WORDS)} and walked away.`,
  ].join(' ');
  const p3 = [
    rng.pick([
      `${c.name} played alone, but it was not fun anymore.`,
      `Soon, ${c.name} felt lonely. Playing alone was boring.`,
      `${c.name} played with the ${toy} for a while, but ${c.he} did not feel happy.`,
    ]),
    `${c.He} thought about ${f.name}.`,
    rng.pick([
      `${c.He} ran after ${f.him} and said, "I am sorry. Let's play together."`,
      `${c.He} went to ${f.name} and said, "I am sorry. You can play with my ${toy} too."`,
      `"${f.name}, wait!" ${c.he} called. "Do you want to play with me?"`,
    ]),
    `${f.name} smiled. They took turns with the ${toy} and had lots of fun.`,
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} learned that sharing makes everyone happy.`,
    `From that day on, ${c.name} always shared ${c.his} toys with ${c.his} friends.`,
    `Playing together was much more fun than playing alone. ${c.name} and ${f.name} became best friends.`,
    `${c.name} was glad ${c.he} shared. Sharing is caring.`,
  ]);
  return [p1, p2, p3, p4];
}

/**
 * Fears: what scares, when it happens, and what helps.
 * @typedef {{ fear: string, scene: string, advice: string, act: string, after: string }} Fear
 * @type {Fear[]}
 */
const FEARS = [
  {
    fear: 'the dark',
    scene: 'One night, the light went out and the room was very dark.',
    advice: 'The dark is just the night saying good night. I am right here.',
    act: 'looked out the window and saw the moon and the bright stars',
    after: 'The dark was not so bad after all. It was quiet and calm.',
  },
  {
    fear: 'big waves',
    scene: 'One day, the family went to the beach. The waves were big and loud.',
    advice: 'Hold my hand. We will go in slowly together.',
    act: 'put one foot in the water, then the other foot',
    after: 'The water was cool and nice. Soon, CHAR was jumping over the little waves.',
  },
  {
    fear: 'thunder',
    scene: 'One evening, a big storm came. BOOM! The thunder was very loud.',
    advice: 'Thunder is just a loud noise. It cannot hurt you. Let us count the seconds together.',
    act: 'hugged a soft blanket and counted with PARENT',
    after: 'Soon the storm went away, and the sky was clear again.',
  },
  {
    fear: 'the big dog next door',
    scene: 'One day, the big dog came to the fence and barked, "Woof! Woof!"',
    advice: 'He is a friendly dog. He just wants to say hello.',
    act: 'held out a hand slowly, and the dog licked it',
    after: 'The dog wagged its tail. It was friendly after all!',
  },
  {
    fear: 'the tall slide',
    scene: 'One day, at the playground, all the other kids went down the tall slide.',
    advice: 'You can do it. I will wait for you at the bottom.',
    act: 'climbed up the ladder, sat down and let go',
    after: 'Whoosh! It was so much fun that CHAR went down again and again.',
  },
  {
    fear: 'the water',
    scene: 'One day, PARENT took CHAR to the pool to learn to swim.',
    advice: 'I will hold you. Just kick your legs like a little frog.',
    act: 'kicked and kicked',
    after: 'Soon CHAR could swim all by HIMSELF.',
  },
  {
    fear: 'bees',
    scene: 'One day, a bee flew near the flowers. Bzzz!',
    advice: 'If you stay calm, the bee will not hurt you. It only wants the flowers.',
    act: 'stood still and watched the bee',
    after: 'The bee went from flower to flower and then flew away.',
  },
];

/**
 * Plot: a fear, a grown-up's advice, and a brave try.
 * @param {Rng} rng
 */
function plotFear(rng) {
  const c = makeChar(rng);
  const fr = rng.pick(FEARS);
  /** @param {string} s */
  const fill = (s) =>
    s
      .replace(/CHAR/g, c.name)
      .replace(/PARENT/g, `${c.his} ${c.parent}`)
      .replace(/HIMSELF/g, c.him === 'her' ? 'herself' : 'himself');
  const p1 = `${intro(rng, c)} But ${c.name} was scared of ${fr.fear}.`;
  const p2 = [
    fill(fr.scene),
    rng.pick([
      `${c.name} was very scared. ${c.He} wanted to run away.`,
      `${c.name} felt scared and started to shake.`,
      `"I am scared!" cried ${c.name}.`,
    ]),
  ].join(' ');
  const p3 = [
    rng.pick([
      `${c.His} ${c.parent} came and sat next to ${c.him}.`,
      `${c.His} ${c.parent} gave ${c.him} a big hug.`,
      `${c.His} ${c.parent} smiled and held ${c.his} hand.`,
    ]),
    `"${fill(fr.advice).replace(/\.$/, ',')}" ${c.his} ${c.parent} said.`,
    rng.pick([`${c.name} took a deep breath.`, `${c.name} was still a little scared, but ${c.he} tried.`]),
    `${c.He} ${fill(fr.act)}.`,
    fill(fr.after),
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} was not scared anymore. ${c.He} felt brave and proud.`,
    `"I did it!" said ${c.name}. ${c.His} ${c.parent} was very proud of ${c.him}.`,
    `From that day on, ${c.name} was not afraid of ${fr.fear}.`,
    `${c.name} learned that being brave means trying, even when you are scared.`,
  ]);
  return [p1, p2, p3, p4];
}

/**
 * Someone in trouble, and how the hero helps.
 * @typedef {{ who: string, trouble: string, help: string, thanks: string }} Trouble
 * @type {Trouble[]}
 */
const TROUBLES = [
  {
    who: 'a little bird',
    trouble: 'had a hurt wing and could not fly',
    help: 'HE made a soft bed of leaves for the bird and gave it some water. After a few days, the bird could fly again.',
    thanks: 'The bird sang a happy song for CHAR.',
  },
  {
    who: 'a small kitten',
    trouble: 'was stuck up in a tall tree',
    help: 'HE ran to get PARENT. PARENT took a ladder and helped the kitten climb down.',
    thanks: 'The kitten said, "Meow!" and rubbed its head on CHAR.',
  },
  {
    who: 'a baby duck',
    trouble: 'could not find its mom',
    help: 'HE walked with the baby duck along the water. Soon they heard, "Quack, quack!" It was the mother duck!',
    thanks: 'The baby duck swam to its mom, and they both quacked a happy thank you.',
  },
  {
    who: 'an old man',
    trouble: 'dropped all his apples on the road',
    help: 'HE picked up the apples, one by one, and put them back in the bag.',
    thanks: 'The old man smiled and gave CHAR a big red apple.',
  },
  {
    who: 'a little ant',
    trouble: 'was trying to carry a big crumb',
    help: 'HE broke the crumb into small pieces so the ant could carry them home.',
    thanks: 'The ant waved its tiny legs as if to say thank you.',
  },
  {
    who: 'a sad puppy',
    trouble: 'was wet and cold in the rain',
    help: 'HE dried the puppy with a warm towel and gave it some food.',
    thanks: 'The puppy wagged its tail and licked CHAR on the nose.',
  },
  {
    who: 'a little turtle',
    trouble: 'was on its back and could not turn over',
    help: 'HE gently turned the turtle over.',
    thanks: 'The turtle looked at CHAR and then walked slowly to the pond.',
  },
];

/**
 * Plot: finding someone in trouble and helping.
 * @param {Rng} rng
 */
function plotHelping(rng) {
  const c = makeChar(rng);
  const place = rng.pick(PLACES);
  const t = rng.pick(TROUBLES);
  /** @param {string} s */
  const fill = (s) =>
    s
      .replace(/CHAR/g, c.name)
      .replace(/^HE /, `${c.name} `)
      .replace(/PARENT/, `${c.his} ${c.parent}`)
      .replace(/PARENT/g, `${cap(c.his)} ${c.parent}`);
  const p1 = intro(rng, c);
  const p2 = [
    rng.pick([
      `${rng.pick(OPENERS)} ${c.name} was walking ${place.at} when ${c.he} heard a small sound.`,
      `${rng.pick(OPENERS)} ${c.name} went to play ${place.at}. Suddenly, ${c.he} heard a small cry.`,
      `${rng.pick(OPENERS)} ${c.name} and ${c.his} ${c.parent} went for a walk ${place.at}.`,
    ]),
    `${c.He} looked around and saw ${t.who}. It ${t.trouble}.`,
    rng.pick([
      `"Oh no! I will help you," said ${c.name}.`,
      `"Don't be sad. I can help," ${c.name} said softly.`,
      `${c.name} wanted to help.`,
    ]),
  ].join(' ');
  const p3 = `${fill(t.help)} ${fill(t.thanks)}`;
  const p4 = [
    rng.pick([
      `${c.name} felt warm and happy inside.`,
      `${c.name} smiled a big smile.`,
      `${c.His} ${c.parent} said, "I am proud of you, ${c.name}. You have a kind heart."`,
    ]),
    rng.pick([
      `Helping others made ${c.him} feel good.`,
      `${c.He} learned that it is good to help others.`,
      `It was the best day ever.`,
      `When you help others, you make the world a little better.`,
    ]),
  ].join(' ');
  return [p1, p2, p3, p4];
}

/**
 * Things made with a grown-up, what goes wrong, and how it ends.
 * @typedef {{ what: string, verb: string, steps: string, oops: string, fix: string }} Project
 * @type {Project[]}
 */
const PROJECTS = [
  {
    what: 'a cake',
    verb: 'bake',
    steps: 'They mixed the flour, the eggs and the sugar in a big bowl.',
    oops: 'But CHAR dropped the bowl, and the batter went all over the floor!',
    fix: 'They cleaned up the mess and made the batter again. This time, the cake was perfect.',
  },
  {
    what: 'a sand castle',
    verb: 'build',
    steps: 'They dug the sand and made tall towers and a deep moat.',
    oops: 'Then a big wave came and knocked the castle down!',
    fix: 'They built it again, a little farther from the water. It was even better than before.',
  },
  {
    what: 'a picture',
    verb: 'paint',
    steps: 'CHAR painted a big sun, a blue sky and a green tree.',
    oops: 'But then CHAR spilled the water, and the colors ran together!',
    fix: 'PARENT said, "Look, now it looks like a rainbow!" They added some birds, and it was beautiful.',
  },
  {
    what: 'a snowman',
    verb: 'make',
    steps: 'They rolled a big ball of snow, then a smaller one, then a small head.',
    oops: 'But the head rolled off and broke into pieces!',
    fix: 'They made a new head and gave the snowman a carrot nose and a warm hat.',
  },
  {
    what: 'a tall tower',
    verb: 'build',
    steps: 'They put one block on top of another, higher and higher.',
    oops: 'Then the tower shook and fell down with a crash!',
    fix: 'They built it again, with the big blocks at the bottom. This time, it stood tall.',
  },
  {
    what: 'cookies',
    verb: 'bake',
    steps: 'They made the dough and cut it into stars and hearts.',
    oops: 'But they forgot the cookies in the oven, and some of them got dark!',
    fix: 'They ate the good ones and gave the dark ones to the birds. Everyone was happy.',
  },
  {
    what: 'a birdhouse',
    verb: 'make',
    steps: 'They cut the wood, and CHAR helped with the glue.',
    oops: 'But the roof was crooked and fell off!',
    fix: 'They fixed the roof with more glue and hung the birdhouse in a tree. Soon a bird came to live in it.',
  },
];

/**
 * Plot: making something together, a mishap, trying again.
 * @param {Rng} rng
 */
function plotMaking(rng) {
  const c = makeChar(rng);
  const pr = rng.pick(PROJECTS);
  /** @param {string} s */
  const fill = (s) =>
    s
      .replace(/^PARENT/, `${c.His} ${c.parent}`)
      .replace(/PARENT/g, `${c.his} ${c.parent}`)
      .replace(/CHAR/g, c.name);
  const p1 = intro(rng, c);
  const p2 = [
    `${rng.pick(OPENERS)} ${c.name} and ${c.his} ${c.parent} wanted to ${pr.verb} ${pr.what}.`,
    rng.pick([
      `${c.name} was very ${rng.pick(['excited', 'happy', 'glad'])}.`,
      `"Can I help?" asked ${c.name}. "Of course!" said ${c.his} ${c.parent}.`,
      `"This will be fun!" said ${c.name}.`,
    ]),
    fill(pr.steps),
  ].join(' ');
  const p3 = [
    fill(pr.oops),
    rng.pick([
      `${c.name} felt ${rng.pick(SAD_WORDS)}. ${c.He} wanted to cry.`,
      `"Oh no!" said ${c.name}.`,
      `${c.name} was ${rng.pick(SAD_WORDS)}. "Now it is ruined," ${c.he} said.`,
    ]),
    rng.pick([
      `But ${c.his} ${c.parent} said, "It is okay. We can try again."`,
      `${c.His} ${c.parent} smiled. "Mistakes happen. Let's try again."`,
    ]),
    fill(pr.fix),
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} was very proud. ${c.He} learned that it is okay to make mistakes.`,
    `${c.name} showed ${pr.what === 'cookies' ? 'the cookies' : `the ${pr.what.replace(/^an? /, '')}`} to everyone. It was a very good day.`,
    `"We did it!" said ${c.name}. Trying again made it even better.`,
  ]);
  return [p1, p2, p3, p4];
}

/**
 * Rules, what breaking them does.
 * @typedef {{ rule: string, did: string, then: string }} Rule
 * @type {Rule[]}
 */
const RULES = [
  {
    rule: "Don't climb the tall tree",
    did: 'climbed up the tall tree',
    then: 'A branch broke, and CHAR fell down and hurt HIS knee.',
  },
  {
    rule: 'Do not play near the muddy pond',
    did: 'ran to the muddy pond to look at the frogs',
    then: 'CHAR slipped and fell into the mud. HIS clothes were all dirty and wet.',
  },
  {
    rule: "Don't eat too many cookies",
    did: 'ate one cookie, then another, and another',
    then: 'Soon CHAR had a big tummy ache.',
  },
  {
    rule: 'Stay close to me at the market',
    did: 'ran off to look at the toys',
    then: 'When CHAR looked up, PARENT was gone. CHAR was lost!',
  },
  {
    rule: "Don't jump on the bed",
    did: 'jumped on the bed, up and down, up and down',
    then: 'CHAR fell off the bed and bumped HIS head.',
  },
  {
    rule: 'Wear your coat when you go out',
    did: 'went outside without a coat',
    then: 'The wind was cold, and soon CHAR was shaking and sneezing.',
  },
  {
    rule: 'Do not throw the ball in the house',
    did: 'threw the ball in the house',
    then: 'The ball hit a vase, and it fell and broke into pieces.',
  },
];

/**
 * Plot: a rule, not listening, the consequence, and sorry.
 * @param {Rng} rng
 */
function plotRule(rng) {
  const c = makeChar(rng);
  const r = rng.pick(RULES);
  /** @param {string} s */
  const fill = (s) =>
    s
      .replace(/CHAR/g, c.name)
      .replace(/(^|\. )HIS/g, `$1${c.His}`)
      .replace(/HIS/g, c.his)
      .replace(/PARENT/g, `${c.his} ${c.parent}`);
  const p1 = intro(rng, c);
  const p2 = [
    `${rng.pick(OPENERS)} ${c.his} ${c.parent} said, "${r.rule}, ${c.name}."`,
    rng.pick([`But ${c.name} did not listen.`, `${c.name} nodded, but ${c.he} did not really listen.`]),
    rng.pick([`When nobody was looking, ${c.he} ${r.did}.`, `Soon, ${c.name} ${r.did}.`]),
    fill(r.then),
  ].join(' ');
  const p3 = [
    rng.pick([`${c.name} started to cry.`, `"Help!" cried ${c.name}.`, `${c.name} felt very sorry.`]),
    `${c.His} ${c.parent} came ${rng.pick(['quickly', 'running', 'right away'])} and helped ${c.him}.`,
    rng.pick([
      `"I am sorry. I should have listened," said ${c.name}.`,
      `"I am sorry," said ${c.name}. "Next time I will listen to you."`,
    ]),
    rng.pick([
      `${c.His} ${c.parent} gave ${c.him} a hug. "It is okay. I am glad you are safe."`,
      `${c.His} ${c.parent} said, "Rules are there to keep you safe. I love you."`,
    ]),
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} learned to listen to ${c.his} ${c.parent}.`,
    `From that day on, ${c.name} always listened to ${c.his} ${c.parent}.`,
    `${c.name} never forgot that day. Listening is important.`,
  ]);
  return [p1, p2, p3, p4];
}

/**
 * Skills, how trying fails and how it works out.
 * @typedef {{ skill: string, fail: string, fail2: string, win: string }} Skill
 * @type {Skill[]}
 */
const SKILLS = [
  {
    skill: 'ride a bike',
    fail: 'the bike wobbled and HE fell',
    fail2: 'HE fell again',
    win: 'HE pedaled and pedaled, and the bike went straight',
  },
  {
    skill: 'fly a kite',
    fail: 'the kite fell to the ground',
    fail2: 'the kite got stuck in a bush',
    win: 'HE ran fast against the wind, and the kite went up high into the sky',
  },
  {
    skill: 'climb the big hill',
    fail: 'HIS legs got tired',
    fail2: 'HE slipped on the grass',
    win: 'HE went step by step, slowly, all the way to the top',
  },
  {
    skill: 'catch a ball',
    fail: 'the ball bounced off HIS hands',
    fail2: 'the ball went over HIS head',
    win: 'HE watched the ball closely and caught it',
  },
  {
    skill: 'jump over the puddle',
    fail: 'HE landed in the water with a splash',
    fail2: 'HE got HIS shoes all wet',
    win: 'HE ran, jumped as high as HE could, and landed on the other side',
  },
  {
    skill: 'tie HIS shoes',
    fail: 'the laces got all tangled',
    fail2: 'the bow came undone',
    win: 'HE made two loops, crossed them and pulled, and there was a nice bow',
  },
  {
    skill: 'whistle',
    fail: 'only air came out',
    fail2: 'HE made a funny sound',
    win: 'a loud, clear whistle came out',
  },
];

/**
 * Plot: trying a new skill, failing, encouragement, success.
 * @param {Rng} rng
 */
function plotTrying(rng) {
  const c = makeChar(rng);
  const f = makeChar(rng, [c.name]);
  const s = rng.pick(SKILLS);
  /** @param {string} t */
  const fill = (t) => t.replace(/HE/g, c.he).replace(/HIS/g, c.his);
  const byParent = rng.chance(0.5);
  const helper = byParent ? `${c.his} ${c.parent}` : `${c.his} friend ${f.name}`;
  const helperAgain = byParent ? helper : f.name;
  const p1 = intro(rng, c);
  const p2 = [
    rng.pick([
      `${rng.pick(OPENERS)} ${c.name} wanted to learn to ${fill(s.skill)}.`,
      `${c.name} really wanted to ${fill(s.skill)}, like the big kids.`,
    ]),
    `${c.He} tried, but ${fill(s.fail)}.`,
    `${c.He} tried again, and ${fill(s.fail2)}.`,
    rng.pick([
      `${c.name} felt ${rng.pick(['sad', 'angry', 'tired', 'upset'])}. "I can't do it," ${c.he} said.`,
      `"This is too hard!" said ${c.name}. ${c.He} wanted to give up.`,
    ]),
  ].join(' ');
  const p3 = [
    `${cap(helper)} ${rng.pick(['came over', 'sat down next to ' + c.him, 'smiled'])}.`,
    rng.pick([
      `"Don't give up," ${helperAgain} said. "Try one more time."`,
      `"Everyone finds it hard at first," said ${helperAgain}. "Keep trying and you will get it."`,
      `"You are doing well. Try again, slowly," said ${helperAgain}.`,
    ]),
    `So ${c.name} tried again. This time, ${fill(s.win)}!`,
    rng.pick([`"I did it!" ${c.he} shouted.`, `"Yay! I did it!" cried ${c.name}.`]),
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} learned that if you keep trying, you can do it.`,
    `${c.name} was very proud. Never give up!`,
    `${c.name} thanked ${helperAgain}. From then on, ${c.he} liked to try new things.`,
  ]);
  return [p1, p2, p3, p4];
}

/**
 * Finds, what is inside or what they turn into.
 * @typedef {{ find: string, where: string, open: string, inside: string, end: string }} Find
 * @type {Find[]}
 */
const FINDS = [
  {
    find: 'a small wooden box',
    where: 'under a bush',
    open: 'HE opened the box slowly.',
    inside: 'Inside, there was a pretty ring and a note that said, "For a kind friend."',
    end: 'CHAR gave the ring to PARENT, who smiled and put it on.',
  },
  {
    find: 'a big white egg',
    where: 'in the tall grass',
    open: 'HE kept it warm in a soft blanket for many days.',
    inside: 'One morning, the egg cracked, and out came a baby duck!',
    end: 'The little duck followed CHAR everywhere, and they became best friends.',
  },
  {
    find: 'a shiny old key',
    where: 'next to a rock',
    open: 'HE took it home and tried it in the old box in the attic.',
    inside: 'Click! The box opened, and it was full of old toys and pictures.',
    end: 'PARENT told CHAR stories about every picture. It was a wonderful day.',
  },
  {
    find: 'a tiny seed',
    where: 'on the ground',
    open: 'HE planted it in a pot and gave it water every day.',
    inside: 'Soon, a little green plant grew, and then a big yellow flower opened.',
    end: 'CHAR was so proud of the flower. It was the prettiest flower in the garden.',
  },
  {
    find: 'an old map',
    where: 'inside a hollow tree',
    open: 'HE followed the map past the big rock and the old tree.',
    inside: 'At the end, there was a little chest full of shiny stones.',
    end: 'CHAR shared the shiny stones with all the friends.',
  },
  {
    find: 'a glass bottle with a note',
    where: 'in the sand',
    open: 'HE pulled out the note and read it.',
    inside: 'The note said, "Hello! Will you be my friend?" It was from a girl in a town far away.',
    end: 'CHAR wrote back, and they sent each other letters for many years.',
  },
];

/**
 * Plot: a walk, a find, curiosity, what it turns out to be.
 * @param {Rng} rng
 */
function plotDiscovery(rng) {
  const c = makeChar(rng);
  const place = rng.pick(PLACES);
  const fd = rng.pick(FINDS);
  /** @param {string} s */
  const fill = (s) =>
    s
      .replace(/^HE /, `${c.name} `)
      .replace(/CHAR/g, c.name)
      .replace(/^PARENT/, `${c.His} ${c.parent}`)
      .replace(/PARENT/g, `${c.his} ${c.parent}`);
  const p1 = `${intro(rng, c)} ${c.He} was very curious and liked to find new things.`;
  const p2 = [
    `${rng.pick(OPENERS)} ${c.name} was playing ${place.at}.`,
    `${c.He} saw something ${fd.where}. It was ${fd.find}!`,
    rng.pick([
      `"What is this?" ${c.he} wondered.`,
      `"Wow!" said ${c.name}. "I wonder what it is."`,
      `${c.name} picked it up and looked at it closely.`,
    ]),
  ].join(' ');
  const p3 = [fill(fd.open), fill(fd.inside)].join(' ');
  const p4 = [
    fill(fd.end),
    rng.pick([
      `${c.name} was glad ${c.he} was curious that day.`,
      `It was the best surprise ever.`,
      `${c.name} smiled. ${c.He} could not wait for the next adventure.`,
    ]),
  ].join(' ');
  return [p1, p2, p3, p4];
}

/**
 * Plot: a rainy day spoils a plan, fun is found inside, a rainbow after.
 * @param {Rng} rng
 */
function plotRainyDay(rng) {
  const c = makeChar(rng);
  const place = rng.pick(PLACES);
  const game = rng.pick([
    { what: 'build a fort with blankets and pillows', then: 'They sat inside the fort and told funny stories.' },
    { what: 'read a book together', then: 'The book was about a dragon who liked to eat ice cream.' },
    { what: 'have a tea party', then: 'They drank pretend tea with all the teddy bears.' },
    { what: 'paint pictures', then: `${c.name} painted the ${place.name} with bright colors.` },
    { what: 'play hide and seek', then: `${c.name} hid under the table, and nobody could find ${c.him}!` },
    { what: 'bake some muffins', then: 'The house smelled sweet and warm.' },
  ]);
  const p1 = intro(rng, c);
  const p2 = [
    `${rng.pick(['One day,', 'One morning,', 'On Saturday,'])} ${c.name} wanted to go to the ${place.name}.`,
    rng.pick([
      `But then, dark clouds came and it started to rain.`,
      `But when ${c.he} looked outside, it was raining hard.`,
      `But the sky was gray, and soon big drops of rain began to fall.`,
    ]),
    rng.pick([
      `${c.name} was ${rng.pick(SAD_WORDS)}. "Now I cannot go out," ${c.he} said.`,
      `${c.name} sat by the window and frowned.`,
    ]),
  ].join(' ');
  const p3 = [
    `${c.His} ${c.parent} had an idea. "Let's ${game.what}!"`,
    rng.pick([`${c.name} jumped up. "Yes!"`, `${c.name} smiled. "That sounds fun!"`]),
    game.then,
    `They laughed and had so much fun.`,
  ].join(' ');
  const p4 = [
    rng.pick([
      `When the rain stopped, they looked outside and saw a big rainbow in the sky.`,
      `Later, the sun came out again.`,
      `By the time the rain stopped, it was time for bed.`,
    ]),
    rng.pick([
      `${c.name} learned that a rainy day can be a happy day too.`,
      `"This was the best rainy day ever," said ${c.name}.`,
      `${c.name} hugged ${c.his} ${c.parent}. It had been a good day after all.`,
    ]),
  ].join(' ');
  return [p1, p2, p3, p4];
}

/**
 * Plot: a new place, loneliness, a shy new friend.
 * @param {Rng} rng
 */
function plotNewFriend(rng) {
  const c = makeChar(rng);
  const f = makeChar(rng, [c.name]);
  const place = rng.pick(PLACES);
  const game = rng.pick(['tag', 'catch', 'hide and seek', 'jump rope', 'ball', 'pretend', 'with the blocks']);
  const p1 = [
    intro(rng, c),
    rng.pick([
      `${c.name} and ${c.his} family moved to a new town.`,
      `${c.name} was new in town and did not have any friends yet.`,
    ]),
    `${c.He} felt lonely.`,
  ].join(' ');
  const p2 = [
    `${rng.pick(OPENERS)} ${c.name} went ${place.at.replace(/^(at|in|on|by) the/, 'to the')}.`,
    `${c.He} saw ${a(f.trait)} ${f.noun} sitting all alone.`,
    rng.pick([
      `${c.name} wanted to say hello, but ${c.he} was shy.`,
      `${c.name} was a little scared to talk to ${f.him}.`,
    ]),
  ].join(' ');
  const p3 = [
    `Then ${c.name} took a deep breath and walked over.`,
    `"Hi, I am ${c.name}. What is your name?" ${c.he} asked.`,
    `"I am ${f.name}," said the ${f.noun}. "I am new here too."`,
    rng.pick([`"Do you want to play ${game}?" asked ${c.name}.`, `"Let's play ${game}!" said ${c.name}.`]),
    `${f.name} smiled and said, "Yes!"`,
    `They played ${game} all afternoon.`,
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} was not lonely anymore. ${c.He} had a new friend.`,
    `From that day on, ${c.name} and ${f.name} played together every day.`,
    `${c.name} learned that saying hello can be the start of a new friendship.`,
  ]);
  return [p1, p2, p3, p4];
}

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
const toJsonl = (stories) => stories.map((text) => JSON.stringify({ text }) + '\n').join('');

// ---------------------------------------------------------------------------------------------------------
// Byte-level BPE (GPT-2): bytes as printable characters, GPT-2's pre-tokenizer, greedy merges.

/** GPT-2's bytes_to_unicode: byte -> a printable character (the printable bytes map to themselves). */
export const BYTE_TO_CHAR = (() => {
  /** @type {number[]} */
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  /** @type {string[]} */
  const table = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(/** @type {number} */ (cs[i]))));
  return table;
})();

/** The 256 byte tokens in id order (GPT-2's order: by character, which is the order of bs above). */
export const BYTE_TOKENS = BYTE_TO_CHAR.slice().sort((x, y) => x.charCodeAt(0) - y.charCodeAt(0));

/** GPT-2's pre-tokenizer pattern (as the ByteLevel pre-tokenizer of tokenizers and transformers.js use it). */
export const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8 = new TextEncoder();

/** Text -> pre-tokenized words, each as byte characters. @param {string} text */
export function preTokenize(text) {
  return (text.match(PRETOKENIZE) ?? []).map((w) => Array.from(utf8.encode(w), (b) => BYTE_TO_CHAR[b]).join(''));
}

/**
 * Learns merges on `texts` until the vocabulary (bytes + merged tokens) has `size` tokens. Each step merges
 * the most frequent adjacent pair over all words (weighted by their counts); ties go to the pair that
 * sorts first (left token, then right, by UTF-16 code units), so the result does not depend on Map order.
 * @param {string[]} texts
 * @param {number} size
 * @returns {{ vocab: string[], merges: [string, string][] }}
 */
export function trainBpe(texts, size) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const text of texts) for (const w of preTokenize(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts.entries()]
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([w, n]) => ({ syms: [...w], n }));
  const vocab = BYTE_TOKENS.slice();
  const known = new Set(vocab);
  /** @type {[string, string][]} */
  const merges = [];
  while (vocab.length < size) {
    // Byte characters are never a space, so "left right" is a unique key that sorts like (left, right).
    /** @type {Map<string, number>} */
    const pairs = new Map();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best = '';
    let bestCount = 0;
    for (const [key, n] of pairs) {
      if (n > bestCount || (n === bestCount && key < best)) {
        best = key;
        bestCount = n;
      }
    }
    if (bestCount === 0) break;
    const [left, right] = /** @type {[string, string]} */ (best.split(' '));
    const merged = left + right;
    merges.push([left, right]);
    if (!known.has(merged)) {
      known.add(merged);
      vocab.push(merged);
    }
    for (const word of words) {
      const s = word.syms;
      if (s.length < 2) continue;
      /** @type {string[]} */
      const out = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(/** @type {string} */ (s[i]));
      }
      word.syms = out;
    }
  }
  return { vocab, merges };
}

/**
 * An encoder for a trained tokenizer, applying merges as tokenizers and transformers.js do: repeatedly the
 * adjacent pair of lowest merge rank, the leftmost one on ties. The special token is matched in the text
 * first and encoded as its id.
 * @param {string[]} vocab tokens by id, without the special token
 * @param {[string, string][]} merges
 */
export function makeEncoder(vocab, merges) {
  /** @type {Map<string, number>} */
  const ranks = new Map(merges.map(([l, r], i) => [`${l} ${r}`, i]));
  /** @type {Map<string, number>} */
  const ids = new Map(vocab.map((t, i) => [t, i]));
  /** @param {string} word */
  const bpe = (word) => {
    const syms = [...word];
    for (;;) {
      let bestRank = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const rank = ranks.get(`${syms[i]} ${syms[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          at = i;
        }
      }
      if (at < 0) return syms;
      syms.splice(at, 2, `${syms[at]}${syms[at + 1]}`);
    }
  };
  /** @param {string} text @returns {number[]} */
  const encode = (text) =>
    text.split(SPECIAL_TOKEN).flatMap((part, i) => [
      ...(i > 0 ? [SPECIAL_ID] : []),
      ...preTokenize(part).flatMap((w) =>
        bpe(w).map((t) => {
          const id = ids.get(t);
          if (id === undefined) throw new Error(`no id for token ${JSON.stringify(t)}`);
          return id;
        }),
      ),
    ]);
  return encode;
}

// ---------------------------------------------------------------------------------------------------------
// Hugging Face files.

/**
 * tokenizer.json in the layout of GPT-2's (the `tokenizers` library's format, which transformers.js reads):
 * the vocabulary written in id order, merges as "left right" strings.
 * @param {string[]} vocab
 * @param {[string, string][]} merges
 */
export function tokenizerJson(vocab, merges) {
  const special = { id: SPECIAL_ID, content: SPECIAL_TOKEN, single_word: false, lstrip: false, rstrip: false };
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ ...special, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: '@VOCAB@',
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
  // JSON objects with integer-like keys ("0".."9") would be reordered by JS; write the vocabulary by hand.
  const entries = [...vocab, SPECIAL_TOKEN].map((t, i) => `      ${JSON.stringify(t)}: ${i}`).join(',\n');
  return JSON.stringify(doc, null, 2).replace('"@VOCAB@"', `{\n${entries}\n    }`) + '\n';
}

/** tokenizer_config.json, after GPT-2's; decoding keeps spaces as they are (no clean-up: lossless). */
export function tokenizerConfig() {
  const doc = {
    tokenizer_class: 'GPT2Tokenizer',
    model_max_length: 128,
    bos_token: SPECIAL_TOKEN,
    eos_token: SPECIAL_TOKEN,
    unk_token: SPECIAL_TOKEN,
    add_bos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** The quickstart model: a GPT-2 small enough to train on a CPU in minutes. */
export const MODEL_CONFIG = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: VOCAB_SIZE,
  n_positions: 128,
  n_embd: 64,
  n_layer: 4,
  n_head: 4,
  n_inner: null,
  activation_function: 'gelu_new',
  resid_pdrop: 0.0,
  embd_pdrop: 0.0,
  attn_pdrop: 0.0,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  bos_token_id: SPECIAL_ID,
  eos_token_id: SPECIAL_ID,
  tie_word_embeddings: true,
};

/**
 * Parameters of a GPT-2 config (lm_head tied to wte): embeddings, per block 2 layer norms, attention
 * (c_attn d×3d, c_proj d×d) and MLP (c_fc d×inner, c_proj inner×d) with biases, and the final layer norm.
 * @param {{ vocab_size: number, n_positions: number, n_embd: number, n_layer: number, n_inner?: number | null }} config
 */
export function gpt2Parameters(config) {
  const d = config.n_embd;
  const inner = config.n_inner ?? 4 * d;
  const block = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * inner + inner) + (inner * d + d);
  return config.vocab_size * d + config.n_positions * d + config.n_layer * block + 2 * d;
}

/** The config as prettier would print it (arrays that fit on one line). */
const configJson = () =>
  JSON.stringify(MODEL_CONFIG, null, 2)
    .replace(/\[\n\s+("[^"]*")\n\s+\]/g, '[$1]')
    .replace(/: 0(,?)$/gm, ': 0.0$1')
    .replace(': 0.00001,', ': 1e-5,') + '\n';

/**
 * @param {{ stories: number, storyBytes: number, evalStories: number, evalBytes: number, merges: number,
 *   tokensPerStory: number, bytesPerToken: number, parameters: number }} s
 */
function readme(s) {
  return `# Quickstart assets

Made by \`node scripts/make-quickstart.mjs\` (deterministic: running it again rewrites the same bytes). Nothing
here is downloaded; the stories and the tokenizer are the project's own.

- \`data/stories.jsonl\`: ${s.stories} generated stories (${s.storyBytes} bytes), one \`{"text": ...}\` a line:
  simple English stories from templates and word lists (ten plots, each with a beginning, a problem and an
  ending), paragraphs separated by a blank line.
- \`data/eval.jsonl\`: ${s.evalStories} held-out stories (${s.evalBytes} bytes), from another seed.
- \`tokenizer/\`: a byte-level BPE tokenizer (GPT-2 style) trained on \`stories.jsonl\`, in the Hugging Face
  \`tokenizers\` format (\`tokenizer.json\`, \`tokenizer_config.json\`): ${VOCAB_SIZE} tokens, that is 256 byte
  tokens, ${s.merges} merges, and \`${SPECIAL_TOKEN}\` (id ${SPECIAL_ID}: bos, eos and unk). On the stories it
  makes ${s.tokensPerStory.toFixed(1)} tokens a story, ${s.bytesPerToken.toFixed(2)} bytes a token.
- \`model/\`: a Hugging Face GPT-2 folder without weights (\`config.json\` and the tokenizer files): 4 layers,
  4 heads, width 64, 128 positions, tied embeddings, ${s.parameters} parameters. Training starts from the config
  (\`init: from_config\`), as in \`resources/examples/quickstart.yaml\`.
`;
}

// ---------------------------------------------------------------------------------------------------------

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
