/**
 * The worker's `generate` task: text from a Hugging Face folder (a finished run's final/), the model kept
 * loaded between requests until its folder or weights change.
 *
 * Runs only in the forked worker. May import core and the engine (loaded on first use); imported by index.ts.
 */

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { DumboError } from '../../core/index.js';
import type { CausalLM, EngineTokenizer } from '../../engine/index.js';
import type { WorkerCalls } from '../protocol.js';

let cachedModel: { key: string; model: { lm: CausalLM }; tokenizer: EngineTokenizer } | undefined;

export async function generateText(p: WorkerCalls['generate']['params']): Promise<string> {
  const dir = path.resolve(p.modelDir);
  if (!existsSync(path.join(dir, 'config.json'))) {
    throw new DumboError(`not a model folder: no config.json in ${dir}`, { location: { file: dir } });
  }
  const engine = await import('../../engine/index.js');
  const report = engine.currentBackend() ?? (await engine.initBackend(p.backend ?? 'auto'));
  const label = engine.backendLabel(report);
  const weights = path.join(dir, 'model.safetensors');
  const key = `${dir}|${existsSync(weights) ? statSync(weights).mtimeMs : 0}`;
  if (cachedModel?.key !== key) {
    cachedModel?.model.lm.dispose();
    cachedModel = undefined;
    const model = await engine.loadPretrained(dir, 0, label);
    const tokenizer = await engine.loadTokenizer(dir);
    cachedModel = { key, model, tokenizer };
  }
  const { model, tokenizer } = cachedModel;
  // The one rule for a prompt (engine sampleText): an empty one starts from BOS, else EOS.
  const sample = await engine.sampleText(model.lm, tokenizer, p.prompt, {
    maxNewTokens: p.maxNewTokens,
    temperature: p.temperature,
    topK: p.topK,
    topP: p.topP,
    seed: p.seed,
  });
  return sample.text;
}
