/**
 * transformers: the model and the tokenizer, from a Hugging Face folder or a hub repo id (downloaded into
 * the standard Hugging Face cache when `allow_download` is set), or a fresh model from a config
 * (`init: from_config`, how the quickstart starts). Both classes read the `model:` section.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  Err,
  getLogger,
  ModelLoaderPlugin,
  Ok,
  TokenizerLoaderPlugin,
  type Model,
  type EstimateFacts,
  type PluginConfig,
  type PluginContext,
  type PluginHooks,
} from 'dumbo';
import {
  backendLabel,
  downloadModel,
  ensureBackend,
  isEngineModel,
  cachedSnapshot,
  isRepoId,
  loadPretrained,
  loadTokenizer,
  MODEL_COUNT_FIELDS,
  modelFromConfig,
  readConfig,
  type HFConfig,
} from 'dumbo/engine';

const schema = {
  type: 'object',
  properties: {
    base_model: {
      type: 'string',
      minLength: 1,
      description: 'A Hugging Face model folder (relative to the config file) or a hub repo id (org/name).',
    },
    init: {
      enum: ['pretrained', 'from_config'],
      default: 'pretrained',
      description: 'pretrained: load the weights; from_config: a fresh, randomly initialized model.',
    },
    config: {
      type: 'object',
      description: 'config.json fields: the whole config for from_config without base_model, else overrides.',
      // Sizes and counts are checked here, so `dumbo validate` says `model.config.n_layer` at its line.
      properties: Object.fromEntries(MODEL_COUNT_FIELDS.map((k) => [k, { type: ['integer', 'null'], minimum: 1 }])),
    },
    tokenizer: { type: 'string', minLength: 1, description: 'Tokenizer folder or repo id (default: base_model).' },
    revision: { type: 'string', default: 'main', description: 'Hub revision (branch, tag or commit).' },
    allow_download: {
      type: 'boolean',
      default: false,
      description: 'Download from the hub ($HF_ENDPOINT) into the Hugging Face cache ($HF_HOME) when missing.',
    },
    cache_dir: { type: 'string', description: 'Hugging Face hub cache (default $HF_HUB_CACHE or $HF_HOME/hub).' },
  },
  additionalProperties: false,
};

const log = getLogger('transformers');

/**
 * A local folder (relative to the config file) or, failing that, a hub repo id resolved through the cache:
 * downloaded when missing and allowed, or — `cacheOnly`, for the estimate, which never downloads — an error
 * saying it is not cached yet.
 */
async function resolveFolder(
  ref: string,
  config: PluginConfig,
  ctx: PluginContext,
  key = 'base_model',
  cacheOnly = false,
): Promise<string> {
  const local = path.resolve(ctx.configDir, ref);
  if (existsSync(local)) return local;
  if (!isRepoId(ref)) throw new Error(`model.${key}: no folder ${local}`);
  const hub = {
    revision: config.revision as string | undefined,
    cacheDir: config.cache_dir ? path.resolve(ctx.configDir, config.cache_dir as string) : undefined,
  };
  if (!cacheOnly)
    return downloadModel(ref, { ...hub, allowDownload: config.allow_download === true, log: (m) => log.info(m) });
  const snapshot = cachedSnapshot(ref, hub);
  if (snapshot) return snapshot;
  throw new Error(
    `model.${key}: ${ref} is not in the Hugging Face cache yet, so its size is unknown (it is downloaded when the run starts)`,
  );
}

/**
 * The config.json a section builds: `init: from_config` is base_model's config (if any) with `config:`'s
 * fields over it; `pretrained` is base_model's own. `undefined` when that leaves nothing.
 */
async function configToBuild(
  config: PluginConfig,
  ctx: PluginContext,
  cacheOnly = false,
): Promise<HFConfig | undefined> {
  const base = config.base_model as string | undefined;
  const baseConfig = base ? readConfig(await resolveFolder(base, config, ctx, 'base_model', cacheOnly)) : {};
  const merged = config.init === 'from_config' ? { ...baseConfig, ...((config.config ?? {}) as HFConfig) } : baseConfig;
  return Object.keys(merged).length > 0 ? merged : undefined;
}

export class TransformersModelLoader extends ModelLoaderPlugin {
  static configKey = 'model';
  static provides = ['model_loader'];
  static description =
    'Loads a GPT-2, GPT-Neo or Llama model from a Hugging Face folder or the hub, or makes a fresh one.';
  static version = '1.0.0';
  static configSchema = schema;

  hooks(): PluginHooks {
    return { ...super.hooks(), estimate: (facts, config, ctx) => this.estimate(facts, config, ctx) };
  }

  /**
   * The estimate's model: the config.json the run would build, read without loading weights or downloading
   * (a hub model must already be in the cache for its size to be known).
   */
  async estimate(facts: EstimateFacts, config: PluginConfig, ctx: PluginContext) {
    try {
      const modelConfig = await configToBuild(config, ctx, true);
      if (!modelConfig) return Err(new Error("model: no base_model or config: the model's size is unknown"));
      return Ok({ ...facts, modelConfig });
    } catch (error) {
      return Err(error as Error);
    }
  }

  async loadModel(config: PluginConfig, ctx: PluginContext) {
    const backend = backendLabel(await ensureBackend());
    const seed = ctx.seed;
    const overrides = (config.config ?? {}) as HFConfig;
    const base = config.base_model as string | undefined;
    try {
      if (config.init === 'from_config') {
        const merged = await configToBuild(config, ctx);
        if (!merged) {
          return Err(new Error('model: init: from_config needs base_model (a folder with config.json) or config'));
        }
        log.info(`new ${merged.architectures?.[0] ?? merged.model_type} from config (seed ${seed})`);
        return Ok(modelFromConfig(merged, seed, backend));
      }
      if (!base) return Err(new Error('model.base_model is required to load a pretrained model'));
      const dir = await resolveFolder(base, config, ctx);
      if (Object.keys(overrides).length > 0) log.warn('model.config is ignored for init: pretrained');
      const model = await loadPretrained(dir, seed, backend);
      log.info(`loaded ${model.architecture} from ${dir}`);
      return Ok(model);
    } catch (error) {
      // A bad value the config's overrides gave (model.config.n_layer: 0) is named where it was written.
      const m = /^config\.json: (\w+) ([\s\S]*)$/.exec((error as Error).message);
      if (m && config.init === 'from_config' && Object.hasOwn(overrides, m[1]!)) {
        return Err(new Error(`model.config.${m[1]}: ${m[2]}`, { cause: error }));
      }
      return Err(error as Error);
    }
  }
}

export class TransformersTokenizerLoader extends TokenizerLoaderPlugin {
  static configKey = 'model';
  static provides = ['tokenizer_loader'];
  static description = 'Loads the tokenizer (tokenizer.json) of a Hugging Face folder or hub repo.';
  static version = '1.0.0';
  static configSchema = schema;

  async loadTokenizer(config: PluginConfig, model: Model | undefined, ctx: PluginContext) {
    const key = config.tokenizer !== undefined ? 'tokenizer' : 'base_model';
    const ref = (config.tokenizer ?? config.base_model) as string | undefined;
    try {
      const dir = ref ? await resolveFolder(ref, config, ctx, key) : isEngineModel(model) ? model.sourceDir : undefined;
      if (!dir) return Err(new Error('model.tokenizer (or model.base_model) must name a folder with tokenizer.json'));
      let tok;
      try {
        tok = await loadTokenizer(dir);
      } catch (error) {
        // Said at the field that named the folder; the message keeps the file (and line) that is wrong.
        throw ref ? new Error(`model.${key}: ${(error as Error).message}`, { cause: error }) : error;
      }
      const vocab = isEngineModel(model) ? model.lm.vocabSize : undefined;
      if (vocab !== undefined && tok.vocabSize > vocab) {
        return Err(
          new Error(`the tokenizer in ${dir} has ${tok.vocabSize} tokens but the model's vocab_size is ${vocab}`),
        );
      }
      return Ok(tok);
    } catch (error) {
      return Err(error as Error);
    }
  }
}

export const AVAILABLE_PLUGINS = [TransformersModelLoader, TransformersTokenizerLoader];
