/**
 * early_stopping: stops training once the eval loss has not improved for `patience` evaluations (by more than
 * `min_delta`), as Hugging Face's `EarlyStoppingCallback`. A trainer callback: it answers `on_evaluate` with
 * `should_stop`, reading the evaluation history the trainer keeps (and checkpoints), so a resumed run stops
 * where the uninterrupted one would. It needs evaluations: set `training.eval_every`.
 */
import { BasePlugin, defineSchema, Ok, type FromSchema, type PluginHooks } from 'dumbo';
import { earlyStopping } from 'dumbo/engine';

const schema = defineSchema({
  type: 'object',
  properties: {
    patience: {
      type: 'integer',
      minimum: 1,
      default: 3,
      description: 'Evaluations in a row without improvement before training stops.',
    },
    min_delta: {
      type: 'number',
      minimum: 0,
      default: 0,
      description: 'How much lower than the best eval loss counts as an improvement.',
    },
  },
  additionalProperties: false,
});

export class EarlyStopping extends BasePlugin {
  static configKey = 'early_stopping';
  static provides = ['early_stopping'];
  static requires = ['trainer'];
  static description = 'Stops training when the eval loss stops improving (needs training.eval_every).';
  static version = '1.0.0';
  static configSchema = schema;

  private options: FromSchema<typeof schema> = { patience: 3, min_delta: 0 };

  hooks(): PluginHooks {
    return {
      log_init: (config) => {
        this.options = config as FromSchema<typeof schema>;
        return Ok(undefined);
      },
      on_evaluate: (_report, state, ctx) => {
        const { patience, min_delta } = this.options;
        const control = earlyStopping(patience, min_delta)(state);
        if (control.should_stop) {
          ctx.logger.info(
            `early stopping: eval loss has not improved on ${state.bestEvalLoss} for ${patience} evaluations`,
          );
        }
        return Ok(control);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [EarlyStopping];
