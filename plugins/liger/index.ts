/**
 * liger: fused kernels, as Liger-Kernel gives them to PyTorch — fused linear cross-entropy (the LM head and
 * the loss without the [tokens, vocab] logits), fused LayerNorm/RMSNorm, GELU/SwiGLU/GeGLU, RoPE — plus what
 * Liger leaves to others: flash-style attention and a multi-tensor AdamW. Each fused op is a forward and a
 * backward side by side, with a plain-loop kernel on the cpu backend and a WGSL program on webgpu (the engine's
 * src/engine/fused/); on any other backend it runs the plain composition.
 *
 * How: the `kernels` hook registers the chosen ops in the engine's kernel table before the model is built
 * (the models call every op through it), and `compute_loss` replaces the trainer's loss with one that takes
 * the model's final hidden states and the LM head weight to the fused linear cross-entropy. Without this
 * plugin the model runs its plain ops. Options mirror Liger-Kernel's (all on by default).
 */
import { defineSchema, Err, ModelPatcherPlugin, Ok } from 'dumbo';
import type { FromSchema, KernelRegistry, Model, PluginConfig, PluginContext, PluginHooks } from 'dumbo';
import {
  isCausalLMLoss,
  isEngineModel,
  ligerLossFunction,
  registerFused,
  type EngineLossFunction,
  type FusedOpName,
} from 'dumbo/engine';

const option = (description: string) => ({ type: 'boolean', default: true, description }) as const;

const schema = defineSchema({
  type: 'object',
  properties: {
    fused_linear_cross_entropy: option('LM head + loss in chunks: the [tokens, vocab] logits never exist.'),
    rms_norm: option("Llama's RMSNorm, forward and backward in one kernel each."),
    layer_norm: option("GPT-2's and GPT-Neo's LayerNorm, forward and backward in one kernel each."),
    swiglu: option("Llama's SwiGLU gate in one kernel."),
    geglu: option('The GeGLU gate (and GPT-2/Neo tanh GELU) in one kernel.'),
    rope: option('Rotary embeddings applied to q and k in one kernel.'),
    attention: option('Causal (and local-window) attention without the [T, T] score matrix.'),
    optimizer: option('AdamW and the gradient norm over all parameters in one or a few launches each.'),
  },
  additionalProperties: false,
});

export type LigerOptions = FromSchema<typeof schema>;

/** Every option on: the section's defaults. */
export const EVERY_FUSION: LigerOptions = {
  fused_linear_cross_entropy: true,
  rms_norm: true,
  layer_norm: true,
  swiglu: true,
  geglu: true,
  rope: true,
  attention: true,
  optimizer: true,
};

/** Which kernel-table ops each option replaces with its fused version (src/engine/fused/). */
const OPS: Record<keyof LigerOptions, FusedOpName[]> = {
  fused_linear_cross_entropy: ['linear_cross_entropy'],
  rms_norm: ['rms_norm'],
  layer_norm: ['layer_norm'],
  swiglu: ['swiglu'],
  // Liger's GeGLU kernel carries the tanh GELU; GPT-2 and GPT-Neo use that GELU alone.
  geglu: ['geglu', 'gelu_new'],
  rope: ['rope'],
  attention: ['attention'],
  // The optimizer's pass over the gradients: the update, and the norm that clipping and the guard read first.
  optimizer: ['adamw', 'grad_norm'],
};

export class Liger extends ModelPatcherPlugin {
  static configKey = 'liger';
  static description =
    'Fused kernels (Liger-Kernel): linear cross-entropy, norms, activations, RoPE, attention, AdamW.';
  static version = '1.0.0';
  static configSchema = schema;

  private options: LigerOptions = { ...EVERY_FUSION };

  hooks(): PluginHooks {
    return {
      ...super.hooks(),
      log_init: (config) => {
        this.options = config as LigerOptions;
        return Ok(undefined);
      },
      kernels: (registry, ctx) => Ok(this.register(registry, ctx)),
      compute_loss: (loss, ctx) => {
        if (!this.options.fused_linear_cross_entropy) return Ok(loss);
        // Only the causal LM loss is fused: a loss another plugin set (DPO's) stays, whatever the plugin order.
        if (!isCausalLMLoss(loss)) {
          ctx.logger.info('loss: another plugin set the loss; the fused LM head + cross-entropy is not used');
          return Ok(loss);
        }
        ctx.logger.info('loss: fused linear cross-entropy (no [tokens, vocab] logits)');
        return Ok(ligerLossFunction as EngineLossFunction as typeof loss);
      },
    };
  }

  /** Registers the fused op of every option that is on. */
  register(registry: KernelRegistry, ctx: PluginContext): KernelRegistry {
    const names = (Object.keys(OPS) as (keyof LigerOptions)[]).filter((k) => this.options[k]).flatMap((k) => OPS[k]);
    registerFused(registry, names, ctx.plugin);
    ctx.logger.info(`fused kernels: ${names.length > 0 ? names.join(', ') : 'none (every option is off)'}`);
    return registry;
  }

  patchModel(model: Model, _config: PluginConfig, ctx: PluginContext) {
    if (!isEngineModel(model)) {
      return Err(new Error("liger needs a model of the engine (the transformers plugin): it fuses the engine's ops"));
    }
    ctx.logger.debug(`${model.architecture}: fused ops apply at the next forward`);
    return Ok(model);
  }
}

export const AVAILABLE_PLUGINS = [Liger];
