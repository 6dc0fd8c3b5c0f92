/**
 * tensorboard: writes the run's metrics, hyperparameters and text samples to a TensorBoard event file
 * (`events.out.tfevents.<time>.<host>` in `log_dir`, by default the run folder's `tensorboard/`), in plain
 * TypeScript: no TensorFlow, no native code. Scalars are `simple_value` summaries tagged with the metric's
 * name; hyperparameters are the HParams plugin's session start (at `log_hyperparameters`), experiment and
 * session end (at finish); samples are text summaries. Records are kept in memory and appended, whole, every
 * `flush_secs` and at finish. See README.md.
 */
import path from 'node:path';
import {
  defineSchema,
  Err,
  LoggingPlugin,
  MetricsCollector,
  Ok,
  type FromSchema,
  type Logger,
  type MetricEvent,
  type PluginConfig,
  type PluginContext,
  type PluginHooks,
  type Result,
  shellArg,
  type TrainingSummary,
} from 'dumbo';
import {
  experimentEvent,
  hparamValue,
  scalarEvent,
  SESSION_STATUS,
  sessionEndEvent,
  sessionStartEvent,
  textEvent,
  type HParamValue,
} from './events.js';
import { SamplesTail } from './samples.js';
import { EventFileWriter } from './writer.js';

const schema = defineSchema({
  type: 'object',
  properties: {
    log_dir: {
      type: 'string',
      minLength: 1,
      default: 'tensorboard',
      description: 'Folder of the event file; relative paths are inside the run folder. Point TensorBoard at it.',
    },
    flush_secs: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 5,
      description: 'Seconds between writes of the buffered records (and at finish): what a crash may lose.',
    },
  },
  additionalProperties: false,
});

type Options = FromSchema<typeof schema>;

/** The tag of the text summaries that hold the run's samples. */
export const SAMPLES_TAG = 'samples';

export class TensorBoardCollector extends MetricsCollector {
  private readonly timer: NodeJS.Timeout;
  private lastFlush = Date.now();
  private hparams: Record<string, HParamValue> | undefined;
  private hparamsTime = 0;
  private readonly tags = new Set<string>();
  private status: number = SESSION_STATUS.unknown;
  private closed = false;

  constructor(
    readonly writer: EventFileWriter,
    private readonly flushSecs: number,
    private readonly samples: SamplesTail | undefined,
    private readonly logger: Logger,
  ) {
    super();
    // unref: the timer never keeps a finished process alive. Node runs a longer delay than 2^31-1 ms at once.
    const every = Math.min(flushSecs * 1000, 2 ** 31 - 1);
    this.timer = setInterval(() => this.flushReporting(), every).unref();
  }

  logMetric(event: MetricEvent): void {
    this.logMetrics([event]);
  }

  logMetrics(events: readonly MetricEvent[]): void {
    if (this.closed) return;
    for (const e of events) {
      this.writer.add(scalarEvent(e.name, e.value, e.step, e.timestamp));
      this.tags.add(e.name);
    }
    // A busy training loop may starve the timer; the step's own metrics flush on time instead.
    if (Date.now() - this.lastFlush >= this.flushSecs * 1000) this.flushReporting();
  }

  logHyperparameters(params: Record<string, unknown>): void {
    if (this.closed) return;
    const hparams: Record<string, HParamValue> = {};
    for (const [key, value] of Object.entries(params)) {
      const v = hparamValue(value);
      if (v !== undefined) hparams[key] = v;
    }
    this.hparams = hparams;
    this.hparamsTime = Date.now() / 1000;
    this.writer.add(sessionStartEvent(hparams, this.hparamsTime));
  }

  /** The training ended (completed or stopped on request): the HParams session ends in success. */
  trainingEnded(summary: TrainingSummary): void {
    this.status = SESSION_STATUS.success;
    if (typeof summary.sample === 'string') this.addText(`${SAMPLES_TAG}/final`, summary.sample, summary.steps);
  }

  /** Writes what is pending, with the samples added since the last flush. */
  flush(): void {
    if (this.closed) return;
    // A failed write is tried again at the next interval, not at every step.
    this.lastFlush = Date.now();
    for (const s of this.samples?.read() ?? []) this.addText(SAMPLES_TAG, s.text, s.step);
    this.writer.flush();
  }

  /** The experiment (hyperparameters and every metric seen) and the session's end, then the last write. */
  finalize(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    try {
      this.flush();
      if (this.hparams) {
        const now = Date.now() / 1000;
        this.writer.add(experimentEvent(this.hparams, [...this.tags], this.hparamsTime, now));
        this.writer.add(sessionEndEvent(this.status, now));
      }
    } finally {
      this.closed = true;
      this.writer.close();
    }
  }

  private addText(tag: string, text: string, step: number): void {
    this.writer.add(textEvent(tag, text, step, Date.now() / 1000));
  }

  private flushReporting(): void {
    try {
      this.flush();
    } catch (error) {
      this.logger.warn(`cannot write to ${this.writer.file}: ${(error as Error).message}`);
    }
  }
}

export class TensorBoardPlugin extends LoggingPlugin {
  static configKey = 'tensorboard';
  static provides = ['logging', 'metrics_collector'];
  static description = 'Writes metrics, hyperparameters and samples to a TensorBoard event file.';
  static version = '1.0.0';
  static configSchema = schema;

  private collector: TensorBoardCollector | undefined;

  initialize(config: PluginConfig, ctx: PluginContext): Result<void> {
    const options = { log_dir: 'tensorboard', flush_secs: 5, ...config } as Options;
    const base = ctx.runFolder ?? process.cwd();
    const dir = path.resolve(base, options.log_dir);
    let writer: EventFileWriter;
    try {
      writer = new EventFileWriter(dir);
    } catch (error) {
      return Err(new Error(`tensorboard.log_dir: cannot write an event file in ${dir}: ${(error as Error).message}`));
    }
    const samples = ctx.runFolder ? new SamplesTail(path.join(ctx.runFolder, 'samples.jsonl')) : undefined;
    this.collector = new TensorBoardCollector(writer, options.flush_secs, samples, ctx.logger);
    ctx.logger.debug(`TensorBoard events in ${writer.file}`);
    ctx.addLink({ label: 'TensorBoard', path: dir, hint: `tensorboard --logdir ${shellArg(dir)}` });
    return Ok(undefined);
  }

  getMetricsCollector(): Result<MetricsCollector> {
    return this.collector ? Ok(this.collector) : Err(new Error('tensorboard was not initialized'));
  }

  finish(): Result<void> {
    try {
      this.collector?.finalize();
    } catch (error) {
      return Err(new Error(`cannot finish ${this.collector?.writer.file}: ${(error as Error).message}`));
    }
    return Ok(undefined);
  }

  hooks(): PluginHooks {
    return {
      ...super.hooks(),
      log_training_end: (summary) => {
        this.collector?.trainingEnded(summary);
        return Ok(undefined);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [TensorBoardPlugin];
