/**
 * lora: low-rank adapters as Hugging Face PEFT makes them (LoRA, rsLoRA), on GPT-2, GPT-Neo and Llama. The
 * `model_patcher` attaches an adapter to each targeted projection (or loads one saved by PEFT or by Dumbo:
 * `adapter: PATH`), `trainable_parameters` trains only the adapters (and `modules_to_save`), so the optimizer
 * holds state for them alone. `final/` and every checkpoint get PEFT's `adapter_config.json` and
 * `adapter_model.safetensors`; `final/`'s model is the base one, or the merged one with `merge_on_save`.
 * The engine's src/engine/lora.ts does the work; this file maps the config section onto it.
 */
import path from 'node:path';
import { defineSchema, Err, ModelPatcherPlugin, Ok } from 'dumbo';
import type { FromSchema, Model, PluginConfig, PluginContext, PluginHooks } from 'dumbo';
import { attachLora, isEngineModel, LORA_DEFAULTS, loadLoraAdapter, loraTrainable } from 'dumbo/engine';

const schema = defineSchema({
  type: 'object',
  properties: {
    // No schema defaults for the adapter's settings: with `adapter:` they come from its adapter_config.json,
    // so one left out must stay out (LORA_DEFAULTS fills them in for a new adapter).
    r: { type: 'integer', minimum: 1, description: `Rank of the adapters (default ${LORA_DEFAULTS.r}).` },
    lora_alpha: {
      type: 'number',
      exclusiveMinimum: 0,
      description: `Scaling numerator: the update is scaled by lora_alpha / r (/ √r with use_rslora; default ${LORA_DEFAULTS.lora_alpha}).`,
    },
    lora_dropout: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      description: "Dropout on the adapters' input while training (default 0; with adapter: the adapter's).",
    },
    target_modules: {
      oneOf: [{ type: 'array', items: { type: 'string' }, minItems: 1 }, { type: 'string' }],
      description:
        "Module names to adapt (a name matches itself and '.name' endings) or one regex (full match). " +
        'Default as PEFT: GPT-2 c_attn; Llama and GPT-Neo q_proj, v_proj.',
    },
    use_rslora: { type: 'boolean', description: 'Rank-stabilized LoRA: scale by lora_alpha / √r (default false).' },
    bias: { type: 'string', enum: ['none'], description: 'Biases stay frozen (PEFT: none, the only choice).' },
    modules_to_save: {
      type: 'array',
      items: { type: 'string' },
      description: 'Modules trained whole and saved in the adapter besides the LoRA weights (e.g. lm_head).',
    },
    init_lora_weights: {
      oneOf: [{ type: 'boolean' }, { type: 'string', enum: ['gaussian'] }],
      description:
        'true (default): A Kaiming-uniform, B zeros (the model starts unchanged); gaussian: A normal(0, 1/r).',
    },
    adapter: {
      type: 'string',
      description: 'A PEFT adapter folder to start from (saved by Dumbo or by Python PEFT): its settings are used.',
    },
    merge_on_save: {
      type: 'boolean',
      default: false,
      description: "final/'s model is the base plus the adapters merged in (the adapter files are written too).",
    },
  },
  additionalProperties: false,
});

export type LoraOptions = FromSchema<typeof schema>;

export class Lora extends ModelPatcherPlugin {
  static configKey = 'lora';
  static description = 'LoRA adapters as PEFT makes them: trains only the adapters, saves PEFT files, merges.';
  static version = '1.0.0';
  static configSchema = schema;

  private options = {} as Partial<LoraOptions>;

  hooks(): PluginHooks {
    return {
      ...super.hooks(),
      log_init: (config) => {
        this.options = (config ?? {}) as LoraOptions;
        return Ok(undefined);
      },
      trainable_parameters: (params, model) => {
        const lm = isEngineModel(model) ? model.lm : undefined;
        if (!lm?.lora) return Err(new Error('lora: the model has no adapters (was the lora model_patcher skipped?)'));
        const trainable = loraTrainable(lm.lora);
        // What an earlier plugin chose stays chosen only where it is an adapter or a module to save.
        return Ok(new Map([...params].filter(([name]) => trainable.has(name))));
      },
    };
  }

  async patchModel(model: Model, _config: PluginConfig, ctx: PluginContext) {
    if (!isEngineModel(model)) {
      return Err(
        new Error("lora needs a model of the engine (the transformers plugin): it adapts the engine's layers"),
      );
    }
    const o = this.options;
    const lm = model.lm;
    if (o.adapter) {
      // The adapter's own adapter_config.json sets its shape: a setting beside it would be ignored, so it is refused.
      const shape = [
        'r',
        'lora_alpha',
        'target_modules',
        'use_rslora',
        'modules_to_save',
        'init_lora_weights',
      ] as const;
      const given = shape.find((k) => o[k] !== undefined);
      if (given) {
        return Err(
          new Error(
            `lora.${given}: not used with lora.adapter (the adapter's adapter_config.json sets it): remove one of them`,
          ),
        );
      }
    }
    try {
      const lora = o.adapter
        ? await loadLoraAdapter(lm, path.resolve(ctx.configDir, o.adapter), { lora_dropout: o.lora_dropout })
        : attachLora(lm, {
            r: o.r,
            lora_alpha: o.lora_alpha,
            lora_dropout: o.lora_dropout,
            target_modules: o.target_modules,
            use_rslora: o.use_rslora,
            bias: o.bias as 'none' | undefined,
            modules_to_save: o.modules_to_save,
            init_lora_weights: o.init_lora_weights as boolean | 'gaussian' | undefined,
            seed: ctx.seed,
            baseModel: model.sourceDir ?? '',
          });
      lora.mergeOnSave = o.merge_on_save === true;
      const count = (vs: Iterable<{ size: number }>) => [...vs].reduce((n, v) => n + v.size, 0);
      const trained = count(loraTrainable(lora).values());
      const total = count(lm.params.values());
      ctx.logger.info(
        `LoRA r=${lora.settings.r}, alpha ${lora.settings.lora_alpha} on ${lora.modules.size} modules` +
          `${o.adapter ? ` (from ${o.adapter})` : ''}: ${trained.toLocaleString('en-US')} of ` +
          `${total.toLocaleString('en-US')} parameters trained (${((100 * trained) / total).toFixed(2)}%)`,
      );
      return Ok(model);
    } catch (error) {
      return Err(error as Error);
    }
  }
}

export const AVAILABLE_PLUGINS = [Lora];
