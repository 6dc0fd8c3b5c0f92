// Example plugin from docs/plugins.md (TypeScript). The test suite loads this folder by path and runs it.
// It watches the loss: it logs a warning when a step's loss is above `max_loss`, and at the end of training
// it writes a one-line verdict to `report` (inside the run folder).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  getLogger,
  getRunContext,
  LoggingPlugin,
  Ok,
  type MetricEvent,
  type PluginConfig,
  type PluginHooks,
  type Result,
  type TrainingSummary,
} from 'dumbo';

export class LossAlarm extends LoggingPlugin {
  static configKey = 'loss_alarm';
  static provides = ['logging'];
  static description = 'Warns when the loss goes above a limit; writes a verdict at the end.';
  static version = '1.0.0';
  static configSchema = {
    type: 'object',
    properties: {
      max_loss: { type: 'number', exclusiveMinimum: 0, description: 'Warn above this loss.' },
      report: { type: 'string', default: 'loss_alarm.txt', description: 'Verdict file, in the run folder.' },
    },
    required: ['max_loss'],
    additionalProperties: false,
  };

  private maxLoss = Infinity;
  private report = 'loss_alarm.txt';
  private alarms = 0;
  private readonly log = getLogger('loss_alarm');

  initialize(config: PluginConfig): Result<void> {
    this.maxLoss = config.max_loss as number;
    this.report = config.report as string;
    return Ok(undefined);
  }

  logMetrics(metrics: MetricEvent[], step: number): Result<void> {
    for (const m of metrics) {
      if (m.name === 'loss' && m.value > this.maxLoss) {
        this.alarms += 1;
        this.log.warn(`step ${step}: loss ${m.value.toFixed(4)} is above ${this.maxLoss}`);
      }
    }
    return Ok(undefined);
  }

  hooks(): PluginHooks {
    return {
      ...super.hooks(), // log_init and log_metrics, from initialize and logMetrics
      log_training_end: (summary: TrainingSummary) => {
        const folder = getRunContext().runFolder ?? process.cwd();
        const verdict = `${this.alarms} of ${summary.steps} steps above ${this.maxLoss}\n`;
        writeFileSync(path.join(folder, this.report), verdict);
        return Ok(undefined);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [LossAlarm];
