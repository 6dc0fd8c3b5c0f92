/**
 * Run history: every past run with its status, duration and final loss; one opened in full (charts, model,
 * log); two runs' loss curves overlaid; text generated from a finished run's model.
 */

import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { AppEvent, GenerateOptions, MetricPoint, RunDetail, RunSummary } from '../../../shared/api.js';
import { useClient } from '../client.js';
import { messageOf } from '../lib/format.js';
import { useRequest } from '../lib/request.js';
import { seriesOf, type SeriesMap } from '../lib/series.js';

/** Runs whose final model can generate text. */
export const canGenerate = (run: RunSummary | undefined) => run?.status === 'completed';

export const useRunHistoryStore = defineStore('runHistory', () => {
  const runs = ref<RunSummary[]>([]);
  const loading = ref(false);
  const error = ref<string>();
  const selected = shallowRef<RunDetail>();
  /** Up to two run ids whose loss curves are drawn together. */
  const overlayIds = ref<string[]>([]);
  const details = shallowRef(new Map<string, RunDetail>());
  const generation = useRequest((runId: string, prompt: string, options: GenerateOptions) =>
    useClient().generate(runId, prompt, options),
  );

  const selectedSeries = computed<SeriesMap>(() => seriesOf(selected.value?.metrics ?? []));
  /** The overlaid runs' loss curves, labelled by run name. */
  const overlay = computed<{ label: string; points: MetricPoint[] }[]>(() =>
    overlayIds.value.flatMap((id) => {
      const detail = details.value.get(id);
      if (!detail) return [];
      return [{ label: detail.summary.name || id, points: detail.metrics.filter((p) => p.name === 'loss') }];
    }),
  );

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

  /** Adds a run to the overlay or takes it out; a third run replaces the oldest of two. */
  async function toggleOverlay(id: string): Promise<void> {
    if (overlayIds.value.includes(id)) {
      overlayIds.value = overlayIds.value.filter((x) => x !== id);
      return;
    }
    overlayIds.value = [...overlayIds.value, id].slice(-2);
    try {
      await detailOf(id);
    } catch (e) {
      overlayIds.value = overlayIds.value.filter((x) => x !== id);
      error.value = `Cannot read run ${id}: ${messageOf(e)}`;
    }
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

  return {
    runs,
    loading,
    error,
    selected,
    overlayIds,
    generated: generation.answer,
    generating: generation.busy,
    generateError: generation.error,
    selectedSeries,
    overlay,
    loadRuns,
    openRun,
    toggleOverlay,
    generate,
    receive,
  };
});
