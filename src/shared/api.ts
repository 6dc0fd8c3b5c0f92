/**
 * src/shared/api.ts — the one typed boundary between the UI and the app's services.
 *
 * What lives here: every call the renderer can make (its arguments and result), every event the app pushes
 * (run status, metrics, logs, trace), the data types they carry, and `DumboApi`, the shape of `window.dumbo`
 * that the preload exposes and that the `dumbo serve` client implements over HTTP + WebSocket. Change a
 * payload here and every side that sends or receives it stops compiling until it agrees.
 *
 * Who may import it: everyone — Electron main and `dumbo serve` (the two doors, both calling the same
 * service layer in src/services), the preload, the renderer (types and these constants only). So this module
 * imports only src/core/records.ts (which imports nothing), touches no Node, DOM or Electron API,
 * and holds only types, plain constants and pure argument checks.
 *
 * Conventions (after VS Code's IPC): a *call* returns one promise; *events* stream to listeners registered
 * with `onEvent`, which returns its unsubscribe function. Errors cross the boundary as rejected promises
 * whose message is the user-facing text. Both doors validate every call's arguments with ARGS_VALID.
 */

import { BACKEND_CHOICES } from '../core/records.js';
import type { BackendChoice, ModelInfo, RunLink, TraceEntry } from '../core/records.js';
import type { FieldDoc } from './field-docs.js';

export type { RunLink };

export type RunStatus = 'pending' | 'running' | 'stopping' | 'stopped' | 'completed' | 'failed' | 'crashed';
export const RUN_STATUSES: readonly RunStatus[] = [
  'pending',
  'running',
  'stopping',
  'stopped',
  'completed',
  'failed',
  'crashed',
];
/** What a config's `backend:` (and the app's default backend) may say; the same list as core's config loader. */
export { BACKEND_CHOICES, type BackendChoice } from '../core/records.js';

/** A plugin as the plugin manager shows it. */
export interface PluginCard {
  /** Stable id: `<source>:<folder or module path>:<class name>`. */
  id: string;
  /** The plugin folder's name (built-in and user plugins), used by `removePlugin`. */
  folder: string;
  /** The name `plugins:` takes for it: the folder (built-in, user), else what the config wrote (path, package). */
  name: string;
  className: string;
  /** The plugin's own name (its class name in snake_case), as messages and the trace name it: `plugins:` takes it too. */
  pluginName?: string;
  configKey: string;
  source: 'builtin' | 'user' | 'path' | 'package';
  location: string;
  description?: string;
  version?: string;
  provides: string[];
  requires: string[];
  conflicts: string[];
  /** Why the folder could not be loaded (then the other fields are the folder's). */
  error?: string;
  /** Its section (`configKey:`) as field docs, from its configSchema: the editor's completion, hover and form. */
  section?: FieldDoc;
}

/** What the user sees before trusting a dropped folder: its files and package.json. No code of it has run. */
export interface PluginFolderPreview {
  folder: string;
  files: { path: string; bytes: number }[];
  packageJson?: Record<string, unknown>;
  /** Symbolic links in the folder: never followed, never copied. */
  links: string[];
}

export interface ConfigFile {
  path: string;
  text: string;
}

/** One problem of a config, at its 1-based line and column when known. */
export interface ConfigProblem {
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

export interface ValidationResult {
  valid: boolean;
  problems: ConfigProblem[];
  /** The resolved plugins, in order (empty when invalid). */
  plugins: PluginCard[];
}

/** An example config that ships with Dumbo, as the gallery shows it (resources/examples/index.json). */
export interface Example {
  name: string;
  path: string;
  /** What it shows, in a sentence or two. */
  description: string;
  /** How long it takes on the machine it was measured on (`about 25 s on 2 CPU cores`). */
  duration?: string;
  /** What must run first (the quickstart, for the examples that fine-tune its model). */
  needs?: string;
  /** The config itself: the editor opens it as an untitled copy. */
  text: string;
}

export interface Settings {
  recentConfigs: string[];
  /** The user plugin folder. */
  pluginFolder: string;
  defaultBackend: BackendChoice;
  windowBounds?: { x: number; y: number; width: number; height: number };
}

/** Where a run's config came from when it was not a saved file: `edited` (the file, unsaved edits), `untitled`. */
export type ConfigSource = 'edited' | 'untitled';

export interface RunSummary {
  id: string;
  name: string;
  runFolder: string;
  configFile: string;
  /** The config was not `configFile` as saved: its unsaved edits, or text with no file (untitled). */
  configSource?: ConfigSource;
  status: RunStatus;
  startedAt?: string;
  endedAt?: string;
  durationS?: number;
  finalLoss?: number;
  steps?: number;
  backend?: string;
  backendReason?: string;
  /** The GPU a WebGPU run uses (`nvidia nvidia-h200`). */
  backendDevice?: string;
  exitReason?: string;
  /** The lowest and the last eval loss of its evaluations. */
  bestEvalLoss?: number;
  finalEvalLoss?: number;
  /** Its typical speed: the median of its steps' tokens per second. */
  tokensPerS?: number;
}

export interface MetricPoint {
  name: string;
  value: number;
  step: number;
  timestamp: number;
}

/** One hook call of a run's trace: core's record of it, as it is. */
export type TraceRow = TraceEntry;

/**
 * A run's model as the app shows it: the fields core's `ModelInfo` names, without its open end (`[key]:
 * unknown`): the service copies these, checked, from what a plugin reported.
 */
export type ModelInfoView = NamedFields<ModelInfo>;

/** `T` without its index signature: only the fields it names, with their types and optionality. */
type NamedFields<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

export interface RunDetail {
  summary: RunSummary;
  metrics: MetricPoint[];
  trace: TraceRow[];
  /** The last lines of log.txt. */
  log: string[];
  modelInfo?: ModelInfoView;
  progress?: { step: number; totalSteps?: number };
  /** Where the run's output can be seen outside the app (its TensorBoard folder, its W&B page). */
  links?: RunLink[];
  /** The config as the run resolved it (its folder's config.yaml), defaults filled in. */
  config?: string;
}

/** Before Run: what it will cost, and a warning when only the slow pure-JS backend is there. */
export interface RunEstimate {
  parameters: number;
  tokensPerStep: number;
  steps: number;
  secondsPerStep: number;
  totalSeconds: number;
  memoryBytes: number;
  backend: string;
  backendReason: string;
  /** The GPU WebGPU would use (`nvidia nvidia-h200`). */
  backendDevice?: string;
  slowBackendWarning?: string;
}

/** The first batch, decoded token by token, with the positions whose label is masked (-100). */
export interface DatasetPreview {
  rows: { tokens: { text: string; masked: boolean }[] }[];
  /**
   * The dataset's first rows as its loader read them, before formatting (as many as `rows`): each field as
   * text (JSON for what is not a string), cut at a few thousand characters.
   */
  rawRows: Record<string, string>[];
  /** Training examples formatted in all. */
  examples: number;
  /** Examples cut to the sequence length: by the formatter (as it reports) or by the trainer's length. */
  truncated: number;
  /** Examples the formatter left out as too long (`truncation: drop`), as it reports. */
  dropped: number;
}

export interface ModelChoice {
  label: string;
  path: string;
  source: 'local' | 'hf-cache';
  /** The folder holds trained weights (a run's final/, a hub model): picking it sets `init: pretrained`. */
  weights: boolean;
}

export interface GenerateOptions {
  maxNewTokens: number;
  temperature: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the most likely tokens whose probability reaches p (1 or absent: all). */
  topP?: number;
  /** The sampler's seed: the same seed, prompt and options give the same text (absent: a new one each time). */
  seed?: number;
}

/** Every call: its arguments (as a tuple) and what its promise resolves to. */
export interface Calls {
  version: { args: []; result: string };
  /** The catalog, the cards the config uses, and the run's own top-level keys (core's RUN_SCHEMA) as field docs. */
  listPlugins: { args: [configText?: string]; result: { cards: PluginCard[]; used: string[]; runFields: FieldDoc[] } };
  previewPluginFolder: { args: [folder: string]; result: PluginFolderPreview };
  /** Copies a folder the user trusted into the plugin folder, then loads it to validate it. */
  installPlugin: { args: [folder: string]; result: PluginCard[] };
  removePlugin: { args: [folder: string]; result: void };
  openConfig: { args: [path: string]; result: ConfigFile };
  saveConfig: { args: [path: string, text: string]; result: void };
  /** The CLI's own validator (`dumbo validate`), on the editor's text. */
  validateConfig: { args: [text: string, path: string]; result: ValidationResult };
  listExamples: { args: []; result: Example[] };
  getSettings: { args: []; result: Settings };
  updateSettings: { args: [patch: Partial<Settings>]; result: Settings };
  estimateRun: { args: [text: string, path: string]; result: RunEstimate };
  previewDataset: { args: [text: string, path: string]; result: DatasetPreview };
  /** Starts a run of the config file (saved first by the UI); `resume` continues a stopped or crashed run. */
  startRun: { args: [path: string, resume?: string]; result: RunSummary };
  /**
   * Runs the editor's text, saved or not (the file is neither read nor written): the run folder keeps it as its
   * config.yaml. `path`: the config's file, for its name and relative paths (none: untitled, in the working folder).
   */
  runConfig: { args: [text: string, path?: string]; result: RunSummary };
  stopRun: { args: [runId: string]; result: void };
  listRuns: { args: []; result: RunSummary[] };
  getRun: { args: [runId: string]; result: RunDetail };
  /** Continues a stopped or crashed run (any the history lists: the CLI's too) from its latest checkpoint. */
  resumeRun: { args: [runId: string]; result: RunSummary };
  /** Deletes a run's folder; refused for a live run. */
  deleteRun: { args: [runId: string]; result: void };
  listModels: { args: []; result: ModelChoice[] };
  generate: { args: [runId: string, prompt: string, options: GenerateOptions]; result: string };
}

export type CallName = keyof Calls;
export type CallArgs<K extends CallName> = Calls[K]['args'];
export type CallResult<K extends CallName> = Calls[K]['result'];

/** What the app pushes to the UI. Metrics and logs are coalesced (a few batches a second). */
export type AppEvent =
  | { type: 'run-status'; run: RunSummary }
  | { type: 'run-metrics'; runId: string; points: MetricPoint[] }
  | { type: 'run-log'; runId: string; lines: string[] }
  | { type: 'run-trace'; runId: string; rows: TraceRow[] }
  | { type: 'run-model'; runId: string; info: ModelInfoView }
  | { type: 'run-links'; runId: string; links: RunLink[] }
  | { type: 'run-progress'; runId: string; step: number; totalSteps?: number }
  | { type: 'plugins-changed' };

/** The IPC channel of each call. A mapped type: a call without a channel is a compile error. */
export const CHANNELS: { readonly [K in CallName]: `dumbo:${K}` } = {
  version: 'dumbo:version',
  listPlugins: 'dumbo:listPlugins',
  previewPluginFolder: 'dumbo:previewPluginFolder',
  installPlugin: 'dumbo:installPlugin',
  removePlugin: 'dumbo:removePlugin',
  openConfig: 'dumbo:openConfig',
  saveConfig: 'dumbo:saveConfig',
  validateConfig: 'dumbo:validateConfig',
  listExamples: 'dumbo:listExamples',
  getSettings: 'dumbo:getSettings',
  updateSettings: 'dumbo:updateSettings',
  estimateRun: 'dumbo:estimateRun',
  previewDataset: 'dumbo:previewDataset',
  startRun: 'dumbo:startRun',
  runConfig: 'dumbo:runConfig',
  stopRun: 'dumbo:stopRun',
  listRuns: 'dumbo:listRuns',
  getRun: 'dumbo:getRun',
  resumeRun: 'dumbo:resumeRun',
  deleteRun: 'dumbo:deleteRun',
  listModels: 'dumbo:listModels',
  generate: 'dumbo:generate',
};

/** Every call's name, in the table's order: each door (main's IPC, the preload, serve) has one entry per name. */
export const CALL_NAMES = Object.keys(CHANNELS) as readonly CallName[];

/** The channel main sends AppEvents on. */
export const EVENT_CHANNEL = 'dumbo:event';

/**
 * `dumbo serve`'s events socket (`/api/events`): the subprotocol the server answers with, and the prefix of
 * the one that carries the session token (`dumbo-token.<token>`): a browser cannot set a WebSocket's
 * headers, and the token is never a cookie.
 */
export const EVENTS_PROTOCOL = 'dumbo-events';
export const TOKEN_PROTOCOL_PREFIX = 'dumbo-token.';

/** Every call as a function returning a promise: what the services implement and each door exposes. */
export type CallFunctions = { readonly [K in CallName]: (...args: CallArgs<K>) => Promise<CallResult<K>> };

/** `window.dumbo`: one method per call, plus the event subscription. */
export type DumboApi = CallFunctions & {
  /** Registers a listener for app events; returns the function that removes it. */
  onEvent(listener: (event: AppEvent) => void): () => void;
};

const isString = (v: unknown): v is string => typeof v === 'string';
const isPath = (v: unknown): v is string => isString(v) && v.length > 0 && v.length < 4096 && !v.includes('\0');
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);
const isText = (v: unknown): v is string => isString(v) && v.length < 4_000_000;

function isSettingsPatch(v: unknown): v is Partial<Settings> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const p = v as Record<string, unknown>;
  const known = ['recentConfigs', 'pluginFolder', 'defaultBackend', 'windowBounds'];
  if (Object.keys(p).some((k) => !known.includes(k))) return false;
  if (!optional(p.recentConfigs, (x) => Array.isArray(x) && x.length <= 50 && x.every(isPath))) return false;
  if (!optional(p.pluginFolder, isPath)) return false;
  if (!optional(p.defaultBackend, (x) => (BACKEND_CHOICES as readonly unknown[]).includes(x))) return false;
  const b = p.windowBounds as Record<string, unknown> | undefined;
  return (
    b === undefined ||
    (typeof b === 'object' && b !== null && ['x', 'y', 'width', 'height'].every((k) => Number.isFinite(b[k])))
  );
}

function isGenerateOptions(v: unknown): v is GenerateOptions {
  const o = v as GenerateOptions;
  return (
    typeof o === 'object' &&
    o !== null &&
    Number.isInteger(o.maxNewTokens) &&
    o.maxNewTokens > 0 &&
    o.maxNewTokens <= 1024 &&
    Number.isFinite(o.temperature) &&
    o.temperature >= 0 &&
    optional(o.topK, (k) => Number.isInteger(k) && (k as number) >= 0) &&
    optional(o.topP, (p) => Number.isFinite(p) && (p as number) > 0 && (p as number) <= 1) &&
    optional(o.seed, (s) => Number.isInteger(s) && (s as number) >= 0 && (s as number) < 2 ** 31)
  );
}

/**
 * Checks that arguments coming from the UI have the shape the call expects. Both doors run these on every
 * call: a renderer (or a browser) is untrusted input, whatever its types say.
 */
export const ARGS_VALID: { readonly [K in CallName]: (args: readonly unknown[]) => args is CallArgs<K> } = {
  version: (a): a is [] => a.length === 0,
  listPlugins: (a): a is [string?] => a.length <= 1 && optional(a[0], isText),
  previewPluginFolder: (a): a is [string] => a.length === 1 && isPath(a[0]),
  installPlugin: (a): a is [string] => a.length === 1 && isPath(a[0]),
  removePlugin: (a): a is [string] => a.length === 1 && isString(a[0]) && /^[\w.@-]+$/.test(a[0]) && a[0] !== '..',
  openConfig: (a): a is [string] => a.length === 1 && isPath(a[0]),
  saveConfig: (a): a is [string, string] => a.length === 2 && isPath(a[0]) && isText(a[1]),
  validateConfig: (a): a is [string, string] => a.length === 2 && isText(a[0]) && isPath(a[1]),
  listExamples: (a): a is [] => a.length === 0,
  getSettings: (a): a is [] => a.length === 0,
  updateSettings: (a): a is [Partial<Settings>] => a.length === 1 && isSettingsPatch(a[0]),
  estimateRun: (a): a is [string, string] => a.length === 2 && isText(a[0]) && isPath(a[1]),
  previewDataset: (a): a is [string, string] => a.length === 2 && isText(a[0]) && isPath(a[1]),
  startRun: (a): a is [string, string?] => a.length >= 1 && a.length <= 2 && isPath(a[0]) && optional(a[1], isString),
  runConfig: (a): a is [string, string?] => a.length >= 1 && a.length <= 2 && isText(a[0]) && optional(a[1], isPath),
  stopRun: (a): a is [string] => a.length === 1 && isString(a[0]),
  listRuns: (a): a is [] => a.length === 0,
  getRun: (a): a is [string] => a.length === 1 && isString(a[0]),
  resumeRun: (a): a is [string] => a.length === 1 && isString(a[0]),
  deleteRun: (a): a is [string] => a.length === 1 && isString(a[0]),
  listModels: (a): a is [] => a.length === 0,
  generate: (a): a is [string, string, GenerateOptions] =>
    a.length === 3 && isString(a[0]) && isText(a[1]) && isGenerateOptions(a[2]),
};
