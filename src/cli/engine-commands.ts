/**
 * The CLI commands that use the engine directly, outside a run: `dumbo generate`, `dumbo score`, `dumbo merge`
 * and `dumbo doctor`. They load a Hugging Face folder (a run's final/, a checkpoint or any compatible model),
 * with a PEFT LoRA adapter on it where `--adapter` names one.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DumboError, userPluginDir } from '../core/index.js';
import {
  backendLabel,
  causalLMLoss,
  formatBackendReport,
  hubCacheDir,
  initBackend,
  listCachedModels,
  detachLora,
  loadLoraAdapter,
  loadPretrained,
  loadWeights,
  mergedWeights,
  loadTokenizer,
  MERGED_ADAPTER_KEY,
  readTensor,
  sampleText,
  savePretrained,
  type BackendChoice,
  type CausalLM,
} from '../engine/index.js';

/** --backend and --allow-software of generate, score and doctor. */
export interface BackendArgs {
  backend: BackendChoice;
  allowSoftware?: boolean;
}

function startBackend(a: BackendArgs) {
  return initBackend(a.backend, { webgpu: { allowSoftware: a.allowSoftware === true } });
}

/** DumboError `DIR: message` for a folder that cannot be loaded (bad input: exit 2), on one line. */
function folderError(dir: string, error: unknown): DumboError {
  const abs = path.resolve(dir);
  let message = (error instanceof Error ? error.message : String(error))
    .replace(/:\n\s*/g, ': ')
    .replace(/\n\s*/g, '; ');
  if (message.startsWith(`${abs}: `)) message = message.slice(abs.length + 2);
  return new DumboError(message, { location: { file: dir }, cause: error });
}

async function loadFolder(dir: string, a: BackendArgs & { adapter?: string }) {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, 'config.json'))) {
    throw new DumboError(
      `not a model folder: no config.json (give a run's final/ folder or a Hugging Face model folder)`,
      {
        location: { file: dir },
      },
    );
  }
  const report = await startBackend(a);
  try {
    const model = await loadPretrained(abs, 0, backendLabel(report));
    const tokenizer = await loadTokenizer(abs);
    const merged = model.config[MERGED_ADAPTER_KEY] === true;
    if (a.adapter !== undefined && merged && path.resolve(a.adapter) === abs) {
      model.lm.dispose();
      throw new DumboError('its model has this adapter merged in already (merge_on_save): leave --adapter out', {
        location: { file: dir },
      });
    }
    if (a.adapter === undefined && !merged && existsSync(path.join(abs, 'adapter_config.json'))) {
      process.stderr.write(
        `${dir}: the model here is the base of a LoRA adapter (adapter_config.json): add --adapter ${dir} to apply it\n`,
      );
    }
    if (a.adapter !== undefined) {
      try {
        await loadLoraAdapter(model.lm, path.resolve(a.adapter));
      } catch (error) {
        model.lm.dispose();
        throw folderError(a.adapter, error);
      }
    }
    return { model, tokenizer };
  } catch (error) {
    if (error instanceof DumboError) throw error;
    throw folderError(dir, error);
  }
}

export interface GenerateArgs extends BackendArgs {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model. */
  adapter?: string;
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
}

export async function generateCommand(a: GenerateArgs): Promise<number> {
  const { model, tokenizer } = await loadFolder(a.model, a);
  // An empty prompt starts from the BOS (else EOS) token, as a run's samples and the app's Generate do.
  const { text } = await sampleText(model.lm, tokenizer, a.prompt, {
    maxNewTokens: a.maxNewTokens,
    temperature: a.temperature,
    topK: a.topK,
    topP: a.topP,
    seed: a.seed,
  });
  process.stdout.write(text + '\n');
  return 0;
}

/**
 * Mean cross-entropy (nats per predicted token) of `ids` under the model. A text longer than the context is
 * scored in windows of the context length that overlap by one token, so every token after the first is
 * predicted exactly once, each with as much context as its window gives.
 */
export async function scoreIds(lm: CausalLM, ids: number[]): Promise<{ loss: number; tokens: number }> {
  const W = lm.maxPositions;
  if (W < 2) throw new DumboError(`the model's context is ${W} token(s): at least 2 are needed to score a text`);
  // Each window's (loss sum, count), read all at once at the end.
  const parts: tf.Tensor1D[] = [];
  for (let start = 0; start < ids.length - 1; start += W - 1) {
    const window = ids.slice(start, start + W);
    parts.push(
      tf.tidy(() => {
        const input = tf.tensor2d([window], [1, window.length], 'int32');
        const { loss, count } = causalLMLoss(lm.forward(input), input);
        return tf.stack([tf.mul(loss, count), tf.cast(count, 'float32')]) as tf.Tensor1D;
      }),
    );
  }
  if (parts.length === 0) return { loss: NaN, tokens: 0 };
  const all = tf.concat(parts);
  tf.dispose(parts);
  const values = await readTensor(all);
  all.dispose();
  let sum = 0;
  let tokens = 0;
  for (let i = 0; i < values.length; i += 2) {
    sum += values[i]!;
    tokens += values[i + 1]!;
  }
  return { loss: tokens > 0 ? sum / tokens : NaN, tokens };
}

export async function scoreCommand(
  a: BackendArgs & { model: string; adapter?: string; text: string; json: boolean },
): Promise<number> {
  if (!existsSync(a.text)) throw new DumboError('cannot read the text: no such file', { location: { file: a.text } });
  const { model, tokenizer } = await loadFolder(a.model, a);
  const ids = tokenizer.encode(readFileSync(a.text, 'utf8'));
  if (ids.length < 2)
    throw new DumboError('the text has fewer than 2 tokens: nothing to predict', { location: { file: a.text } });
  const { loss, tokens } = await scoreIds(model.lm, ids);
  const perplexity = Math.exp(loss);
  process.stderr.write(
    `${a.text}: ${tokens} predicted tokens, loss ${loss.toFixed(6)} nats/token, perplexity ${perplexity.toFixed(4)}\n`,
  );
  if (a.json) process.stdout.write(JSON.stringify({ loss, tokens, perplexity }) + '\n');
  return 0;
}

/**
 * `dumbo merge`: the base model with the adapter's deltas added (W + scaling·B·A), written as a plain Hugging
 * Face folder (config.json, model.safetensors, the base's tokenizer files) that needs no adapter to load.
 */
export async function mergeCommand(a: BackendArgs & { model: string; adapter: string; output: string }) {
  const out = path.resolve(a.output);
  // Written by replacing the folder: an existing one (the base, the adapter, a run) would be lost.
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new DumboError('--output must be a new or empty folder: it is replaced by the merged model', {
      location: { file: a.output },
    });
  }
  const { model, tokenizer } = await loadFolder(a.model, a);
  const lora = model.lm.lora!;
  // The merged weights into the model without its adapters: a plain model, saved as any other.
  const merged = await mergedWeights(model.lm);
  detachLora(model.lm);
  loadWeights(model.lm, merged);
  await savePretrained(model.lm, out, tokenizer);
  process.stderr.write(
    `merged ${lora.modules.size} LoRA modules (r=${lora.settings.r}) of ${a.adapter} into ${a.model}: wrote ${a.output}\n`,
  );
  model.lm.dispose();
  return 0;
}

export async function doctorCommand(json: boolean, a: BackendArgs = { backend: 'auto' }): Promise<number> {
  const report = await startBackend(a);
  const lines = formatBackendReport(report);
  lines.push(`node ${process.version} on ${process.platform}-${process.arch}`);
  lines.push(`user plugin folder: ${userPluginDir()}`);
  const cached = listCachedModels();
  lines.push(`Hugging Face cache: ${hubCacheDir()} (${cached.length} model${cached.length === 1 ? '' : 's'})`);
  let electron = 'not installed (the desktop window needs it; `dumbo serve` does not)';
  try {
    createRequire(import.meta.url).resolve('electron');
    electron = 'installed';
  } catch {
    // reported as not installed
  }
  lines.push(`electron: ${electron}`);
  process.stderr.write(lines.join('\n') + '\n');
  if (json) process.stdout.write(JSON.stringify({ backend: report, cachedModels: cached }) + '\n');
  return 0;
}
