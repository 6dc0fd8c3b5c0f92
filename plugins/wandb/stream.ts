/**
 * One run streamed to W&B, in the background: `start()` begins a loop that creates the run (UpsertBucket, again
 * whenever the config changes), then sends the history lines and the summary that came since its last push
 * through `file_stream`, paced as wandb's SDK paces it (every 2 s in the first minute, 10 s up to five minutes,
 * then 30 s) and with a heartbeat when there is nothing to send. Nothing here is awaited by the training step:
 * `addLines`, `setSummary` and `setConfig` only store. A history line counts as sent once the server said OK
 * to it, so a retried push repeats the same offset and the server keeps each line once. `finish()` sends what
 * is left, uploads the run's files, says `{complete: true, exitcode}`, and waits a bounded time for all that.
 * A call that fails for good stops the stream (`onFailure`, once); what was not sent is reported by `finish`.
 * Imported by run.ts and sync.ts.
 */
import { sleep, type Bucket, type WandbApi } from './api.js';

export interface StreamTimings {
  /** The wait between pushes, given the seconds since the run started. */
  paceMs: (runtimeSeconds: number) => number;
  /** After this long without a push, an empty one tells the server the run is alive (wandb: 30 s). */
  heartbeatMs: number;
}

/** wandb's file_stream pacing (`rate_limit_seconds`): 2 s under a minute, 10 s under five, then 30 s. */
export const DEFAULT_TIMINGS: StreamTimings = {
  paceMs: (s) => (s < 60 ? 2000 : s < 300 ? 10_000 : 30_000),
  heartbeatMs: 30_000,
};

/** wandb's limits for one push: 10,000 lines, and under 10 MiB (its MAX_LINE_BYTES). */
const MAX_LINES = 10_000;
const MAX_BYTES = (10 << 20) - (100 << 10);

export interface StreamTarget {
  runId: string;
  project?: string;
  entity?: string;
  displayName?: string;
  tags?: string[];
  host?: string;
  /** Seconds since the epoch. */
  startTime: number;
}

export interface RunFile {
  name: string;
  data: Uint8Array;
}

/** What `finish` got to the server, and what it did not. */
export interface StreamReport {
  /** Everything arrived: every line, the summary, the files and the completion. */
  complete: boolean;
  linesSent: number;
  linesLeft: number;
  filesLeft: string[];
  /** Why the stream stopped (a call that failed for good, or the finish timeout). */
  error?: string;
}

export class OnlineStream {
  /** The history lines not sent yet (those sent are dropped: a long run must not keep them all). */
  private readonly lines: string[] = [];
  /** How many lines were sent: the offset of `lines[0]` in wandb-history.jsonl. */
  private sent = 0;
  private summary: string | undefined;
  private summarySent: string | undefined;
  private config: Record<string, unknown> = {};
  private configVersion = 0;
  private configSent = -1;
  private bucket: Bucket | undefined;
  private filesLeft: string[] = [];
  private completed = false;
  private ending: { exitCode: number; files: RunFile[] } | undefined;
  private wake: () => void = () => {};
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  failure: Error | undefined;

  constructor(
    private readonly api: WandbApi,
    private readonly target: StreamTarget,
    private readonly timings: StreamTimings,
    private readonly events: { onRun?: (bucket: Bucket) => void; onFailure?: (error: Error) => void } = {},
  ) {}

  /** The run as the server knows it, once created. */
  get run(): Bucket | undefined {
    return this.bucket;
  }

  start(): void {
    this.loop ??= this.work().catch((error: unknown) => this.fail(error));
  }

  addLines(lines: readonly string[]): void {
    this.lines.push(...lines);
  }

  /** The whole summary as one JSON object: sent at the next push if it changed. */
  setSummary(json: string): void {
    this.summary = json;
  }

  setConfig(config: Record<string, unknown>): void {
    this.config = config;
    this.configVersion++;
  }

  /**
   * Sends what is left, the files and the completion; resolves when all went, when the stream failed, or after
   * `timeoutMs` (then the calls still going are stopped).
   */
  async finish(exitCode: number, files: RunFile[], timeoutMs: number): Promise<StreamReport> {
    this.ending = { exitCode, files };
    this.filesLeft = files.map((f) => f.name);
    this.wake();
    this.start();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.loop!.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.failure ??= new Error(`not done after ${Math.round(timeoutMs / 1000)} s`);
      this.abort.abort(this.failure);
      await this.loop;
    }
    return {
      complete: this.completed,
      linesSent: this.sent,
      linesLeft: this.lines.length,
      filesLeft: this.filesLeft,
      ...(this.failure ? { error: this.failure.message } : {}),
    };
  }

  private fail(error: unknown): void {
    if (this.failure && this.abort.signal.aborted) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.events.onFailure?.(this.failure);
  }

  private async work(): Promise<void> {
    const signal = this.abort.signal;
    await this.upsert(signal);
    let lastPush = Date.now();
    while (!this.ending) {
      const runtime = Date.now() / 1000 - this.target.startTime;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void sleep(this.timings.paceMs(runtime), signal, false).then(resolve, resolve);
      });
      if (this.ending || signal.aborted) break;
      if (this.configSent !== this.configVersion) await this.upsert(signal);
      if (this.lines.length > 0 || this.summary !== this.summarySent) {
        await this.push(signal);
        lastPush = Date.now();
      } else if (Date.now() - lastPush >= this.timings.heartbeatMs) {
        await this.api.fileStream(this.bucketName(), { complete: false, failed: false, dropped: 0 }, signal);
        lastPush = Date.now();
      }
    }
    if (signal.aborted) return;
    if (this.configSent !== this.configVersion) await this.upsert(signal);
    await this.push(signal);
    await this.upload(this.ending!.files, signal);
    await this.api.fileStream(this.bucketName(), { complete: true, exitcode: this.ending!.exitCode }, signal);
    this.completed = true;
  }

  private bucketName(): { entity: string; project: string; name: string } {
    return { entity: this.bucket!.entity, project: this.bucket!.project, name: this.target.runId };
  }

  private async upsert(signal: AbortSignal): Promise<void> {
    const version = this.configVersion;
    const t = this.target;
    // The backend's config format: every key's value under `value`, with an empty description.
    const config = Object.fromEntries(Object.entries(this.config).map(([k, value]) => [k, { desc: null, value }]));
    const first = !this.bucket;
    this.bucket = await this.api.upsertBucket(
      {
        name: t.runId,
        id: this.bucket?.id,
        project: this.bucket?.project ?? t.project,
        entity: this.bucket?.entity ?? t.entity,
        displayName: t.displayName,
        tags: t.tags,
        host: t.host,
        config: JSON.stringify(config),
      },
      signal,
    );
    this.configSent = version;
    if (first) this.events.onRun?.(this.bucket);
  }

  /** Every line not yet sent and the summary if it changed, in pushes within wandb's limits. */
  private async push(signal: AbortSignal): Promise<void> {
    while (this.lines.length > 0 || this.summary !== this.summarySent) {
      const content: string[] = [];
      let bytes = 0;
      for (let i = 0; i < this.lines.length && content.length < MAX_LINES; i++) {
        bytes += Buffer.byteLength(this.lines[i]!) + 3;
        if (bytes > MAX_BYTES && content.length > 0) break;
        content.push(this.lines[i]!);
      }
      const summary = this.summary;
      const files: Record<string, { offset: number; content: string[] }> = {};
      if (content.length > 0) files['wandb-history.jsonl'] = { offset: this.sent, content };
      if (summary !== undefined && summary !== this.summarySent) {
        files['wandb-summary.json'] = { offset: 0, content: [summary] };
      }
      await this.api.fileStream(this.bucketName(), { files, dropped: 0 }, signal);
      this.lines.splice(0, content.length);
      this.sent += content.length;
      this.summarySent = summary;
    }
  }

  private async upload(files: RunFile[], signal: AbortSignal): Promise<void> {
    if (files.length === 0) return;
    const names = files.map((f) => f.name);
    const { headers, urls } = await this.api.createRunFiles(this.bucketName(), names, signal);
    for (const file of files) {
      const url = urls.get(file.name);
      if (!url) throw new Error(`CreateRunFiles gave no upload address for ${file.name}`);
      await this.api.upload(url, headers, file.data, signal);
      this.filesLeft = this.filesLeft.filter((n) => n !== file.name);
    }
  }
}
