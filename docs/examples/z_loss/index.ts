// Example plugin from docs/plugins.md (TypeScript): a `compute_loss` override. The test suite loads it by
// path and trains with it. It adds PaLM's z-loss to the causal LM loss: `coefficient * mean(logsumexp(logits)²)`
// over the predicted positions, which keeps the softmax normalizer near 1 (Chowdhery et al. 2022, section 5).
// The hook runs once, before the first step: it gets the trainer's loss function and returns the one to use.
import { Err, BasePlugin, defineSchema, Ok, type FromSchema, type PluginHooks } from 'dumbo';
import { causalLMLoss, tf, type EngineLossFunction } from 'dumbo/engine';

const schema = defineSchema({
  type: 'object',
  properties: { coefficient: { type: 'number', minimum: 0, default: 1e-4, description: 'Weight of the z-loss.' } },
  additionalProperties: false,
});

export class ZLoss extends BasePlugin {
  static configKey = 'z_loss';
  static requires = ['trainer'];
  static description = "Adds PaLM's z-loss to the training loss.";
  static configSchema = schema;

  private coefficient = 1e-4;

  hooks(): PluginHooks {
    return {
      log_init: (config) => {
        this.coefficient = (config as FromSchema<typeof schema>).coefficient;
        return Ok(undefined);
      },
      compute_loss: (_defaultLoss, ctx) => {
        if (!(this.coefficient >= 0)) return Err(new Error('z_loss.coefficient: must be a number >= 0'));
        const c = this.coefficient;
        ctx.logger.info(`training with z-loss, coefficient ${c}`);
        const loss: EngineLossFunction = (lm, batch, options) => {
          const logits = lm.forward(batch.inputIds, options); // [B, T, V]
          const { loss: ce, count } = causalLMLoss(logits, batch.labels);
          // log Z of each position that predicts a token (labels shifted by one, -100 ignored)
          const [B, T, V] = logits.shape;
          const lse = tf.logSumExp(tf.slice(logits, [0, 0, 0], [B, T - 1, V]), -1); // [B, T-1]
          const mask = tf.cast(tf.notEqual(tf.slice(batch.labels, [0, 1], [B, T - 1]), -100), 'float32');
          const z = tf.div(tf.sum(tf.mul(tf.square(lse), mask)), tf.maximum(count, 1));
          return { loss: tf.add(ce, tf.mul(z, c)) as tf.Scalar, weight: batch.predictedTokens };
        };
        return Ok(loss);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [ZLoss];
