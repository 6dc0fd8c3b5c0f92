/**
 * Run history, where runs are managed: every past run with its columns (status, duration, steps, losses,
 * tokens/s, backend); one opened in full (charts, resolved config and hyperparameters, model, log); Resume,
 * Clone to editor, Re-run and Delete (asked first); any number of runs compared on one chart (any metric,
 * smoothed, by step or time, labelled by how their configs differ) and two runs' configs side by side; text
 * generated from a finished run's model.
 */

import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { AppEvent, GenerateOptions, RunDetail, RunSummary } from '../../../shared/api.js';
import { useClient } from '../client.js';
import { configRows, differenceLabel, differingKeys, flattenConfig, type FlatConfig } from '../lib/config-diff.js';
import { formatTime, messageOf } from '../lib/format.js';
import { rerunnableConfig } from '../lib/run-config.js';
import { useRequest } from '../lib/request.js';
import { seriesOf, type SeriesMap } from '../lib/series.js';
import { smoothXY, toXY, type XAxis, type XY } from '../lib/smoothing.js';
import { useConfigStore } from './config.js';
import { ACTIVE_STATUSES, useRunsStore } from './runs.js';

/** Runs whose final model can generate text. */
export const canGenerate = (run: RunSummary | undefined) => run?.status === 'completed';
/** Runs whose folder may be deleted: not live. */
export const canDelete = (run: RunSummary | undefined) => !!run && !ACTIVE_STATUSES.includes(run.status);

/** The metrics Compare can overlay. */
export const COMPARE_METRICS = [
  { metric: 'loss', label: 'Loss' },
  { metric: 'eval/loss', label: 'Eval loss' },
  { metric: 'lr', label: 'Learning rate' },
  { metric: 'grad_norm', label: 'Gradient norm' },
  { metric: 'tokens_per_s', label: 'Tokens per second' },
] as const;

/** One compared run's curve: its legend (name, start, how its config differs), raw and smoothed points. */
export interface CompareLine {
  runId: string;
  label: string;
  difference: string;
  raw: XY[];
  smoothed: XY[];
}

export const useRunHistoryStore = defineStore('runHistory', () => {
  const runs = ref<RunSummary[]>([]);
  const loading = ref(false);
  const error = ref<string>();
  /** What the last action did, for the user to read (`Cloned … into the editor`). */
  const notice = ref<string>();
  const selected = shallowRef<RunDetail>();
  /** The run whose Delete waits for the user's yes. */
  const pendingDelete = ref<string>();
  /** The runs compared, in the order they were ticked. */
  const compareIds = ref<string[]>([]);
  const compareMetric = ref<string>('eval/loss');
  /** TensorBoard's smoothing weight, 0 (none) to 0.99. */
  const smoothing = ref(0.6);
  const xAxis = ref<XAxis>('step');
  const details = shallowRef(new Map<string, RunDetail>());
  const generation = useRequest((runId: string, prompt: string, options: GenerateOptions) =>
    useClient().generate(runId, prompt, options),
  );

  const selectedSeries = computed<SeriesMap>(() => seriesOf(selected.value?.metrics ?? []));
  const selectedConfig = computed<FlatConfig>(() => flattenConfig(selected.value?.config));

  const compared = computed(() =>
    compareIds.value.flatMap((id) => {
      const detail = details.value.get(id);
      return detail ? [{ detail, config: flattenConfig(detail.config) }] : [];
    }),
  );
  /** The config keys whose values differ between the compared runs. */
  const differences = computed(() => differingKeys(compared.value.map((c) => c.config)));
  const compareLines = computed<CompareLine[]>(() =>
    compared.value.map(({ detail, config }) => {
      const points = toXY(
        detail.metrics.filter((p) => p.name === compareMetric.value),
        xAxis.value,
      );
      const { summary } = detail;
      return {
        runId: summary.id,
        label: `${summary.name || summary.id} · ${formatTime(summary.startedAt)}`,
        difference: differenceLabel(config, differences.value),
        raw: points,
        smoothed: smoothXY(points, smoothing.value),
      };
    }),
  );
  /** The first two compared runs' configs, key by key. */
  const configDiff = computed(() => {
    const [left, right] = compared.value;
    if (!left || !right) return undefined;
    return { left: left.detail.summary, right: right.detail.summary, rows: configRows(left.config, right.config) };
  });

  /** A run as the user knows it: by its name (its id when the list does not have it). */
  const nameOf = (id: string) => runs.value.find((r) => r.id === id)?.name || id;

  async function loadRuns(): Promise<void> {
    loading.value = true;
    try {
      runs.value = await useClient().listRuns();
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot list the runs: ${messageOf(e)}`;
    } finally {
      loading.value = false;
    }
  }

  async function detailOf(id: string): Promise<RunDetail> {
    const detail = await useClient().getRun(id);
    details.value = new Map(details.value).set(id, detail);
    return detail;
  }

  async function openRun(id: string): Promise<void> {
    try {
      selected.value = await detailOf(id);
      generation.answer.value = undefined;
      generation.error.value = undefined;
      error.value = undefined;
    } catch (e) {
      error.value = `Cannot open run ${id}: ${messageOf(e)}`;
    }
  }

  /** Adds a run to the comparison or takes it out. */
  async function toggleCompare(id: string): Promise<void> {
    if (compareIds.value.includes(id)) {
      compareIds.value = compareIds.value.filter((x) => x !== id);
      return;
    }
    compareIds.value = [...compareIds.value, id];
    try {
      await detailOf(id);
    } catch (e) {
      compareIds.value = compareIds.value.filter((x) => x !== id);
      error.value = `Cannot read run ${id}: ${messageOf(e)}`;
    }
  }

  /** Runs an action on a run, its failure shown as the history's error. */
  async function act(what: string, action: () => Promise<void>): Promise<boolean> {
    try {
      await action();
      error.value = undefined;
      return true;
    } catch (e) {
      error.value = `${what}: ${messageOf(e)}`;
      return false;
    }
  }

  /** Continues a stopped or crashed run; the run panel follows it. */
  async function resume(id: string): Promise<void> {
    const live = useRunsStore();
    await live.resumeRun(id);
    if (live.error) error.value = `Cannot resume run ${id}: ${live.error}`;
    else notice.value = `Resumed ${nameOf(id)}: the Workbench shows it.`;
  }

  /** The run's config, ready to run again: from the opened run, else read. */
  async function configOf(id: string): Promise<{ text: string; summary: RunSummary }> {
    const detail = selected.value?.summary.id === id ? selected.value : await detailOf(id);
    if (detail.config === undefined) throw new Error(`its folder ${detail.summary.runFolder} holds no config.yaml`);
    return { text: rerunnableConfig(detail.config), summary: detail.summary };
  }

  /** Puts the run's resolved config into the editor as an untitled config (relative paths still resolve). */
  async function cloneToEditor(id: string): Promise<boolean> {
    return act(`Cannot clone run ${id}`, async () => {
      const { text, summary } = await configOf(id);
      // The text is in the editor at once (or its question about unsaved changes is); it is checked while
      // the workbench already shows it.
      void useConfigStore().openUntitled(text, summary.configSource === 'untitled' ? '' : summary.configFile);
      notice.value = `The config of ${summary.name || id} is in the editor, untitled: Save As keeps it.`;
    });
  }

  /** Starts the run's config again, as a new run; the run panel follows it. */
  async function rerun(id: string): Promise<void> {
    await act(`Cannot re-run ${id}`, async () => {
      const { text, summary } = await configOf(id);
      const live = useRunsStore();
      await live.runText(text, summary.configSource === 'untitled' ? undefined : summary.configFile);
      if (live.error) throw new Error(live.error);
      notice.value = `Started ${summary.name || id} again: the Workbench shows it.`;
    });
  }

  function askDelete(id: string): void {
    pendingDelete.value = id;
  }

  function cancelDelete(): void {
    pendingDelete.value = undefined;
  }

  /** Deletes the run Delete asked about (the services refuse a live one). */
  async function confirmDelete(): Promise<void> {
    const id = pendingDelete.value;
    pendingDelete.value = undefined;
    if (id === undefined) return;
    const name = nameOf(id);
    const deleted = await act(`Cannot delete run ${id}`, () => useClient().deleteRun(id));
    if (!deleted) return;
    runs.value = runs.value.filter((r) => r.id !== id);
    compareIds.value = compareIds.value.filter((x) => x !== id);
    const rest = new Map(details.value);
    rest.delete(id);
    details.value = rest;
    if (selected.value?.summary.id === id) selected.value = undefined;
    notice.value = `Deleted run ${name}.`;
  }

  async function generate(prompt: string, options: GenerateOptions): Promise<void> {
    const run = selected.value?.summary;
    if (!run || !canGenerate(run)) {
      generation.error.value = 'Open a completed run to generate text with its model.';
      return;
    }
    await generation.send(run.id, prompt, options);
  }

  /** Keeps the list current as runs start, change status and end. */
  function receive(event: AppEvent): void {
    if (event.type !== 'run-status') return;
    const i = runs.value.findIndex((r) => r.id === event.run.id);
    if (i >= 0) runs.value.splice(i, 1, event.run);
    else runs.value.unshift(event.run);
    if (selected.value?.summary.id === event.run.id) selected.value = { ...selected.value, summary: event.run };
  }

  function dismissNotice(): void {
    notice.value = undefined;
  }

  return {
    runs,
    loading,
    error,
    notice,
    selected,
    pendingDelete,
    compareIds,
    compareMetric,
    smoothing,
    xAxis,
    generated: generation.answer,
    generating: generation.busy,
    generateError: generation.error,
    selectedSeries,
    selectedConfig,
    differences,
    compareLines,
    configDiff,
    loadRuns,
    openRun,
    toggleCompare,
    resume,
    cloneToEditor,
    rerun,
    askDelete,
    cancelDelete,
    confirmDelete,
    generate,
    receive,
    dismissNotice,
  };
});
