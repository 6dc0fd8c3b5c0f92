// The quickstart's byte-level BPE tokenizer (GPT-2 style): bytes as printable characters, GPT-2's
// pre-tokenizer, a trainer of greedy merges, and an encoder that applies them as the `tokenizers` library
// does. Imported and re-exported by scripts/make-quickstart.mjs (tests/resources/quickstart.test.ts uses
// `makeEncoder` through it).

/** The tokenizer: 256 byte tokens + merges up to 511 tokens, then the special token at id 511. */
export const VOCAB_SIZE = 512;
export const SPECIAL_TOKEN = '<|endoftext|>';
export const SPECIAL_ID = VOCAB_SIZE - 1;

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
