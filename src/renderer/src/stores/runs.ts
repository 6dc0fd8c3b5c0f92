/**
 * The run of the workbench: what Run would cost (estimate, first batch), starting it (the editor's text,
 * saved or not: Run writes no file), stopping and resuming it, and following it live — status, metrics, log tail, hook trace, model
 * info, the plugins' links (TensorBoard, W&B), progress and time left.
 *
 * Live data comes in bursts of events. Metrics, log lines and trace rows are queued and applied once per
 * animation frame: one reactive update however many events came. The metric arrays are plain (see
 * lib/series.ts); `revision` says when they changed.
 */

import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type {
  AppEvent,
  DumboApi,
  MetricPoint,
  ModelInfoView,
  RunLink,
  RunStatus,
  RunSummary,
  TraceRow,
} from '../../../shared/api.js';
import { useClient } from '../client.js';
import { addSample, secondsLeft, type ProgressSample } from '../lib/eta.js';
import { messageOf } from '../lib/format.js';
import { frameScheduler } from '../lib/frame.js';
import { useRequest } from '../lib/request.js';
import { runFailure } from '../lib/run-failure.js';
import { appendPoints, mergeHistory, type SeriesMap } from '../lib/series.js';
import { useConfigStore } from './config.js';

export const ACTIVE_STATUSES: readonly RunStatus[] = ['pending', 'running', 'stopping'];
/** A stopped or crashed run continues from its last checkpoint. */
export const canResumeRun = (run: RunSummary | undefined) => run?.status === 'stopped' || run?.status === 'crashed';
const LOG_LINES = 500;
const TRACE_ROWS = 2000;

type RunEvent = Exclude<AppEvent, { type: 'plugins-changed' }>;
const runIdOf = (e: RunEvent) => (e.type === 'run-status' ? e.run.id : e.runId);

export const useRunsStore = defineStore('runs', () => {
  const run = ref<RunSummary>();
  const series = shallowRef<SeriesMap>(new Map());
  const revision = ref(0);
  const log = shallowRef<string[]>([]);
  const trace = shallowRef<TraceRow[]>([]);
  const model = shallowRef<ModelInfoView>();
  const links = shallowRef<RunLink[]>([]);
  const progress = ref<{ step: number; totalSteps?: number }>();
  const etaSeconds = ref<number>();
  const starting = ref(false);
  const error = ref<string>();
  // Before Run, on the user's request: both read the editor's text, saved or not.
  const editorConfig = (): [text: string, path: string] => {
    const config = useConfigStore();
    return [config.text, config.filePath];
  };
  const estimateRequest = useRequest(() => useClient().estimateRun(...editorConfig()));
  const previewRequest = useRequest(() => useClient().previewDataset(...editorConfig()));

  const status = computed<RunStatus | undefined>(() => run.value?.status);
  const active = computed(() => status.value !== undefined && ACTIVE_STATUSES.includes(status.value));
  const canResume = computed(() => canResumeRun(run.value));
  /** Why the run failed or crashed (its exit reason, the log's error lines); undefined otherwise. */
  const failure = computed(() => runFailure(run.value, log.value));

  const queued = { metrics: [] as MetricPoint[], log: [] as string[], trace: [] as TraceRow[] };
  let samples: ProgressSample[] = [];
  /** Events that arrive while startRun has not answered yet (the new run's id is still unknown). */
  let heldWhileStarting: RunEvent[] | undefined;

  /** Applies the queued live data: one reactive update per frame. */
  function flush(): void {
    if (queued.metrics.length > 0) {
      appendPoints(series.value, queued.metrics.splice(0));
      revision.value++;
    }
    if (queued.log.length > 0) log.value = [...log.value, ...queued.log.splice(0)].slice(-LOG_LINES);
    if (queued.trace.length > 0) trace.value = [...trace.value, ...queued.trace.splice(0)].slice(-TRACE_ROWS);
  }
  const frame = frameScheduler(flush);

  function reset(summary: RunSummary): void {
    frame.cancel();
    queued.metrics = [];
    queued.log = [];
    queued.trace = [];
    samples = [];
    run.value = summary;
    series.value = new Map();
    revision.value++;
    log.value = [];
    trace.value = [];
    model.value = undefined;
    links.value = [];
    progress.value = undefined;
    etaSeconds.value = undefined;
  }

  /** Fills in what the run's folder recorded (on adopting a run, and once it has ended). */
  async function loadRecorded(runId: string): Promise<void> {
    try {
      const detail = await useClient().getRun(runId);
      if (run.value?.id !== runId) return;
      flush();
      // The record may have been read just before the run's end was written: an end already seen stays.
      const ended = !active.value && ACTIVE_STATUSES.includes(detail.summary.status);
      if (!ended) run.value = detail.summary;
      series.value = mergeHistory(series.value, detail.metrics);
      revision.value++;
      log.value = detail.log.slice(-LOG_LINES);
      trace.value = detail.trace.slice(-TRACE_ROWS);
      if (detail.modelInfo) model.value = detail.modelInfo;
      if (detail.links) links.value = detail.links;
      if (detail.progress) progress.value = detail.progress;
    } catch (e) {
      error.value = `Cannot read run ${runId}: ${messageOf(e)}`;
    }
  }

  /** Shows a run that is already going (started elsewhere, or before this page was opened). */
  async function follow(summary: RunSummary): Promise<void> {
    reset(summary);
    await loadRecorded(summary.id);
  }

  /** Starts a run with `begin` (a call that answers with the run) and shows it. */
  async function launch(begin: (client: DumboApi) => Promise<RunSummary>): Promise<void> {
    starting.value = true;
    heldWhileStarting = [];
    try {
      const summary = await begin(useClient());
      if (summary.id === run.value?.id) run.value = summary;
      else reset(summary);
      error.value = undefined;
      const held = heldWhileStarting;
      heldWhileStarting = undefined;
      for (const event of held) receive(event);
    } catch (e) {
      error.value = messageOf(e);
    } finally {
      heldWhileStarting = undefined;
      starting.value = false;
    }
  }

  /**
   * Run: the editor's text, checked first, goes to the run (whose folder keeps it as config.yaml); no file
   * is written — only Save writes the config's file. With its file (or the example it was copied from) for
   * its name and relative paths; an untitled config runs in the working folder.
   */
  async function start(): Promise<void> {
    const config = useConfigStore();
    const text = config.text;
    const file = config.path || config.copiedFrom || undefined;
    const valid = await config.validNow();
    if (!valid || config.runBlocker || config.text !== text) {
      error.value = config.runBlocker ?? 'The config changed while it was checked: run it again.';
      return;
    }
    await launch((client) => client.runConfig(text, file));
  }

  /** Continues the shown run, stopped or crashed, from its last checkpoint. */
  async function resume(): Promise<void> {
    const r = run.value;
    if (!r || !canResume.value) return;
    await resumeRun(r.id);
  }

  /**
   * Continues a stopped or crashed run (History's Resume: any run, also one of the CLI) and shows it, with
   * what its folder recorded before (a page that did not show it has none of its earlier points).
   */
  async function resumeRun(runId: string): Promise<void> {
    await launch((client) => client.resumeRun(runId));
    if (run.value?.id === runId && !error.value) await loadRecorded(runId);
  }

  /** Runs a config's text as a new run (History's Re-run: a past run's config) and shows it. */
  async function runText(text: string, file?: string): Promise<void> {
    await launch((client) => client.runConfig(text, file));
  }

  async function stop(): Promise<void> {
    const r = run.value;
    if (!r) return;
    try {
      await useClient().stopRun(r.id);
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot stop the run: ${messageOf(e)}`;
    }
  }

  function receive(event: AppEvent): void {
    if (event.type === 'plugins-changed') return;
    if (heldWhileStarting) {
      heldWhileStarting.push(event);
      return;
    }
    const current = run.value;
    if (event.type === 'run-status') {
      if (event.run.id === current?.id) {
        const wasActive = active.value;
        run.value = event.run;
        if (wasActive && !active.value) {
          etaSeconds.value = undefined;
          void loadRecorded(event.run.id);
        }
      } else if (!active.value && ACTIVE_STATUSES.includes(event.run.status)) {
        void follow(event.run);
      }
      return;
    }
    if (runIdOf(event) !== current?.id) return;
    switch (event.type) {
      case 'run-metrics':
        queued.metrics.push(...event.points);
        break;
      case 'run-log':
        queued.log.push(...event.lines);
        break;
      case 'run-trace':
        queued.trace.push(...event.rows);
        break;
      case 'run-model':
        model.value = event.info;
        return;
      case 'run-links':
        links.value = event.links;
        return;
      case 'run-progress':
        progress.value = { step: event.step, totalSteps: event.totalSteps };
        samples = addSample(samples, { at: Date.now(), step: event.step });
        etaSeconds.value = secondsLeft(samples, event.totalSteps);
        return;
    }
    frame.request();
  }

  function dismissError(): void {
    error.value = undefined;
  }

  return {
    run,
    series,
    revision,
    log,
    trace,
    model,
    links,
    progress,
    etaSeconds,
    starting,
    error,
    estimate: estimateRequest.answer,
    estimating: estimateRequest.busy,
    estimateError: estimateRequest.error,
    datasetPreview: previewRequest.answer,
    previewing: previewRequest.busy,
    previewError: previewRequest.error,
    status,
    active,
    canResume,
    failure,
    start,
    resume,
    resumeRun,
    runText,
    stop,
    follow,
    receive,
    flush,
    estimateCost: estimateRequest.send,
    previewData: previewRequest.send,
    dismissError,
  };
});
