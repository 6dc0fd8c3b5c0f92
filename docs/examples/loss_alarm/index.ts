// Example plugin from docs/plugins.md (TypeScript). The test suite loads this folder by path and runs it.
// It watches the loss: it logs a warning when a step's loss is above `max_loss`, and at the end of training
// it writes a one-line verdict to `report` (inside the run folder). Everything it needs of the run comes
// from the plugin context, every hook's last argument: its logger and the run folder.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  defineSchema,
  LoggingPlugin,
  Ok,
  type FromSchema,
  type MetricEvent,
  type PluginContext,
  type PluginHooks,
  type Result,
} from 'dumbo';

// Each field declared once: Ajv checks the section against it, and the code reads it through its type.
const schema = defineSchema({
  type: 'object',
  properties: {
    max_loss: { type: 'number', exclusiveMinimum: 0, description: 'Warn above this loss.' },
    report: { type: 'string', default: 'loss_alarm.txt', description: 'Verdict file, in the run folder.' },
  },
  required: ['max_loss'],
  additionalProperties: false,
});
type Options = FromSchema<typeof schema>; // { max_loss: number; report: string }

export class LossAlarm extends LoggingPlugin {
  static configKey = 'loss_alarm';
  static provides = ['logging'];
  static description = 'Warns when the loss goes above a limit; writes a verdict at the end.';
  static version = '1.0.0';
  static configSchema = schema;

  private options: Options = { max_loss: Infinity, report: 'loss_alarm.txt' };
  private alarms = 0;

  initialize(config: Options): Result<void> {
    this.options = config;
    return Ok(undefined);
  }

  logMetrics(metrics: MetricEvent[], step: number, ctx: PluginContext): Result<void> {
    for (const m of metrics) {
      if (m.name === 'loss' && m.value > this.options.max_loss) {
        this.alarms += 1;
        // The context's logger is named for the plugin: `[loss_alarm] warning: step 1: ...`
        ctx.logger.warn(`step ${step}: loss ${m.value.toFixed(4)} is above ${this.options.max_loss}`);
      }
    }
    return Ok(undefined);
  }

  hooks(): PluginHooks {
    return {
      ...super.hooks(), // log_init and log_metrics, from initialize and logMetrics
      log_training_end: (summary, ctx) => {
        const verdict = `${this.alarms} of ${summary.steps} steps above ${this.options.max_loss}\n`;
        writeFileSync(path.join(ctx.runFolder ?? ctx.configDir, this.options.report), verdict);
        return Ok(undefined);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [LossAlarm];
