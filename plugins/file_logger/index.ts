/**
 * file_logger: the seed's complete example, ported. Writes one line per metric (with its timestamp),
 * the hyperparameters and the model info to a plain-text log. `log_path` is relative to the run folder
 * (to the working directory when there is none). It registers its collector itself and also returns it
 * from `metrics_collector` (registering twice is a no-op), as the seed does.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  Err,
  LoggingPlugin,
  MetricsCollector,
  Ok,
  type MetricEvent,
  type ModelInfo,
  type PluginConfig,
  type PluginContext,
  type PluginHooks,
  type Result,
} from 'dumbo';

function stamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}

export class FileMetricsCollector extends MetricsCollector {
  private fd: number | undefined;
  constructor(readonly logPath: string) {
    super();
    mkdirSync(path.dirname(logPath), { recursive: true });
    this.fd = openSync(logPath, 'a');
  }

  private line(text: string): void {
    if (this.fd !== undefined) writeSync(this.fd, text + '\n');
  }

  logMetric(event: MetricEvent): void {
    const tags = Object.keys(event.tags).length ? ' ' + JSON.stringify(event.tags) : '';
    this.line(`${stamp(event.timestamp)} step=${event.step} ${event.name}=${formatValue(event.value)}${tags}`);
  }

  logHyperparameters(params: Record<string, unknown>): void {
    this.line(`${stamp(Date.now() / 1000)} hyperparameters ${JSON.stringify(params)}`);
  }

  logModelInfo(info: ModelInfo): void {
    this.line(`${stamp(Date.now() / 1000)} model_info ${JSON.stringify(info)}`);
  }

  finalize(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class FileLoggingPlugin extends LoggingPlugin {
  static configKey = 'file_logger';
  static provides = ['logging', 'metrics_collector'];
  static requires: string[] = [];
  static conflicts: string[] = [];
  static description = 'Writes every metric, the hyperparameters and the model info to a text log.';
  static version = '1.0.0';
  static configSchema = {
    type: 'object',
    properties: {
      log_path: {
        type: 'string',
        minLength: 1,
        default: 'training.log',
        description: 'Log file; relative paths are inside the run folder.',
      },
    },
    additionalProperties: false,
  };

  private collector: FileMetricsCollector | undefined;

  initialize(config: PluginConfig, ctx: PluginContext): Result<void> {
    const logPath = String(config.log_path ?? 'training.log');
    const base = ctx.runFolder ?? process.cwd();
    const file = path.resolve(base, logPath);
    try {
      this.collector = new FileMetricsCollector(file);
    } catch (error) {
      return Err(new Error(`cannot open log file ${file}: ${(error as Error).message}`));
    }
    ctx.metrics.register(this.collector);
    ctx.logger.debug(`logging metrics to ${file}`);
    return Ok(undefined);
  }

  getMetricsCollector(): Result<MetricsCollector> {
    return this.collector ? Ok(this.collector) : Err(new Error('file_logger was not initialized'));
  }

  finish(): Result<void> {
    this.collector?.finalize();
    return Ok(undefined);
  }

  hooks(): PluginHooks {
    return {
      log_init: (c, ctx) => this.initialize(c, ctx),
      metrics_collector: () => this.getMetricsCollector(),
      finish: () => this.finish(),
    };
  }
}

export const AVAILABLE_PLUGINS = [FileLoggingPlugin];
