/**
 * console_logger: what a person at a terminal sees during training. A progress bar with steps, loss, rate
 * and ETA, redrawn in place on stderr, plus one line each for the model, the dataset and the end of
 * training. Quiet when stderr is not a terminal (logs and metrics.jsonl have everything then).
 */
import { LoggingPlugin, Ok, type DatasetInfo, type ModelInfo, type StepInfo, type TrainingSummary } from 'dumbo';

export interface Writable {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Renders one progress line; pure, so it is tested without a terminal. */
export function renderProgress(
  step: number,
  total: number | undefined,
  elapsedS: number,
  loss: number | undefined,
  width = 80,
): string {
  const rate = elapsedS > 0 ? step / elapsedS : 0;
  const lossText = loss === undefined ? '' : ` loss ${loss.toFixed(4)}`;
  const rateText = `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)} it/s`;
  if (!total) return `step ${step}${lossText} ${rateText} ${formatDuration(elapsedS)}`;
  const eta = rate > 0 ? (total - step) / rate : Infinity;
  const tail = ` ${step}/${total}${lossText} ${rateText} ETA ${formatDuration(eta)}`;
  const barWidth = Math.max(10, Math.min(40, width - tail.length - 8));
  const filled = Math.round((barWidth * Math.min(step, total)) / total);
  const pct = `${String(Math.floor((100 * Math.min(step, total)) / total)).padStart(3)}%`;
  return `${pct} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
}

export class ConsoleLoggerPlugin extends LoggingPlugin {
  static configKey = 'console_logger';
  static provides = ['logging', 'progress'];
  static description = 'Progress bar with loss, rate and ETA on the terminal; quiet when not a terminal.';
  static version = '1.0.0';
  static configSchema = {
    type: 'object',
    properties: {
      refresh_ms: { type: 'integer', minimum: 0, default: 100, description: 'Least time between redraws.' },
    },
    additionalProperties: false,
  };

  /** Where it draws; tests replace it. */
  stream: Writable = process.stderr;
  private startedAt = 0;
  private lastDraw = 0;
  private refreshMs = 100;
  private drawn = false;

  private get live(): boolean {
    return this.stream.isTTY === true;
  }

  private say(line: string): void {
    if (!this.live) return;
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
    this.stream.write(line + '\n');
  }

  hooks() {
    return {
      log_init: (config: Record<string, unknown>) => {
        this.refreshMs = typeof config.refresh_ms === 'number' ? config.refresh_ms : 100;
        return Ok(undefined);
      },
      log_model: (info: ModelInfo) => {
        const params = info.parametersTotal === undefined ? '' : `, ${formatCount(info.parametersTotal)} parameters`;
        const trainable =
          info.parametersTrainable !== undefined && info.parametersTrainable !== info.parametersTotal
            ? ` (${formatCount(info.parametersTrainable)} trainable)`
            : '';
        this.say(`model: ${info.architecture}${params}${trainable}${info.backend ? ` on ${info.backend}` : ''}`);
        return Ok(undefined);
      },
      log_dataset: (info: DatasetInfo) => {
        this.say(`dataset: ${info.rows} rows${info.evalRows ? `, ${info.evalRows} for evaluation` : ''}`);
        return Ok(undefined);
      },
      log_training_start: () => {
        this.startedAt = performance.now();
        return Ok(undefined);
      },
      log_step: (step: StepInfo) => {
        if (!this.live) return Ok(undefined);
        const now = performance.now();
        const last = step.totalSteps !== undefined && step.step >= step.totalSteps;
        if (!last && now - this.lastDraw < this.refreshMs) return Ok(undefined);
        this.lastDraw = now;
        const line = renderProgress(
          step.step,
          step.totalSteps,
          (now - this.startedAt) / 1000,
          step.loss,
          this.stream.columns ?? 80,
        );
        this.stream.write('\r\x1b[2K' + line);
        this.drawn = true;
        return Ok(undefined);
      },
      log_training_end: (summary: TrainingSummary) => {
        const elapsed = (performance.now() - this.startedAt) / 1000;
        const loss = summary.finalLoss === undefined ? '' : `, final loss ${summary.finalLoss.toFixed(4)}`;
        this.say(
          `${summary.stopped ? 'stopped' : 'finished'} after ${summary.steps} steps in ${formatDuration(elapsed)}${loss}`,
        );
        return Ok(undefined);
      },
      finish: () => {
        if (this.drawn && this.live) this.stream.write('\n');
        this.drawn = false;
        return Ok(undefined);
      },
    };
  }
}

export const AVAILABLE_PLUGINS = [ConsoleLoggerPlugin];
