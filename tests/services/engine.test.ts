// The service layer's engine calls, served by the compute worker: the run estimate (and the parameter
// counts behind it), the dataset preview, generation from a run's final/ folder, and the model list.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  countParameters,
  createModel,
  initBackend,
  loadTokenizer,
  savePretrained,
  type HFConfig,
} from '../../src/engine/index.js';
import { modelShape, trainingMemoryBytes } from '../../src/host/estimate.js';
import { repoRoot, writeFiles } from '../helpers.js';
import { harness } from './harness.js';

const quickstartYaml = path.join(repoRoot, 'resources', 'examples', 'quickstart.yaml');
const quickModel = path.join(repoRoot, 'resources', 'quickstart', 'model');

describe('estimate: parameter counts from a config.json', () => {
  const configs: Record<string, HFConfig> = {
    'gpt2 tied': { model_type: 'gpt2', vocab_size: 50, n_positions: 16, n_embd: 8, n_layer: 2, n_head: 2 },
    'gpt2 untied, n_inner': {
      model_type: 'gpt2',
      vocab_size: 50,
      n_positions: 16,
      n_embd: 8,
      n_layer: 3,
      n_head: 2,
      n_inner: 20,
      tie_word_embeddings: false,
    },
    'gpt-neo': {
      model_type: 'gpt_neo',
      vocab_size: 40,
      max_position_embeddings: 32,
      hidden_size: 8,
      num_layers: 2,
      num_heads: 2,
      attention_types: [[['global', 'local'], 1]],
    },
    'llama gqa, biases, untied': {
      model_type: 'llama',
      vocab_size: 30,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      attention_bias: true,
      mlp_bias: true,
    },
    'llama tied': {
      model_type: 'llama',
      vocab_size: 30,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      tie_word_embeddings: true,
    },
  };

  it.each(Object.entries(configs))('%s: as many parameters as the engine builds', async (_name, config) => {
    await initBackend('cpu');
    const lm = createModel(config, { initialize: false });
    try {
      expect(modelShape(config).parameters).toBe(countParameters(lm).total);
    } finally {
      lm.dispose();
    }
  });

  it('memory: 16 bytes per parameter plus activations and logits', () => {
    const shape = { parameters: 1000, layers: 2, hidden: 8, heads: 2, vocab: 50, maxPositions: 16 };
    expect(trainingMemoryBytes(shape, 2, 16)).toBe(16_000 + 2 * 32 * (34 * 8 + 5 * 2 * 16) * 4 + 32 * 50 * 12);
  });
});

describe('services: estimate, dataset preview, generate, models', () => {
  const h = harness();

  it('estimateRun: the quickstart config', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(quickstartYaml, 'utf8');
    const e = await h.services.calls.estimateRun(text, quickstartYaml);
    expect(e).toMatchObject({ parameters: 141_056, tokensPerStep: 8 * 64, steps: 120 });
    expect(e.secondsPerStep).toBeGreaterThan(0);
    expect(e.totalSeconds).toBeCloseTo(e.secondsPerStep * 120, 6);
    expect(e.memoryBytes).toBeGreaterThan(141_056 * 16);
    expect(e.backendReason).toBeTruthy();
    if (e.backend === 'cpu') expect(e.slowBackendWarning).toMatch(/pure-JS cpu backend/);
    else expect(e.slowBackendWarning).toBeUndefined();

    // Without max_steps the steps follow from the data (2840 packed rows of 64 tokens, batch 8, accumulation 2).
    const fromData = text
      .replace('  max_steps: 120\n', '  epochs: 1\n  gradient_accumulation_steps: 2\n')
      .replace(/eval_every: 40/, 'eval_every: 0');
    const e2 = await h.services.calls.estimateRun(fromData, quickstartYaml);
    expect(e2).toMatchObject({ tokensPerStep: 8 * 64 * 2, steps: Math.floor(Math.floor(2840 / 8) / 2) });

    await expect(h.services.calls.estimateRun('plugins: [file_logger]\n', quickstartYaml)).rejects.toThrow(
      /no plugin provides a trainer/,
    );
  });

  it("estimateRun: a third-party trainer's answer to the estimate hook is what the estimate counts", async () => {
    const trainer = (answers: boolean) => `import { BasePlugin, Ok } from 'dumbo';
export class FlatTrainer extends BasePlugin {
  static configKey = 'flat';
  static provides = ['trainer'];
  hooks() {
    return {
      trainer: () => Ok({ steps: 0 }),
      ${answers ? 'estimate: (facts) => Ok({ ...facts, batchSize: 3, seqLen: Math.min(10, facts.maxPositions), steps: 7 }),' : ''}
    };
  }
}
export const AVAILABLE_PLUGINS = [FlatTrainer];
`;
    const dir = writeFiles(h.cwd, { 'flat/answers/index.js': trainer(true), 'flat/silent/index.js': trainer(false) });
    const text = (t: string) =>
      `plugins: [transformers, ./${t}]\nmodel: {base_model: ${JSON.stringify(quickModel)}, init: from_config}\n`;
    const file = path.join(dir, 'flat', 'run.yaml');
    const e = await h.services.calls.estimateRun(text('answers'), file);
    expect(e).toMatchObject({ parameters: 241_024, tokensPerStep: 30, steps: 7 });
    await expect(h.services.calls.estimateRun(text('silent'), file)).rejects.toThrow(
      'the trainer flat_trainer does not answer the estimate hook (batchSize, seqLen, steps): its cost cannot be estimated',
    );
  });

  it('previewDataset: the first batch, token by token, with the masked prompt positions', async () => {
    const dir = writeFiles(h.cwd, {
      'qa/data.jsonl':
        JSON.stringify({ prompt: 'Who is Tom?', response: ' A cat.' }) +
        '\n' +
        JSON.stringify({ prompt: 'Who is Ann?', response: ' A dog.' }) +
        '\n' +
        JSON.stringify({ prompt: 'Who is Bo?', response: ' A fox.' }) +
        '\n',
    });
    const file = path.join(dir, 'qa', 'qa.yaml');
    const text = [
      'plugins: [transformers, polars, jinja_formatter, transformers_trainer]',
      `model: {base_model: ${JSON.stringify(quickModel)}, init: from_config}`,
      'dataset: {path: data.jsonl, prompt_field: prompt, response_field: response}',
      'formatter: {template: "Q: {{ prompt }}\\nA:", mask_prompt: true, max_length: 64}',
      'training: {batch_size: 2, max_steps: 1}',
      '',
    ].join('\n');
    const preview = await h.services.calls.previewDataset(text, file);
    expect(preview.rows).toHaveLength(2);
    const row = preview.rows[0]!.tokens;
    const masked = row
      .filter((t) => t.masked)
      .map((t) => t.text)
      .join('');
    const trained = row
      .filter((t) => !t.masked)
      .map((t) => t.text)
      .join('');
    // The rows come in the loader's order (polars shuffles with the seed): any of the three.
    const m = /^Q: Who is (\w+)\?\nA:$/.exec(masked);
    expect(m).not.toBeNull();
    const animal = { Tom: 'cat', Ann: 'dog', Bo: 'fox' }[m![1] as 'Tom'];
    expect(trained.startsWith(` A ${animal}.`)).toBe(true);

    // Beside the formatted rows, the loaded ones (the same first rows, as text), and nothing cut at 64 tokens.
    expect(preview.rawRows).toHaveLength(2);
    expect(preview.rawRows[0]).toEqual({ prompt: `Who is ${m![1]}?`, response: ` A ${animal}.` });
    expect(preview).toMatchObject({ examples: 3, truncated: 0, dropped: 0 });
    // At 4 tokens every example is cut; with `truncation: drop` every one is left out instead.
    const short = await h.services.calls.previewDataset(text.replace('max_length: 64', 'max_length: 4'), file);
    expect(short).toMatchObject({ examples: 3, truncated: 3, dropped: 0 });
    expect(short.rows[0]!.tokens).toHaveLength(4);
    await expect(
      h.services.calls.previewDataset(text.replace('max_length: 64', 'max_length: 4, truncation: drop'), file),
    ).rejects.toThrow(/the training set is empty/);
  });

  it('generate: text from a run’s final/ folder; listModels lists it', async () => {
    await initBackend('cpu');
    const id = '2026-01-01-000000-tiny';
    const runFolder = path.join(h.cwd, 'runs', id);
    mkdirSync(runFolder, { recursive: true });
    const config = JSON.parse((await import('node:fs')).readFileSync(path.join(quickModel, 'config.json'), 'utf8'));
    const lm = createModel({ ...config, n_layer: 1 }, { seed: 1 });
    await savePretrained(lm, path.join(runFolder, 'final'), await loadTokenizer(quickModel));
    lm.dispose();
    writeFileSync(
      path.join(runFolder, 'run.json'),
      JSON.stringify({
        name: 'tiny',
        status: 'completed',
        configFile: 'x.yaml',
        runFolder,
        startedAt: '2026-01-01T00:00:00Z',
      }),
    );
    const text = await h.services.calls.generate(id, 'Once upon a time', { maxNewTokens: 5, temperature: 0 });
    expect(text.startsWith('Once upon a time')).toBe(true);
    expect(text.length).toBeGreaterThan('Once upon a time'.length);
    // A seed reproduces a sample; top-k 1 keeps only the most likely token, which is greedy decoding.
    const sampled = { maxNewTokens: 8, temperature: 1.5, seed: 11 };
    const first = await h.services.calls.generate(id, 'Once upon a time', sampled);
    expect(await h.services.calls.generate(id, 'Once upon a time', sampled)).toBe(first);
    const greedy = await h.services.calls.generate(id, 'Once upon a time', { maxNewTokens: 8, temperature: 0 });
    expect(await h.services.calls.generate(id, 'Once upon a time', { ...sampled, topK: 1 })).toBe(greedy);
    expect(await h.services.calls.generate(id, 'Once upon a time', { ...sampled, topP: 1e-6 })).toBe(greedy);

    const models = await h.services.calls.listModels();
    // A trained model: picking it makes the config fine-tune it (init: pretrained).
    expect(models).toContainEqual({
      label: `tiny (run ${id})`,
      path: path.join(runFolder, 'final'),
      source: 'local',
      weights: true,
    });
    expect(models.some((m) => m.path === quickModel && m.source === 'local')).toBe(true);

    mkdirSync(path.join(h.cwd, 'runs', 'no-final'));
    writeFileSync(path.join(h.cwd, 'runs', 'no-final', 'run.json'), JSON.stringify({ name: 'n', status: 'failed' }));
    await expect(h.services.calls.generate('no-final', 'x', { maxNewTokens: 1, temperature: 0 })).rejects.toThrow(
      /no trained model/,
    );
  });
});
