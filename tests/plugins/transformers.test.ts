// The transformers plugin's hooks, called directly: a fresh model from a config (quickstart), a pretrained
// folder, a hub repo id downloaded from a loopback server into a temporary Hugging Face cache, the tokenizer
// loader, and the model info that log_model reports.
import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  standaloneContext,
  type Model,
  type PluginContext,
  type PluginConfig,
  type Result,
  type Tokenizer,
} from '../../src/core/index.js';
import { initBackend } from '../../src/engine/backend.js';
import { createModel } from '../../src/engine/models/index.js';
import { isEngineModel, loadPretrained, savePretrained, type EngineModel } from '../../src/engine/pretrained.js';
import { loadTokenizer } from '../../src/engine/tokenizer.js';
import { TransformersModelLoader, TransformersTokenizerLoader } from '../../plugins/transformers/index.js';
import { repoRoot, tempDir } from '../helpers.js';
import { logitsOf, randomize } from '../engine/models/tiny.js';

const quickstart = path.join(repoRoot, 'resources', 'quickstart');
const quickstartModel = path.join(quickstart, 'model');
const quickstartTokenizer = path.join(quickstart, 'tokenizer');
/** resources/quickstart/model/config.json: GPT-2, vocab 512, 128 positions, width 64, 4 layers. */
const QUICKSTART_PARAMS = 241_024;
const ROWS = [[5, 17, 300, 511, 2, 64]];

/** The plugins' context: relative paths in `model:` resolve against its config folder. */
let ctx: PluginContext = standaloneContext('transformers');
function useConfigDir(dir: string, seed = 42): void {
  ctx = standaloneContext('transformers', { configFile: path.join(dir, 'config.yaml'), configDir: dir, seed });
}

async function loadModel(config: PluginConfig): Promise<Result<Model, Error>> {
  return (await new TransformersModelLoader().hooks().model_loader!(config, ctx)) as Result<Model, Error>;
}

async function loadModelOk(config: PluginConfig): Promise<EngineModel> {
  const r = await loadModel(config);
  if (!r.ok) throw r.error;
  const model = r.unwrap();
  expect(isEngineModel(model)).toBe(true);
  return model as EngineModel;
}

async function loadTok(config: PluginConfig, model?: Model): Promise<Result<Tokenizer, Error>> {
  return (await new TransformersTokenizerLoader().hooks().tokenizer_loader!(config, model, ctx)) as Result<
    Tokenizer,
    Error
  >;
}

const errorOf = (r: Result<unknown, Error>) => (r.ok ? undefined : r.error.message);

/** A tiny GPT-2 with random weights over the quickstart tokenizer, saved as a Hugging Face folder. */
let savedDir: string;
let savedLogits: Float32Array;

// A loopback server that answers like the hub (tests/engine/hub.test.ts): /{repo}/resolve/{revision}/{file}
// with x-repo-commit and etags; model.safetensors (an LFS file) behind a redirect carrying x-linked-etag.
const COMMIT = 'c'.repeat(40);
let server: Server;
let endpoint: string;
const requests: string[] = [];

beforeAll(async () => {
  await initBackend('cpu');
  const tokenizer = await loadTokenizer(quickstartTokenizer);
  const lm = randomize(
    createModel({
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: 512,
      n_positions: 32,
      n_embd: 16,
      n_layer: 2,
      n_head: 2,
      bos_token_id: 511,
      eos_token_id: 511,
    }),
    7,
    0.3,
  );
  savedDir = path.join(tempDir(), 'saved');
  await savePretrained(lm, savedDir, tokenizer);
  savedLogits = logitsOf(lm, ROWS);
  lm.dispose();

  server = createServer((req, res) => {
    requests.push(req.url!);
    const m = /^\/org\/tiny-gpt2\/resolve\/main\/([\w.-]+)$/.exec(req.url!);
    const cdn = /^\/cdn\/([\w.-]+)$/.exec(req.url!);
    const file = (name: string) => path.join(savedDir, name);
    if (cdn && existsSync(file(cdn[1]!))) {
      res.writeHead(200, { etag: '"cdn-etag"' });
      res.end(readFileSync(file(cdn[1]!)));
    } else if (m && m[1] === 'model.safetensors') {
      res.writeHead(302, { location: `/cdn/${m[1]}`, 'x-repo-commit': COMMIT, 'x-linked-etag': '"sha256-weights"' });
      res.end();
    } else if (m && existsSync(file(m[1]!))) {
      res.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"etag-${m[1]}"` });
      res.end(readFileSync(file(m[1]!)));
    } else {
      res.writeHead(404);
      res.end('Entry not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Runs `fn` with HF_ENDPOINT on the loopback server and no offline switch set. */
async function withHub<T>(fn: () => Promise<T>): Promise<T> {
  const keys = ['HF_ENDPOINT', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  process.env.HF_ENDPOINT = endpoint;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.TRANSFORMERS_OFFLINE;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('model loader: init from_config', () => {
  it('makes the quickstart model from a folder holding only config.json and the tokenizer', async () => {
    expect(readdirSync(quickstartModel).sort()).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json']);
    useConfigDir(quickstart, 42);
    const model = await loadModelOk({ base_model: 'model', init: 'from_config' });
    expect(model.architecture).toBe('GPT2LMHeadModel');
    expect(model.sourceDir).toBeUndefined();
    const info = model.info!();
    expect(info.parametersTotal).toBe(QUICKSTART_PARAMS);
    expect(info.parametersTrainable).toBe(QUICKSTART_PARAMS);
    expect(info.layers).toBe(4);
    model.lm.dispose();
  });

  it('draws the same weights for the same seed, and others for another seed', async () => {
    const config = { base_model: quickstartModel, init: 'from_config' };
    useConfigDir(quickstart, 42);
    const a = await loadModelOk(config);
    const b = await loadModelOk(config);
    useConfigDir(quickstart, 43);
    const c = await loadModelOk(config);
    const la = logitsOf(a.lm, ROWS);
    expect(Buffer.from(logitsOf(b.lm, ROWS).buffer).equals(Buffer.from(la.buffer))).toBe(true);
    expect(Array.from(logitsOf(c.lm, ROWS))).not.toEqual(Array.from(la));
    const wte = (m: EngineModel) => Array.from(m.lm.params.get('transformer.wte.weight')!.dataSync());
    expect(wte(b)).toEqual(wte(a));
    expect(wte(c)).not.toEqual(wte(a));
    for (const m of [a, b, c]) m.lm.dispose();
  });

  it('applies `config` overrides over the base config', async () => {
    useConfigDir(quickstart);
    const model = await loadModelOk({ base_model: 'model', init: 'from_config', config: { n_layer: 2 } });
    const info = model.info!();
    expect(info.layers).toBe(2);
    expect(model.config.n_layer).toBe(2);
    expect(model.config.n_embd).toBe(64); // the rest from the base config
    // 241,024 minus two blocks of 49,984 (two LayerNorms, attention and MLP at width 64)
    expect(info.parametersTotal).toBe(QUICKSTART_PARAMS - 2 * 49_984);
    model.lm.dispose();
  });

  it('takes a whole config without base_model, and refuses neither', async () => {
    useConfigDir(quickstart);
    const model = await loadModelOk({
      init: 'from_config',
      config: {
        model_type: 'llama',
        vocab_size: 32,
        hidden_size: 8,
        num_attention_heads: 2,
        intermediate_size: 16,
        num_hidden_layers: 1,
      },
    });
    expect(model.architecture).toBe('LlamaForCausalLM');
    model.lm.dispose();
    // Without num_attention_heads (default 32) 8 dimensions make heads of width 0.
    const narrow = { model_type: 'llama', vocab_size: 32, hidden_size: 8, num_hidden_layers: 1 };
    expect(errorOf(await loadModel({ init: 'from_config', config: narrow }))).toBe(
      'model.config.hidden_size: 8 is smaller than num_attention_heads 32, so heads would have no width: ' +
        'set num_attention_heads (default 32) or head_dim',
    );
    expect(errorOf(await loadModel({ init: 'from_config' }))).toBe(
      'model: init: from_config needs base_model (a folder with config.json) or config',
    );
  });
});

describe('model loader: init pretrained', () => {
  it('loads a folder saved by savePretrained with identical logits', async () => {
    useConfigDir(path.dirname(savedDir));
    const model = await loadModelOk({ base_model: 'saved', init: 'pretrained' });
    expect(model.sourceDir).toBe(savedDir);
    expect(Buffer.from(logitsOf(model.lm, ROWS).buffer).equals(Buffer.from(savedLogits.buffer))).toBe(true);
    model.lm.dispose();
  });

  it('gives a clear Err for a missing folder, and for no base_model', async () => {
    const dir = tempDir();
    useConfigDir(dir);
    expect(errorOf(await loadModel({ base_model: './no-such-model', init: 'pretrained' }))).toBe(
      `model.base_model: no folder ${path.join(dir, 'no-such-model')}`,
    );
    expect(errorOf(await loadModel({ init: 'pretrained' }))).toBe(
      'model.base_model is required to load a pretrained model',
    );
  });

  it('gives an Err naming the tensors when the weights do not fit', async () => {
    useConfigDir(quickstart);
    // The quickstart folder has no weights at all.
    expect(errorOf(await loadModel({ base_model: 'model', init: 'pretrained' }))).toMatch(
      /no weights: looked for model\.safetensors and model\.safetensors\.index\.json/,
    );
  });
});

describe('model loader: a hub repo id', () => {
  it('downloads into the Hugging Face cache with allow_download, then loads it (and its tokenizer)', async () => {
    const cache = tempDir('dumbo-hf-cache-');
    useConfigDir(tempDir());
    const config = { base_model: 'org/tiny-gpt2', allow_download: true, cache_dir: cache };
    const model = await withHub(() => loadModelOk(config));
    const snapshot = path.join(cache, 'models--org--tiny-gpt2', 'snapshots', COMMIT);
    expect(model.sourceDir).toBe(snapshot);
    expect(readdirSync(snapshot).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(readFileSync(path.join(cache, 'models--org--tiny-gpt2', 'refs', 'main'), 'utf8')).toBe(COMMIT);
    expect(requests).toContain('/cdn/model.safetensors');
    expect(Buffer.from(logitsOf(model.lm, ROWS).buffer).equals(Buffer.from(savedLogits.buffer))).toBe(true);

    // From the cache now: no request to the server, and no download permission needed.
    const before = requests.length;
    const tok = await withHub(() => loadTok({ base_model: 'org/tiny-gpt2', cache_dir: cache }, model));
    expect(requests.length).toBe(before);
    expect(tok.ok).toBe(true);
    expect(tok.unwrap().vocabSize).toBe(512);
    model.lm.dispose();
  });

  it('without allow_download gives an Err that says to set model.allow_download', async () => {
    const cache = tempDir('dumbo-hf-cache-');
    useConfigDir(tempDir());
    const before = requests.length;
    const r = await withHub(() => loadModel({ base_model: 'org/tiny-gpt2', cache_dir: cache }));
    expect(errorOf(r)).toBe(
      `model 'org/tiny-gpt2' is not in the Hugging Face cache (${cache}); set model.allow_download: true to download it, or give a local folder`,
    );
    expect(requests.length).toBe(before);
  });

  it("the estimate reads a cached repo's config.json, and never downloads one that is not cached", async () => {
    const cache = tempDir('dumbo-hf-cache-');
    useConfigDir(tempDir());
    const estimate = async (config: PluginConfig) =>
      new TransformersModelLoader().hooks().estimate!({ trainRows: async () => 0 }, config, ctx);
    const before = requests.length;
    const missing = await withHub(() =>
      estimate({ base_model: 'org/tiny-gpt2', allow_download: true, cache_dir: cache }),
    );
    expect(missing.ok ? '' : (missing.error as Error).message).toBe(
      'model.base_model: org/tiny-gpt2 is not in the Hugging Face cache yet, so its size is unknown (it is downloaded when the run starts)',
    );
    expect(requests.length).toBe(before);
    (
      await withHub(() => loadModelOk({ base_model: 'org/tiny-gpt2', allow_download: true, cache_dir: cache }))
    ).lm.dispose();
    const cached = await estimate({
      base_model: 'org/tiny-gpt2',
      cache_dir: cache,
      init: 'from_config',
      config: { n_layer: 1 },
    });
    expect(cached.unwrap().modelConfig).toMatchObject({ model_type: 'gpt2', n_layer: 1 });
  });

  it('names a repo the hub does not have', async () => {
    const r = await withHub(() =>
      loadModel({ base_model: 'org/missing', allow_download: true, cache_dir: tempDir('dumbo-hf-cache-') }),
    );
    expect(errorOf(r)).toBe(`${endpoint}/org/missing: no file config.json at revision main`);
  });
});

describe('tokenizer loader', () => {
  it('loads the quickstart tokenizer: vocab 512, eos 511', async () => {
    useConfigDir(quickstart);
    const r = await loadTok({ base_model: 'model', tokenizer: 'tokenizer', init: 'from_config' });
    const tok = r.unwrap();
    expect(tok.vocabSize).toBe(512);
    expect(tok.eosTokenId).toBe(511);
    const ids = tok.encode('Once upon a time there was a dragon.');
    expect(ids.length).toBeGreaterThan(3);
    expect(ids.every((i) => i >= 0 && i < 512)).toBe(true);
    expect(tok.decode(ids)).toBe('Once upon a time there was a dragon.');
  });

  it("falls back to base_model, then to the model's own folder", async () => {
    useConfigDir(quickstart);
    expect((await loadTok({ base_model: 'model' })).unwrap().vocabSize).toBe(512);
    const model = await loadPretrained(savedDir, 0, 'cpu');
    expect((await loadTok({}, model)).unwrap().vocabSize).toBe(512);
    expect(errorOf(await loadTok({}))).toBe(
      'model.tokenizer (or model.base_model) must name a folder with tokenizer.json',
    );
    model.lm.dispose();
  });

  it("rejects a tokenizer bigger than the model's vocabulary", async () => {
    useConfigDir(quickstart);
    const model = await loadModelOk({ base_model: 'model', init: 'from_config', config: { vocab_size: 256 } });
    const r = await loadTok({ base_model: 'model', tokenizer: 'tokenizer' }, model);
    expect(errorOf(r)).toBe(`the tokenizer in ${quickstartTokenizer} has 512 tokens but the model's vocab_size is 256`);
    model.lm.dispose();
  });

  it('gives an Err for a folder without tokenizer.json', async () => {
    const dir = tempDir();
    useConfigDir(dir);
    expect(errorOf(await loadTok({ tokenizer: dir }))).toBe(
      `model.tokenizer: ${dir}: no tokenizer.json (a Hugging Face tokenizer folder has tokenizer.json and tokenizer_config.json)`,
    );
  });
});

describe('model info (what log_model reports)', () => {
  it('reports architecture, layers, parameters, bytes, dtype and backend', async () => {
    useConfigDir(quickstart);
    const model = await loadModelOk({ base_model: 'model', init: 'from_config' });
    const { currentBackend } = await import('dumbo/engine');
    const info = model.info!();
    expect(info).toMatchObject({
      architecture: 'GPT2LMHeadModel',
      modelType: 'gpt2',
      layers: 4,
      vocabSize: 512,
      maxPositions: 128,
      parametersTotal: QUICKSTART_PARAMS,
      parametersTrainable: QUICKSTART_PARAMS,
      bytes: QUICKSTART_PARAMS * 4,
      dtype: 'float32',
      backend: currentBackend()!.name,
    });
    expect(['cpu', 'native', 'gpu', 'wasm']).toContain(info.backend);
    const tensors = info.tensors as { name: string; shape: number[]; parameters: number }[];
    expect(tensors.reduce((a, t) => a + t.parameters, 0)).toBe(QUICKSTART_PARAMS);
    expect(tensors.find((t) => t.name === 'transformer.wte.weight')).toMatchObject({ shape: [512, 64] });
    // It is plain data: a logger can serialise it.
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);
    model.lm.dispose();
  });
});
