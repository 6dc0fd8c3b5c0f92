// `dumbo score`, `dumbo generate` and `dumbo doctor`, through the real CLI (bin/dumbo.js → dist). The score of
// a text longer than the context is checked against the independent PyTorch implementation
// (tests/engine/reference/reference.py, float64) on the same weights (it reads the folder's
// model.safetensors itself) and the same token ids (tokenized here with transformers.js), windowed as the
// command documents. Skipped, with a note, where PyTorch is not installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/engine/models/index.js';
import type { HFConfig } from '../../src/engine/models/types.js';
import { loadPretrained, readConfig, savePretrained } from '../../src/engine/pretrained.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { lastLine, repoRoot, runDumbo, tempDir } from '../helpers.js';
import { logitsOf, randomize } from '../engine/models/tiny.js';
import { findTorchPython, pythonEnv } from '../../src/bench/python.js';

const script = path.join(repoRoot, 'tests', 'engine', 'reference', 'reference.py');
const gpt2TokenizerDir = path.resolve(repoRoot, '..', 'shared', 'data', 'gpt2-tokenizer');
const hasGpt2Tokenizer = existsSync(path.join(gpt2TokenizerDir, 'tokenizer.json'));
const quickstartTokenizerDir = path.join(repoRoot, 'resources', 'quickstart', 'tokenizer');

const python = findTorchPython();
if (!python)
  console.warn(
    'engine-commands: PyTorch not installed: apt-get install python3-torch (skipping `dumbo score` vs PyTorch)',
  );
if (!hasGpt2Tokenizer)
  console.warn(`engine-commands: ${gpt2TokenizerDir} is missing (skipping the GPT-2 tokenizer variant)`);

// About 200 GPT-2 tokens: several windows of a 64-token context.
const TEXT = `The lighthouse keeper's daughter counted ships the way other children counted sheep. Every evening,
after the lamp was trimmed and the brass polished, she climbed to the gallery with a notebook and wrote down
what passed: two trawlers, a ferry running late, once a tall ship with 3 masts and patched sails.

Her father said the sea kept no promises, only habits. "Learn its habits," he told her, "and you will never
be surprised by it." She learned that fog came in from the south-west after a warm day; that the gulls went
quiet an hour before a storm; that the 7:15 ferry was never on time in winter.

Years later, when the lamp was automated and the keeper's cottage sold, she still kept the notebook — 412
pages, water-stained, every line in pencil. Café owners in the harbour town asked to frame a page or two.
She always said no. The ships were not hers to give away.
`;

interface ScoreJson {
  loss: number;
  tokens: number;
  perplexity: number;
}

/**
 * Token ids exactly as transformers.js's `tokenizer.encode(text)` gets them with its default options: the
 * tokenizers library it encodes with, called directly (not through the engine's wrapper).
 */
async function encodeWithTransformersJs(dir: string, text: string): Promise<number[]> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as object;
  return new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json')).encode(text).ids;
}

/** A random tiny GPT-2 over a tokenizer's vocabulary, saved with that tokenizer as a Hugging Face folder. */
async function gpt2Folder(tokenizerDir: string, vocab: number, positions: number, seed: number): Promise<string> {
  const tokenizer = await loadTokenizer(tokenizerDir);
  const config: HFConfig = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: vocab,
    n_positions: positions,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
    bos_token_id: tokenizer.eosTokenId,
    eos_token_id: tokenizer.eosTokenId,
  };
  // Weights larger than the initialisation's 0.02, so that the loss is far from the uniform ln(V).
  const lm = randomize(createModel(config, { seed }), seed + 1, 0.3);
  const dir = path.join(tempDir('dumbo-cli-model-'), 'model');
  await savePretrained(lm, dir, tokenizer);
  lm.dispose();
  return dir;
}

let textFile: string;
let quickstartModelDir: string;

beforeAll(async () => {
  await initBackend('cpu');
  textFile = path.join(tempDir(), 'story.txt');
  writeFileSync(textFile, TEXT);
  quickstartModelDir = await gpt2Folder(quickstartTokenizerDir, 512, 32, 11);
});

const torchTitle = python
  ? 'dumbo score agrees with an independent PyTorch implementation'
  : 'dumbo score vs PyTorch: PyTorch not installed: apt-get install python3-torch';

describe.skipIf(!python)(torchTitle, () => {
  const variants: {
    name: string;
    tokenizerDir: string;
    vocab: number;
    positions: number;
    skip: boolean;
  }[] = [
    { name: 'GPT-2 tokenizer', tokenizerDir: gpt2TokenizerDir, vocab: 50257, positions: 64, skip: !hasGpt2Tokenizer },
    { name: 'quickstart tokenizer', tokenizerDir: quickstartTokenizerDir, vocab: 512, positions: 32, skip: false },
  ];
  const results = new Map<
    string,
    { ours: ScoreJson; stderr: string; ids: number[]; ref: ScoreJson & { windows: number } }
  >();

  beforeAll(async () => {
    const cases = [];
    const runs = [];
    for (const [i, v] of variants.entries()) {
      if (v.skip) continue;
      const dir =
        v.tokenizerDir === quickstartTokenizerDir
          ? quickstartModelDir
          : await gpt2Folder(v.tokenizerDir, v.vocab, v.positions, 21 + i);
      const ids = await encodeWithTransformersJs(v.tokenizerDir, TEXT);
      const config = readConfig(dir);
      cases.push({
        mode: 'score',
        arch: 'GPT2LMHeadModel',
        config,
        weights_file: path.join(dir, 'model.safetensors'),
        ids,
        window: config.n_positions,
      });
      runs.push({ v, ids, cli: runDumbo(['score', '--model', dir, '--text', textFile, '--json']) });
    }
    const file = path.join(tempDir('dumbo-torch-'), 'cases.json');
    writeFileSync(file, JSON.stringify({ cases }));
    const r = spawnSync(python!, [script, file], { env: pythonEnv(), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`reference.py failed (${r.status}): ${r.stderr || r.error}`);
    const refs = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { results: (ScoreJson & { windows: number })[] })
      .results;
    for (const [k, run] of runs.entries()) {
      const cli = await run.cli;
      if (cli.code !== 0) throw new Error(`dumbo score failed (${cli.code}): ${cli.stderr}`);
      results.set(run.v.name, {
        ours: JSON.parse(lastLine(cli.stdout)) as ScoreJson,
        stderr: cli.stderr,
        ids: run.ids,
        ref: refs[k]!,
      });
    }
  }, 120_000);

  for (const v of variants) {
    const title = v.skip
      ? `${v.name}: skipped, ${gpt2TokenizerDir} is missing`
      : `${v.name}: the same loss (nats/token) to 1e-4, over several windows, every token after the first predicted once`;
    it.skipIf(v.skip)(title, () => {
      const { ours, ref, ids, stderr } = results.get(v.name)!;
      // ~200 tokens in windows of the context length: several of them.
      expect(ids.length).toBeGreaterThan(3 * v.positions);
      expect(ref.windows).toBe(Math.ceil((ids.length - 1) / (v.positions - 1)));
      expect(ref.tokens).toBe(ids.length - 1);
      expect(ours.tokens).toBe(ids.length - 1);
      const diff = Math.abs(ours.loss - ref.loss);
      console.info(
        `${v.name}: ${ids.length} tokens, dumbo ${ours.loss}, PyTorch ${ref.loss}, |Δ| ${diff.toExponential(2)}`,
      );
      expect(diff, `dumbo ${ours.loss} vs PyTorch ${ref.loss}`).toBeLessThan(1e-4);
      // Random weights of scale 0.3: far from a uniform prediction, so the comparison means something.
      expect(Math.abs(ref.loss - Math.log(v.vocab))).toBeGreaterThan(0.5);
      expect(ours.perplexity).toBeCloseTo(Math.exp(ours.loss), 10);
      expect(stderr).toContain(
        `${textFile}: ${ids.length - 1} predicted tokens, loss ${ours.loss.toFixed(6)} nats/token`,
      );
    });
  }
});

describe('dumbo score', () => {
  it('--json: the last stdout line holds loss, tokens and perplexity = exp(loss); the summary goes to stderr', async () => {
    const r = await runDumbo(['score', '--model', quickstartModelDir, '--text', textFile, '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(lastLine(r.stdout)) as ScoreJson;
    expect(Object.keys(json).sort()).toEqual(['loss', 'perplexity', 'tokens']);
    expect(json.perplexity).toBeCloseTo(Math.exp(json.loss), 10);
    const ids = await encodeWithTransformersJs(quickstartTokenizerDir, TEXT);
    expect(json.tokens).toBe(ids.length - 1);
    expect(json.loss).toBeGreaterThan(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(lastLine(r.stderr)).toBe(
      `${textFile}: ${json.tokens} predicted tokens, loss ${json.loss.toFixed(6)} nats/token, perplexity ${json.perplexity.toFixed(4)}`,
    );
    // Without --json nothing goes to stdout.
    const plain = await runDumbo(['score', '--model', quickstartModelDir, '--text', textFile]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('');
    expect(lastLine(plain.stderr)).toBe(lastLine(r.stderr));
  });

  it('a missing text file: exit 2 and `FILE: cannot read the text: no such file`', async () => {
    const missing = path.join(tempDir(), 'nope.txt');
    const r = await runDumbo(['score', '--model', quickstartModelDir, '--text', missing]);
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(`${missing}: cannot read the text: no such file`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
  });

  it('a text of fewer than 2 tokens: exit 2, nothing to predict', async () => {
    const one = path.join(tempDir(), 'one.txt');
    writeFileSync(one, '');
    const r = await runDumbo(['score', '--model', quickstartModelDir, '--text', one]);
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(`${one}: the text has fewer than 2 tokens: nothing to predict`);
  });

  it('missing --text: exit 2 with the usage line', async () => {
    const r = await runDumbo(['score', '--model', quickstartModelDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dumbo: missing --text FILE\n');
  });
});

describe('dumbo generate', () => {
  /**
   * Greedy decoding computed here, independently: full forward passes (no KV cache), argmax, stop at EOS. An
   * empty prompt starts from the BOS token (EOS where there is none).
   */
  async function greedyHere(dir: string, prompt: string, maxNew: number): Promise<string> {
    const model = await loadPretrained(dir, 0, 'cpu');
    const tokenizer = await loadTokenizer(dir);
    const ids = prompt === '' ? [(tokenizer.bosTokenId ?? tokenizer.eosTokenId)!] : tokenizer.encode(prompt);
    const V = model.lm.vocabSize;
    const out: number[] = [];
    while (out.length < maxNew && ids.length < model.lm.maxPositions) {
      const logits = logitsOf(model.lm, [ids]);
      const last = logits.subarray((ids.length - 1) * V, ids.length * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
      out.push(best);
      ids.push(best);
      if (best === tokenizer.eosTokenId) break;
    }
    model.lm.dispose();
    return prompt + tokenizer.decode(out, { skipSpecialTokens: true });
  }

  it('--temperature 0 prints the prompt followed by the greedy continuation, the same every time', async () => {
    const prompt = 'Once upon a time';
    const args = ['generate', '--model', quickstartModelDir, '--prompt', prompt, '--temperature', '0'];
    const [a, b, c] = await Promise.all([
      runDumbo([...args, '--max-new-tokens', '5']),
      runDumbo([...args, '--max-new-tokens', '5', '--seed', '123']),
      runDumbo([...args, '--max-new-tokens', '0']),
    ]);
    for (const r of [a, b, c]) expect(r.code, r.stderr).toBe(0);
    const expected = await greedyHere(quickstartModelDir, prompt, 5);
    expect(expected.length).toBeGreaterThan(prompt.length);
    expect(a.stdout).toBe(expected + '\n');
    expect(b.stdout).toBe(a.stdout); // greedy: the seed does not matter
    expect(c.stdout).toBe(prompt + '\n');
  });

  it('an empty --prompt samples from the BOS (else EOS) token, as a run and the app do', async () => {
    const args = ['generate', '--model', quickstartModelDir, '--prompt', '', '--temperature', '0'];
    const r = await runDumbo([...args, '--max-new-tokens', '6']);
    expect(r.code, r.stderr).toBe(0);
    const expected = await greedyHere(quickstartModelDir, '', 6);
    expect(expected).not.toBe('');
    expect(r.stdout).toBe(expected + '\n');
  });

  it('no --prompt at all: exit 2 with `dumbo: missing --prompt TEXT`', async () => {
    const r = await runDumbo(['generate', '--model', quickstartModelDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dumbo: missing --prompt TEXT\n');
  });

  it('missing --model: exit 2 with `dumbo: missing --model DIR`', async () => {
    const r = await runDumbo(['generate', '--prompt', 'hi']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dumbo: missing --model DIR\n');
    expect(r.stdout).toBe('');
  });

  it('a folder without config.json: exit 2 and `DIR: not a model folder: ...` as the last line', async () => {
    const dir = tempDir();
    const r = await runDumbo(['generate', '--model', dir, '--prompt', 'hi']);
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(
      `${dir}: not a model folder: no config.json (give a run's final/ folder or a Hugging Face model folder)`,
    );
    expect(r.stdout).toBe('');
  });

  it('a folder whose weights are missing or do not fit: exit 2 and one `DIR: message` last line', async () => {
    const noWeights = tempDir();
    writeFileSync(path.join(noWeights, 'config.json'), JSON.stringify(readConfig(quickstartModelDir)));
    const a = await runDumbo(['generate', '--model', noWeights, '--prompt', 'hi']);
    expect(a.code).toBe(2);
    expect(lastLine(a.stderr)).toBe(
      `${noWeights}: no weights: looked for model.safetensors and model.safetensors.index.json (sharded), found neither`,
    );

    const misfit = path.join(tempDir(), 'misfit');
    const lm = createModel({ ...readConfig(quickstartModelDir), n_layer: 1 }, { seed: 0 });
    await savePretrained(lm, misfit, await loadTokenizer(quickstartTokenizerDir));
    lm.dispose();
    writeFileSync(path.join(misfit, 'config.json'), JSON.stringify(readConfig(quickstartModelDir)));
    const b = await runDumbo(['generate', '--model', misfit, '--prompt', 'hi']);
    expect(b.code).toBe(2);
    expect(lastLine(b.stderr)).toMatch(
      new RegExp(
        `^${misfit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the checkpoint does not fit this GPT2LMHeadModel config: missing tensors: transformer\\.h\\.1\\.ln_1\\.weight, `,
      ),
    );
    expect(b.stderr).not.toMatch(/\n\s+at /);
  });

  it('a model folder without a tokenizer: exit 2 and `DIR: no tokenizer.json ...`', async () => {
    const dir = path.join(tempDir(), 'no-tokenizer');
    const lm = createModel(readConfig(quickstartModelDir), { seed: 0 });
    await savePretrained(lm, dir);
    lm.dispose();
    const r = await runDumbo(['generate', '--model', dir, '--prompt', 'hi']);
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(
      `${dir}: no tokenizer.json (a Hugging Face tokenizer folder has tokenizer.json and tokenizer_config.json)`,
    );
  });
});

describe('dumbo doctor', () => {
  it('prints the backend report, why the better backends are not used, and --json as the last line', async () => {
    // A Hugging Face cache of our own with one model in it.
    const cache = tempDir('dumbo-hf-cache-');
    const repo = path.join(cache, 'models--org--cached');
    mkdirSync(path.join(repo, 'snapshots', 'abc'), { recursive: true });
    mkdirSync(path.join(repo, 'refs'));
    writeFileSync(path.join(repo, 'refs', 'main'), 'abc');
    writeFileSync(path.join(repo, 'snapshots', 'abc', 'config.json'), '{}');
    const env = { HF_HUB_CACHE: cache };
    const [plain, withJson] = await Promise.all([
      runDumbo(['doctor'], { env }),
      runDumbo(['doctor', '--json'], { env }),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('');
    expect(withJson.code).toBe(0);
    const { backend, cachedModels } = JSON.parse(lastLine(withJson.stdout)) as {
      backend: {
        name: string;
        why: string;
        tfjsVersion: string;
        candidates: { name: string; pkg: string; available: boolean; reason?: string }[];
      };
      cachedModels: { repoId: string; snapshot: string }[];
    };
    expect(cachedModels).toEqual([{ repoId: 'org/cached', snapshot: path.join(repo, 'snapshots', 'abc') }]);
    expect(backend.candidates.map((c) => c.name)).toEqual(['gpu', 'webgpu', 'native', 'native-cpu', 'cpu', 'wasm']);

    const installed = (pkg: string) => {
      try {
        createRequire(path.join(repoRoot, 'package.json')).resolve(pkg);
        return true;
      } catch {
        return false;
      }
    };
    // Dawn itself prints two warnings on stderr when it meets a software Vulkan adapter (lavapipe's limits).
    const lines = plain.stderr.split('\n').filter((l) => !/^Warning: maxDynamic\w+ artificially reduced/.test(l));
    expect(lines[0]).toBe(`backend: ${backend.name} (tfjs ${backend.tfjsVersion}) — ${backend.why}`);
    const webgpu = backend.candidates.find((c) => c.name === 'webgpu')!;
    const nativeCpu = backend.candidates.find((c) => c.name === 'native-cpu')!;
    const noTfjsNode = !installed('@tensorflow/tfjs-node-gpu') && !installed('@tensorflow/tfjs-node');
    if (noTfjsNode && !webgpu.available && nativeCpu.available) {
      // Here, where the native addon built (CI builds it): native-cpu, with its BLAS.
      expect(backend.name).toBe('native-cpu');
      expect(lines.some((l) => /^ {2}\* native-cpu dumbo native addon \(.+, \d+ threads\)$/.test(l))).toBe(true);
    }
    if (noTfjsNode && !webgpu.available && !nativeCpu.available) {
      // Here: the pure-JS cpu backend, with what to install for the better ones (WebGPU: no adapter, or only
      // a software one, which `auto` never takes).
      expect(backend.name).toBe('cpu');
      expect(backend.why).toBe(
        'the better ones cannot run: @tensorflow/tfjs-node-gpu is not installed (npm install @tensorflow/tfjs-node-gpu); ' +
          `${webgpu.reason}; ` +
          '@tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node); ' +
          nativeCpu.reason,
      );
      expect(lines).toContain(
        '  - native @tensorflow/tfjs-node: @tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node)',
      );
      expect(lines).toContain('  * cpu    @tensorflow/tfjs-backend-cpu');
      expect(plain.stderr).toContain('the pure-JS cpu backend is slow');
    }
    for (const c of backend.candidates) {
      if (c.name !== backend.name && c.reason) expect(plain.stderr).toContain(`${c.pkg}: ${c.reason}`);
    }
    expect(plain.stderr).toContain(`node ${process.version} on ${process.platform}-${process.arch}\n`);
    expect(plain.stderr).toContain(`Hugging Face cache: ${cache} (1 model)\n`);
    expect(plain.stderr).toMatch(/\nelectron: (installed|not installed .*)\n$/);
  });
});
