/**
 * A fake DumboApi for the renderer tests: a plain object implementing the contract, each call a vi.fn
 * with a sensible answer (override any of them), and `emit` to push app events to the listeners.
 */

import { vi, type Mock } from 'vitest';
import type { AppEvent, CallArgs, CallName, CallResult, DumboApi, RunSummary } from '../../src/shared/api.js';

export type FakeApi = { [K in CallName]: Mock<(...args: CallArgs<K>) => Promise<CallResult<K>>> } & {
  onEvent: DumboApi['onEvent'];
  /** Delivers an event to every listener, as the app would. */
  emit(event: AppEvent): void;
};

export function summary(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    id: 'run-1',
    name: 'quickstart',
    runFolder: '/runs/run-1',
    configFile: '/configs/quickstart.yaml',
    status: 'running',
    ...overrides,
  };
}

export function createFakeApi(
  overrides: { [K in CallName]?: (...args: CallArgs<K>) => Promise<CallResult<K>> } = {},
): FakeApi {
  const listeners = new Set<(event: AppEvent) => void>();
  const defaults: { [K in CallName]: (...args: CallArgs<K>) => Promise<CallResult<K>> } = {
    version: async () => '0.1.0',
    listPlugins: async () => ({ cards: [], used: [], runFields: [] }),
    previewPluginFolder: async (folder) => ({ folder, files: [], links: [] }),
    installPlugin: async () => [],
    removePlugin: async () => undefined,
    openConfig: async (path) => ({ path, text: '' }),
    saveConfig: async () => undefined,
    validateConfig: async () => ({ valid: true, problems: [], plugins: [] }),
    listExamples: async () => [],
    getSettings: async () => ({ recentConfigs: [], pluginFolder: '/plugins', defaultBackend: 'auto' }),
    updateSettings: async (patch) => ({
      recentConfigs: [],
      pluginFolder: '/plugins',
      defaultBackend: 'auto',
      ...patch,
    }),
    estimateRun: async () => ({
      parameters: 141_056,
      tokensPerStep: 512,
      steps: 120,
      secondsPerStep: 1,
      totalSeconds: 120,
      memoryBytes: 1 << 20,
      backend: 'cpu',
      backendReason: 'no GPU found',
    }),
    previewDataset: async () => ({ rows: [], rawRows: [], examples: 0, truncated: 0, dropped: 0 }),
    startRun: async (path) => summary({ configFile: path, status: 'pending' }),
    runConfig: async (_text, path) => summary({ configFile: path ?? '/work/untitled.yaml', status: 'pending' }),
    stopRun: async () => undefined,
    listRuns: async () => [],
    getRun: async (id) => ({ summary: summary({ id }), metrics: [], trace: [], log: [] }),
    resumeRun: async (id) => summary({ id, status: 'running' }),
    deleteRun: async () => undefined,
    listModels: async () => [],
    generate: async () => 'generated text',
  };
  const calls = Object.fromEntries(
    (Object.keys(defaults) as CallName[]).map((name) => [name, vi.fn(overrides[name] ?? defaults[name])]),
  ) as unknown as FakeApi;
  return Object.assign(calls, {
    onEvent(listener: (event: AppEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(event: AppEvent) {
      for (const l of [...listeners]) l(event);
    },
  });
}
