// The quickstart assets in resources/quickstart/ (made by scripts/make-quickstart.mjs): the tokenizer loads
// through transformers.js (what the app uses) and is lossless, the corpus is well-formed JSONL, the
// generator rewrites every file byte for byte, and the model config stays small.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadTokenizer as loadEngineTokenizer, type EngineTokenizer } from '../../src/engine/tokenizer.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeEncoder } from '../../scripts/make-quickstart.mjs';
import { fill } from '../../scripts/quickstart/words.mjs';
import { repoRoot, tempDir } from '../helpers.js';

const quickstart = path.join(repoRoot, 'resources', 'quickstart');
const script = path.join(repoRoot, 'scripts', 'make-quickstart.mjs');
const EOT = '<|endoftext|>';

/** The tokenizer as the engine loads it (the tokenizers library, as transformers.js uses it). */
async function loadTokenizer(folder: string): Promise<EngineTokenizer> {
  return loadEngineTokenizer(path.join(quickstart, folder));
}

function readJsonl(file: string): { text: string }[] {
  const lines = readFileSync(path.join(quickstart, file), 'utf8').split('\n');
  expect(lines.pop()).toBe(''); // ends with a newline
  return lines.map((line) => JSON.parse(line) as { text: string });
}

/** Every file under `dir`, as paths relative to it. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

const stories = readJsonl('data/stories.jsonl').map((r) => r.text);
const evalStories = readJsonl('data/eval.jsonl').map((r) => r.text);

// Text a byte-level tokenizer must give back unchanged: accents, scripts, emoji sequences, whitespace runs,
// control characters, spaces before punctuation (which a clean-up step would remove), the special token.
const UNICODE = [
  'héllo wörld, naïve café',
  '日本語のテキストと中文',
  'emoji 🐘🎉 family 👩‍👩‍👧 flag 🇫🇷 skin 👋🏽',
  '  leading, multiple   spaces\t\ttabs\r\n\n\nand trailing  ',
  "It 's . , ? ! don't  ( spaced ) punctuation",
  'Ωμέγα Привет مرحبا שלום नमस्ते',
  'a<|endoftext|>b<|endoftext|>',
  '\u0000\u0001\u007f\u00ad control and soft hyphen',
  'e\u0301 combining, ﬁ ligature, \u200b zero width',
  '1234567890 3.14159 -42 1e-5',
  'x'.repeat(300),
];

/** Seeded random strings of code points from all planes (no lone surrogates: UTF-8 cannot hold them). */
function randomStrings(count: number, seed: number): string[] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    let text = '';
    const n = 1 + Math.floor(next() * 30);
    for (let i = 0; i < n; i++) {
      const r = next();
      let cp: number;
      if (r < 0.5) cp = 32 + Math.floor(next() * 95);
      else if (r < 0.7) cp = Math.floor(next() * 0x800);
      else if (r < 0.9) cp = Math.floor(next() * 0x10000);
      else cp = 0x10000 + Math.floor(next() * 0x100000);
      if (cp >= 0xd800 && cp < 0xe000) cp = 0x4e00;
      text += String.fromCodePoint(cp);
    }
    out.push(text);
  }
  return out;
}

describe('the quickstart tokenizer', () => {
  let tok: EngineTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer('tokenizer');
  });

  it('loads with 512 tokens and <|endoftext|> (id 511) as eos and bos, and a context of 128', async () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.encode(EOT)).toEqual([511]);
    expect(tok.specialTokens?.eos_token).toBe(EOT);
    expect(tok.eosTokenId).toBe(511);
    expect(tok.bosTokenId).toBe(511);
    const config = JSON.parse(readFileSync(path.join(quickstart, 'tokenizer', 'tokenizer_config.json'), 'utf8'));
    expect(config.model_max_length).toBe(128);
    // The model folder carries the same tokenizer, so it loads the same way.
    const fromModel = await loadTokenizer('model');
    expect(fromModel.vocabSize).toBe(tok.vocabSize);
    expect(fromModel.encode(stories[0]!)).toEqual(tok.encode(stories[0]!));
  });

  it('adds no special tokens and gives the special token its own id', () => {
    const ids = tok.encode('Once upon a time');
    expect(ids).not.toContain(511);
    expect(tok.encode(`The end.${EOT}Once`)).toEqual([...tok.encode('The end.'), 511, ...tok.encode('Once')]);
  });

  it('round-trips every story losslessly', () => {
    for (const text of [...stories, ...evalStories]) expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('round-trips arbitrary unicode, emoji, whitespace and control characters losslessly (byte-level)', () => {
    for (const text of [...UNICODE, ...randomStrings(500, 7)]) expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it("encodes exactly like the generator's own BPE encoder, so merges apply in rank order as in the library", () => {
    const json = JSON.parse(readFileSync(path.join(quickstart, 'tokenizer', 'tokenizer.json'), 'utf8')) as {
      model: { vocab: Record<string, number>; merges: string[] };
    };
    const vocab = Object.entries(json.model.vocab)
      .filter(([t]) => t !== EOT)
      .sort((x, y) => x[1] - y[1])
      .map(([t]) => t);
    const merges = json.model.merges.map((m) => m.split(' ') as [string, string]);
    expect(vocab).toHaveLength(511);
    expect(merges).toHaveLength(255);
    const encode = makeEncoder(vocab, merges);
    for (const text of [...evalStories, ...stories.slice(0, 200), ...UNICODE, ...randomStrings(200, 11)]) {
      expect(encode(text)).toEqual(tok.encode(text));
    }
  });

  it('compresses the stories to more than 2 bytes a token', () => {
    let bytes = 0;
    let tokens = 0;
    for (const text of evalStories) {
      bytes += Buffer.byteLength(text);
      tokens += tok.encode(text).length;
    }
    expect(bytes / tokens).toBeGreaterThan(2);
  });
});

describe('the quickstart corpus', () => {
  it('is JSONL with a non-empty text on every line: ~300–600 KB of stories and ~5% of held-out stories', () => {
    const trainBytes = readFileSync(path.join(quickstart, 'data', 'stories.jsonl')).length;
    const evalBytes = readFileSync(path.join(quickstart, 'data', 'eval.jsonl')).length;
    expect(trainBytes).toBeGreaterThan(300_000);
    expect(trainBytes).toBeLessThan(600_000);
    expect(evalBytes / trainBytes).toBeGreaterThan(0.03);
    expect(evalBytes / trainBytes).toBeLessThan(0.08);
    for (const text of [...stories, ...evalStories]) {
      expect(typeof text).toBe('string');
      expect(text.length).toBeGreaterThan(100);
    }
  });

  it('holds simple stories in paragraphs, each different, and none of the eval stories in the training set', () => {
    expect(new Set(stories).size).toBe(stories.length);
    const train = new Set(stories);
    expect(evalStories.filter((t) => train.has(t))).toEqual([]);
    expect(stories.filter((t) => t.includes('\n\n')).length).toBe(stories.length);
    expect(stories.filter((t) => t.startsWith('Once upon a time')).length).toBeGreaterThan(stories.length / 10);
  });
});

describe("the story tables' templates", () => {
  const mia = { name: 'Mia', noun: 'girl', trait: 'kind', he: 'she', him: 'her', his: 'her', He: 'She', His: 'Her' };
  const tom = { ...mia, name: 'Tom', noun: 'boy', he: 'he', him: 'him', his: 'his', He: 'He', His: 'His' };

  it('put in the name for CHAR, and her or his words for HE, HIS, HIMSELF and PARENT', () => {
    const template = 'CHAR ran to get PARENT, and HE hurt HIS knee, all by HIMSELF.';
    expect(fill(template, { ...mia, parent: 'grandma' })).toBe(
      'Mia ran to get her grandma, and she hurt her knee, all by herself.',
    );
    expect(fill(template, { ...tom, parent: 'dad' })).toBe(
      'Tom ran to get his dad, and he hurt his knee, all by himself.',
    );
  });

  it('capitalize a word that begins the template or a sentence in it, and leave other capitals alone', () => {
    expect(fill('PARENT said, "Look!" HE smiled. HIS mom. BOOM. HELLO', { ...tom, parent: 'mom' })).toBe(
      'His mom said, "Look!" he smiled. His mom. BOOM. HELLO',
    );
  });
});

describe('make-quickstart.mjs', () => {
  it('regenerates every file byte for byte (into --out DIR)', () => {
    const out = tempDir('dumbo-quickstart-');
    const start = Date.now();
    const run = spawnSync(process.execPath, [script, '--out', out], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(Date.now() - start).toBeLessThan(20_000);
    const files = listFiles(quickstart);
    expect(listFiles(out)).toEqual(files);
    for (const f of files) {
      expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(quickstart, f))), f).toBe(true);
    }
  });

  it('rejects an unknown argument', () => {
    const run = spawnSync(process.execPath, [script, '--bogus'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('usage:');
  });
});

describe('the quickstart model folder', () => {
  interface GPT2Config {
    vocab_size: number;
    n_positions: number;
    n_embd: number;
    n_layer: number;
    n_inner: number | null;
  }
  const config = JSON.parse(readFileSync(path.join(quickstart, 'model', 'config.json'), 'utf8')) as GPT2Config;

  it('is a GPT-2 config whose vocabulary and special ids match the tokenizer', () => {
    expect(config).toMatchObject({
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: 512,
      n_positions: 128,
      bos_token_id: 511,
      eos_token_id: 511,
      tie_word_embeddings: true,
    });
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      expect(readFileSync(path.join(quickstart, 'model', f), 'utf8')).toBe(
        readFileSync(path.join(quickstart, 'tokenizer', f), 'utf8'),
      );
    }
  });

  it('has at most 0.5 M parameters', () => {
    const { vocab_size: v, n_positions: p, n_embd: d, n_layer: layers, n_inner } = config;
    const inner = n_inner ?? 4 * d;
    // Per block: ln_1, c_attn, attn c_proj, ln_2, c_fc, mlp c_proj (weights and biases); lm_head is tied.
    const block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * inner + inner) + (inner * d + d);
    const total = v * d + p * d + layers * block + 2 * d;
    expect(total).toBe(241_024);
    expect(total).toBeLessThanOrEqual(500_000);
  });
});
