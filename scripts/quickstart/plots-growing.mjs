// Three of the quickstart's ten plots, about growing up: facing a fear, breaking a rule, and trying a new
// skill until it works. Each plot takes the PRNG and returns the story's paragraphs; stories.mjs picks among
// all ten.
import { OPENERS, TABLES, cap, fill, intro, makeChar } from './words.mjs';
/** @typedef {import('./rng.mjs').Rng} Rng */

/**
 * Plot: a fear, a grown-up's advice, and a brave try.
 * @param {Rng} rng
 */
export function plotFear(rng) {
  const c = makeChar(rng);
  const fr = rng.pick(TABLES.fears);
  const p1 = `${intro(rng, c)} But ${c.name} was scared of ${fr.fear}.`;
  const p2 = [
    fill(fr.scene, c),
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
    `"${fill(fr.advice, c).replace(/\.$/, ',')}" ${c.his} ${c.parent} said.`,
    rng.pick([`${c.name} took a deep breath.`, `${c.name} was still a little scared, but ${c.he} tried.`]),
    `${c.He} ${fill(fr.act, c)}.`,
    fill(fr.after, c),
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
 * Plot: a rule, not listening, the consequence, and sorry.
 * @param {Rng} rng
 */
export function plotRule(rng) {
  const c = makeChar(rng);
  const r = rng.pick(TABLES.rules);
  const p1 = intro(rng, c);
  const p2 = [
    `${rng.pick(OPENERS)} ${c.his} ${c.parent} said, "${r.rule}, ${c.name}."`,
    rng.pick([`But ${c.name} did not listen.`, `${c.name} nodded, but ${c.he} did not really listen.`]),
    rng.pick([`When nobody was looking, ${c.he} ${r.did}.`, `Soon, ${c.name} ${r.did}.`]),
    fill(r.then, c),
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
 * Plot: trying a new skill, failing, encouragement, success.
 * @param {Rng} rng
 */
export function plotTrying(rng) {
  const c = makeChar(rng);
  const f = makeChar(rng, [c.name]);
  const s = rng.pick(TABLES.skills);
  // A skill's rows are clauses set inside a sentence, so never capitalized (as `fill` would at their start).
  /** @param {string} t */
  const clause = (t) => t.replace(/HE/g, c.he).replace(/HIS/g, c.his);
  const byParent = rng.chance(0.5);
  const helper = byParent ? `${c.his} ${c.parent}` : `${c.his} friend ${f.name}`;
  const helperAgain = byParent ? helper : f.name;
  const p1 = intro(rng, c);
  const p2 = [
    rng.pick([
      `${rng.pick(OPENERS)} ${c.name} wanted to learn to ${clause(s.skill)}.`,
      `${c.name} really wanted to ${clause(s.skill)}, like the big kids.`,
    ]),
    `${c.He} tried, but ${clause(s.fail)}.`,
    `${c.He} tried again, and ${clause(s.fail2)}.`,
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
    `So ${c.name} tried again. This time, ${clause(s.win)}!`,
    rng.pick([`"I did it!" ${c.he} shouted.`, `"Yay! I did it!" cried ${c.name}.`]),
  ].join(' ');
  const p4 = rng.pick([
    `${c.name} learned that if you keep trying, you can do it.`,
    `${c.name} was very proud. Never give up!`,
    `${c.name} thanked ${helperAgain}. From then on, ${c.he} liked to try new things.`,
  ]);
  return [p1, p2, p3, p4];
}
