// Example plugin from docs/plugins.md (TypeScript): a trainer callback. The test suite loads it by path and
// runs it with the built-in trainer. Like Hugging Face's TrainerCallback, it answers `on_step_end` with a
// control: it asks for a checkpoint the first time the training loss falls below `target`, and stops the run
// once the loss has stayed below it for `steps_below` steps in a row.
import { BasePlugin, defineSchema, Ok, type FromSchema, type PluginHooks, type TrainerControl } from 'dumbo';

const schema = defineSchema({
  type: 'object',
  properties: {
    target: { type: 'number', exclusiveMinimum: 0, description: 'The training loss to reach.' },
    steps_below: { type: 'integer', minimum: 1, default: 3, description: 'Steps in a row below target, then stop.' },
  },
  required: ['target'],
  additionalProperties: false,
});

export class LossTarget extends BasePlugin {
  static configKey = 'loss_target';
  static requires = ['trainer'];
  static description = 'Saves when the loss first reaches a target; stops once it stays there.';
  static configSchema = schema;

  private options: FromSchema<typeof schema> = { target: 0, steps_below: 3 };
  private below = 0;
  private saved = false;

  hooks(): PluginHooks {
    return {
      log_init: (config) => {
        this.options = config as FromSchema<typeof schema>;
        return Ok(undefined);
      },
      on_step_end: (state, ctx) => {
        const control: TrainerControl = {};
        this.below = state.loss !== undefined && state.loss < this.options.target ? this.below + 1 : 0;
        if (this.below === 1 && !this.saved) {
          this.saved = true;
          control.should_save = true;
          ctx.logger.info(`step ${state.step}: loss ${state.loss?.toFixed(4)} reached ${this.options.target}`);
        }
        if (this.below >= this.options.steps_below) control.should_stop = true;
        return Ok(control);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [LossTarget];
