// Three of the quickstart's ten plots, about days at home and out: making something with a grown-up, finding
// something curious, and a rainy day. Each plot takes the PRNG and returns the story's paragraphs;
// stories.mjs picks among all ten.
import { OPENERS, PLACES, SAD_WORDS, TABLES, fill, intro, makeChar } from './words.mjs';
/** @typedef {import('./rng.mjs').Rng} Rng */

/**
 * Plot: making something together, a mishap, trying again.
 * @param {Rng} rng
 */
export function plotMaking(rng) {
  const c = makeChar(rng);
  const pr = rng.pick(TABLES.projects);
  const p1 = intro(rng, c);
  const p2 = [
    `${rng.pick(OPENERS)} ${c.name} and ${c.his} ${c.parent} wanted to ${pr.verb} ${pr.what}.`,
    rng.pick([
      `${c.name} was very ${rng.pick(['excited', 'happy', 'glad'])}.`,
      `"Can I help?" asked ${c.name}. "Of course!" said ${c.his} ${c.parent}.`,
      `"This will be fun!" said ${c.name}.`,
    ]),
    fill(pr.steps, c),
  ].join(' ');
  const p3 = [
    fill(pr.oops, c),
    rng.pick([
      `${c.name} felt ${rng.pick(SAD_WORDS)}. ${c.He} wanted to cry.`,
      `"Oh no!" said ${c.name}.`,
      `${c.name} was ${rng.pick(SAD_WORDS)}. "Now it is ruined," ${c.he} said.`,
    ]),
    rng.pick([
      `But ${c.his} ${c.parent} said, "It is okay. We can try again."`,
      `${c.His} ${c.parent} smiled. "Mistakes happen. Let's try again."`,
    ]),
    fill(pr.fix, c),
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} was very proud. ${c.He} learned that it is okay to make mistakes.`,
    `${c.name} showed ${pr.what === 'cookies' ? 'the cookies' : `the ${pr.what.replace(/^an? /, '')}`} to everyone. It was a very good day.`,
    `"We did it!" said ${c.name}. Trying again made it even better.`,
  ]);
  return [p1, p2, p3, p4];
}

/**
 * Plot: a walk, a find, curiosity, what it turns out to be.
 * @param {Rng} rng
 */
export function plotDiscovery(rng) {
  const c = makeChar(rng);
  const place = rng.pick(PLACES);
  const fd = rng.pick(TABLES.finds);
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
  const p3 = [fill(fd.open, c), fill(fd.inside, c)].join(' ');
  const p4 = [
    fill(fd.end, c),
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
export function plotRainyDay(rng) {
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
