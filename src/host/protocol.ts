/**
 * The messages of the two forked processes in src/host and their parents (the CLI, `dumbo serve`, Electron
 * main through src/services). Plain JSON-serializable objects, independent of Electron: the app forks with
 * `utilityProcess.fork`, the CLI, `dumbo serve` and the tests with `child_process.fork`; same messages on both.
 *
 * - The run host (entry.ts): one run per process. `start` → status, log, trace, metrics, model, step… → done.
 * - The worker (worker.ts): a long-lived process for everything that must load plugin code outside a run
 *   (catalog, validation, estimates, dataset preview, generation): request/response by id.
 *
 * Imports only types (core, and src/shared for the payloads the UI sees) and the shared list of backends.
 */

import type {
  BackendChoice as CoreBackendChoice,
  LogRecord,
  ModelInfo,
  RunLink,
  RunStatus,
  TraceEntry,
  HookFailure,
  ErrorLocation,
} from '../core/index.js';
import { BACKEND_CHOICES } from '../shared/api.js';
import type {
  BackendChoice,
  ConfigProblem,
  ConfigSource,
  DatasetPreview,
  PluginCard,
  RunEstimate,
  ValidationResult,
} from '../shared/api.js';
import type { FieldDoc } from '../shared/field-docs.js';

export interface StartRunRequest {
  type: 'start';
  configFile: string;
  /** The run folder itself (`--output`); default from the config's output_dir, else runs/<date>-<name>. */
  outputDir?: string;
  /** Working directory against which the default run folder is made. */
  cwd?: string;
  userPluginDir?: string;
  /** The folder default run folders go in (default `<cwd>/runs`). */
  runsDir?: string;
  /**
   * Continue the run in `outputDir` from a checkpoint: sets the config's `resume_from` (usually `latest`)
   * without editing the config file.
   */
  resumeFrom?: string;
  /** The backend when the config names none (the app's settings; the config's `backend:` wins). */
  defaultBackend?: BackendChoice;
  /**
   * The folder the config's relative paths are relative to, when it is not the config file's own:
   * `dumbo resume` runs a run folder's config.yaml, written from a config that lived elsewhere.
   */
  configDir?: string;
  /**
   * The config's text, when it is not the file's (the app runs the editor's text, saved or not): loaded as if
   * it were `configFile` (its name, its folder for relative paths, its errors' locations); the file is not read.
   */
  configText?: string;
  /** Where `configText` came from, for run.json: the file as edited and unsaved, or no file (untitled). */
  configSource?: ConfigSource;
}

const CONFIG_SOURCES: readonly unknown[] = ['edited', 'untitled'] satisfies ConfigSource[];

/** The signals that stop a run (Ctrl-C, `kill`, a closed terminal): each stops it with exit code 128 + its number. */
export const STOP_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

export interface StopRunRequest {
  type: 'stop';
  /** The signal that asked (the run ends with exit code 128 + its number); absent: a Stop button, 130. */
  signal?: StopSignal;
}

export type ParentMessage = StartRunRequest | StopRunRequest;

/** An error as data: what crosses a process boundary. */
export interface SerializedError {
  message: string;
  kind: 'config' | 'run' | 'stopped';
  location?: ErrorLocation;
  plugin?: string;
  hook?: string;
  stack?: string;
  /** Several config errors, each already formatted as `FILE:LINE:COL: message`. */
  lines: string[];
}

export interface RunOutcomeMessage {
  status: 'completed' | 'stopped' | 'failed';
  exitCode: number;
  runFolder?: string;
  error?: SerializedError;
  failures: HookFailure[];
  finalLoss?: number;
  steps?: number;
  /** A sample generated at the end of training, when the trainer made one. */
  sample?: string;
}

export type HostMessage =
  | { type: 'status'; status: RunStatus; runFolder?: string }
  | { type: 'log'; record: LogRecord }
  | { type: 'trace'; entry: TraceEntry }
  | {
      type: 'metrics';
      events: { name: string; value: number; step: number; timestamp: number; tags: Record<string, unknown> }[];
    }
  /** What `log_model` got (sent when the registry's collectors get it). */
  | { type: 'model'; info: ModelInfo }
  | { type: 'link'; link: RunLink }
  /** One optimizer step done (after its `log_step`). */
  | { type: 'step'; step: number; totalSteps?: number }
  /** A hook call started (its `trace` entry comes when it returns): the parent's watchdog follows these. */
  | { type: 'hook'; hook: string; plugin: string; start: number }
  /** The host is about to end without an outcome (an uncaught error in plugin code): why, in words. */
  | { type: 'exiting'; reason: string }
  | { type: 'done'; outcome: RunOutcomeMessage };

export function isParentMessage(value: unknown): value is ParentMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (m.type === 'stop') return m.signal === undefined || Object.hasOwn(STOP_SIGNALS, m.signal as string);
  return (
    m.type === 'start' &&
    typeof m.configFile === 'string' &&
    (m.outputDir === undefined || typeof m.outputDir === 'string') &&
    (m.cwd === undefined || typeof m.cwd === 'string') &&
    (m.userPluginDir === undefined || typeof m.userPluginDir === 'string') &&
    (m.runsDir === undefined || typeof m.runsDir === 'string') &&
    (m.resumeFrom === undefined || typeof m.resumeFrom === 'string') &&
    (m.configDir === undefined || typeof m.configDir === 'string') &&
    (m.configText === undefined || typeof m.configText === 'string') &&
    (m.configSource === undefined || CONFIG_SOURCES.includes(m.configSource)) &&
    (m.defaultBackend === undefined || BACKENDS.includes(m.defaultBackend as BackendChoice))
  );
}

const BACKENDS: readonly BackendChoice[] = BACKEND_CHOICES;
// The UI's list (shared/api.ts) and the config loader's (core) are one list: a difference fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const sameBackends: Same<BackendChoice, CoreBackendChoice> = true;
void sameBackends;
export type { ConfigSource };

// ------------------------------------------------------------------------------------------------- worker

/** Every worker method: its parameters and result. */
export interface WorkerCalls {
  /** The plugin catalog as cards; with a config, which cards it uses. */
  catalog: {
    params: { userPluginDir: string; configText?: string; configPath?: string };
    result: { cards: PluginCard[]; used: string[]; runFields: FieldDoc[] };
  };
  /**
   * `dumbo validate` on unsaved text, located in the file at `path`. With `dataCheck`, the data path also runs
   * on the first rows — the tokenizer loads, the dataset files and columns are read, the template renders — so
   * that what would fail in a run's first seconds fails here.
   */
  validate: {
    params: { text: string; path: string; userPluginDir: string; dataCheck?: boolean };
    result: ValidationResult;
  };
  estimate: {
    params: { text: string; path: string; userPluginDir: string; defaultBackend?: BackendChoice };
    result: RunEstimate;
  };
  previewDataset: {
    params: { text: string; path: string; userPluginDir: string; maxRows?: number };
    result: DatasetPreview;
  };
  /** Text from a Hugging Face folder (a run's final/): the prompt followed by what the model adds. */
  generate: {
    params: {
      modelDir: string;
      prompt: string;
      maxNewTokens: number;
      temperature: number;
      topK?: number;
      topP?: number;
      seed: number;
      backend?: BackendChoice;
    };
    result: string;
  };
  /** Imports a plugin folder and instantiates its plugins (what install checks before keeping a copy). */
  checkPluginFolder: {
    params: { folder: string; kind: 'user' | 'path'; cardFolder: string };
    result: PluginCard[];
  };
}

export type WorkerMethod = keyof WorkerCalls;

export interface WorkerRequest<M extends WorkerMethod = WorkerMethod> {
  type: 'request';
  id: number;
  method: M;
  params: WorkerCalls[M]['params'];
}

/** A failed request: the user-facing message, and the config problems when there are several. */
export interface WorkerError {
  message: string;
  problems?: ConfigProblem[];
}

export type WorkerResponse =
  | {
      type: 'response';
      id: number;
      ok: true;
      result: unknown;
      /** Plugin folders and files this request imported (the parent restarts the worker when they change). */
      loaded: string[];
    }
  | { type: 'response'; id: number; ok: false; error: WorkerError; loaded: string[] };

/** Sent once when the worker is ready for requests. */
export interface WorkerReady {
  type: 'ready';
}

export const WORKER_METHODS: readonly WorkerMethod[] = [
  'catalog',
  'validate',
  'estimate',
  'previewDataset',
  'generate',
  'checkPluginFolder',
];

export function isWorkerRequest(value: unknown): value is WorkerRequest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    m.type === 'request' &&
    Number.isInteger(m.id) &&
    WORKER_METHODS.includes(m.method as WorkerMethod) &&
    typeof m.params === 'object' &&
    m.params !== null
  );
}
