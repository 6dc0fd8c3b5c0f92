/**
 * wandb: logs a run to Weights & Biases, in plain TypeScript over W&B's public HTTP API (no `@wandb/sdk`: see
 * README.md). Every mode but `disabled` writes a W&B run folder (`wandb/offline-run-...` or `wandb/run-...`)
 * with the `.wandb` log `wandb sync` uploads; online, the run is also streamed in the background (history,
 * summary, config, files), and a network that fails for good leaves the run offline, losing nothing. The
 * API key comes from `WANDB_API_KEY` or the netrc file, never from the config. Also `WandbPlugin.sync`, which
 * `dumbo wandb-sync` reaches through the plugin loader. See README.md.
 */
import os from 'node:os';
import path from 'node:path';
import { defineSchema, Err, LoggingPlugin, MetricsCollector, Ok } from 'dumbo';
import type { FromSchema, MetricEvent, PluginConfig, PluginContext, PluginHooks, Result } from 'dumbo';
import { WandbApi, type RetryPolicy } from './api.js';
import { WandbRun } from './run.js';
import { appUrl, baseUrl, findApiKey, newRunId, resolveMode, whereKeysGo, type Env } from './settings.js';
import { DEFAULT_TIMINGS, OnlineStream, type StreamTimings } from './stream.js';
import { syncRuns } from './sync.js';

/** The message for an API key in the config: where keys go instead. */
export const KEY_IN_CONFIG =
  'API keys are never read from the config (configs get shared and committed): set WANDB_API_KEY, or put ' +
  "the key in ~/.netrc (or the file NETRC names) as the password of the W&B server's machine " +
  '(machine api.wandb.ai password KEY)';

const refused = { not: {}, errorMessage: KEY_IN_CONFIG, description: 'Refused: the key is not read from here.' };

const schema = defineSchema({
  type: 'object',
  properties: {
    project: {
      type: 'string',
      minLength: 1,
      description: 'The W&B project (default: WANDB_PROJECT, else uncategorized).',
    },
    entity: {
      type: 'string',
      minLength: 1,
      description: "The team or user (default: WANDB_ENTITY, else the key's own).",
    },
    name: {
      type: 'string',
      minLength: 1,
      description: "The run's display name (default: WANDB_NAME, else the run folder's name).",
    },
    tags: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Tags (default: WANDB_TAGS, a comma list).',
    },
    mode: {
      type: 'string',
      enum: ['online', 'offline', 'disabled'],
      description:
        'online (stream, and keep the folder), offline (the folder only) or disabled (default: WANDB_MODE, else online).',
    },
    api_key: refused,
    apiKey: refused,
    key: refused,
  },
  additionalProperties: false,
});

type Options = FromSchema<typeof schema>;

/** What tests (or an embedding app) may set that the YAML does not: timings, the environment. */
export interface WandbPluginOptions {
  env?: Env;
  timings?: StreamTimings;
  retry?: RetryPolicy;
  /** Seconds between writes of the run folder's buffered records (default 5). */
  flushSecs?: number;
  /** How long the end of the run waits for the upload to finish (default 60 s). */
  finishTimeoutMs?: number;
}

export class WandbCollector extends MetricsCollector {
  private exitCode = 1;

  /** `run` is absent in mode `disabled`: then everything is dropped. */
  constructor(readonly run: WandbRun | undefined) {
    super();
  }

  logMetric(event: MetricEvent): void {
    this.run?.addMetrics([event]);
  }

  logMetrics(events: readonly MetricEvent[]): void {
    this.run?.addMetrics(events);
  }

  logHyperparameters(params: Record<string, unknown>): void {
    this.run?.setConfig(params);
  }

  /** Training ended (completed or stopped on request): the W&B run ends with exit code 0, not as failed. */
  trainingEnded(): void {
    this.exitCode = 0;
  }

  async finalize(): Promise<void> {
    await this.run?.finish(this.exitCode);
  }
}

export class WandbPlugin extends LoggingPlugin {
  static configKey = 'wandb';
  static provides = ['logging', 'metrics_collector'];
  static description =
    'Logs metrics, config and files to Weights & Biases: online, or to a folder `wandb sync` uploads.';
  static version = '1.0.0';
  static configSchema = schema;

  /** Uploads the W&B run folders under a folder (`dumbo wandb-sync RUN`); true when all of them went. */
  static sync = syncRuns;

  private collector: WandbCollector | undefined;

  constructor(private readonly options: WandbPluginOptions = {}) {
    super();
  }

  initialize(config: PluginConfig, ctx: PluginContext): Result<void> {
    const options = config as Options;
    const env = this.options.env ?? process.env;
    let mode;
    try {
      mode = resolveMode(options.mode, env);
    } catch (error) {
      return Err(error as Error);
    }
    if (mode === 'disabled') {
      this.collector = new WandbCollector(undefined);
      ctx.logger.debug('W&B disabled: nothing is written or sent');
      return Ok(undefined);
    }
    const base = baseUrl(env);
    const key = mode === 'online' ? findApiKey(base, env) : undefined;
    const target = {
      runId: newRunId(),
      project: options.project ?? env.WANDB_PROJECT ?? 'uncategorized',
      entity: options.entity ?? env.WANDB_ENTITY,
      displayName: options.name ?? env.WANDB_NAME ?? (ctx.runFolder ? path.basename(ctx.runFolder) : undefined),
      tags:
        options.tags ??
        env.WANDB_TAGS?.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      host: os.hostname(),
      startTime: Date.now() / 1000,
    };
    let run: WandbRun | undefined;
    const stream = key
      ? new OnlineStream(
          new WandbApi({
            baseUrl: base,
            apiKey: key.key,
            retry: this.options.retry,
            onRetry: (what, why, ms) => ctx.logger.debug(`W&B ${what}: ${why}; retrying in ${Math.round(ms)} ms`),
          }),
          target,
          this.options.timings ?? DEFAULT_TIMINGS,
          { onRun: (bucket) => run?.runCreated(bucket), onFailure: (error) => run?.streamFailed(error) },
        )
      : undefined;
    const root = env.WANDB_DIR ?? ctx.runFolder ?? process.cwd();
    try {
      run = new WandbRun({
        root,
        target,
        stream,
        appUrl: appUrl(base, env),
        outputLog: ctx.runFolder ? path.join(ctx.runFolder, 'log.txt') : undefined,
        flushSecs: this.options.flushSecs ?? 5,
        finishTimeoutMs: this.options.finishTimeoutMs ?? 60_000,
        logger: ctx.logger,
        addLink: (link) => ctx.addLink(link),
      });
    } catch (error) {
      return Err(new Error(`wandb: cannot write a W&B run folder in ${root}: ${(error as Error).message}`));
    }
    if (mode === 'online' && !key) {
      ctx.logger.warn(
        `W&B: no API key for ${new URL(base).host} (${whereKeysGo(base)}); the run is written offline to ` +
          `${run.folder.dir}`,
      );
    }
    this.collector = new WandbCollector(run);
    return Ok(undefined);
  }

  getMetricsCollector(): Result<MetricsCollector> {
    return this.collector ? Ok(this.collector) : Err(new Error('wandb was not initialized'));
  }

  async finish(): Promise<Result<void>> {
    try {
      await this.collector?.finalize();
    } catch (error) {
      const dir = this.collector?.run?.folder.dir;
      return Err(new Error(`cannot finish the W&B run ${dir ?? ''}: ${(error as Error).message}`));
    }
    return Ok(undefined);
  }

  hooks(): PluginHooks {
    return {
      ...super.hooks(),
      log_training_end: () => {
        this.collector?.trainingEnded();
        return Ok(undefined);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [WandbPlugin];
