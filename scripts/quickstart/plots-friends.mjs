// Four of the quickstart's ten plots, about friends: a lost thing found with a friend's help, learning to
// share, helping someone in trouble, and making a new friend. Each plot takes the PRNG and returns the
// story's paragraphs; stories.mjs picks among all ten.
import {
  COLORS,
  HAPPY_WORDS,
  OBJ_ADJS,
  OPENERS,
  PLACES,
  SAD_WORDS,
  TOYS,
  TABLES,
  TREASURES,
  a,
  cap,
  fill,
  intro,
  makeChar,
} from './words.mjs';
/** @typedef {import('./rng.mjs').Rng} Rng */

/**
 * Who and where a plot about friends is: the character, a friend (of another name), and a place.
 * @param {Rng} rng
 */
function friendsAt(rng) {
  const c = makeChar(rng);
  const f = makeChar(rng, [c.name]);
  return { c, f, place: rng.pick(PLACES) };
}

/**
 * Plot: a favourite thing is lost, a friend helps to look for it, and it is found.
 * @param {Rng} rng
 */
export function plotLostThing(rng) {
  const { c, f, place } = friendsAt(rng);
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
export function plotSharing(rng) {
  const { c, f, place } = friendsAt(rng);
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
 * Plot: finding someone in trouble and helping.
 * @param {Rng} rng
 */
export function plotHelping(rng) {
  const c = makeChar(rng);
  const place = rng.pick(PLACES);
  const t = rng.pick(TABLES.troubles);
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
  const p3 = `${fill(t.help, c)} ${fill(t.thanks, c)}`;
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
 * Plot: a new place, loneliness, a shy new friend.
 * @param {Rng} rng
 */
export function plotNewFriend(rng) {
  const { c, f, place } = friendsAt(rng);
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
