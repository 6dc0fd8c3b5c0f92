/**
 * `dumbo`: the plugin SDK and framework. What `import { ... } from 'dumbo'` gives a plugin.
 *
 * Lives here: Result, plugin base classes and metadata, the hook table, plugin loading and resolution, the
 * hook bus and run lifecycle, metrics, config (YAML + JSON Schema), logging.
 * Imports nothing of ours (no engine, no Electron, no UI); everything else in Dumbo may import it.
 */

export { Ok, Err, isResult, toError, errorMessage, type Result, type OkResult, type ErrResult } from './result.js';
export {
  BasePlugin,
  ModelLoaderPlugin,
  TokenizerLoaderPlugin,
  ModelPatcherPlugin,
  DatasetLoaderPlugin,
  DatasetFormatterPlugin,
  LoggingPlugin,
  readPluginMeta,
  snakeCase,
  type JSONSchema,
  type PluginClass,
  type PluginMeta,
} from './plugin.js';
export {
  defineHook,
  getHookSpec,
  hookNames,
  EXCLUSIVE_CAPABILITIES,
  type HookSpecs,
  type HookName,
  type HookMode,
  type HookSpec,
  type HookReturn,
  type PluginHooks,
  type HookModes,
  type HookArgs,
  type HookValue,
  type HookCaller,
  type ModeOf,
  type FirstHook,
  type PipeHook,
  type ObserveHook,
  type ExclusiveHook,
  type EmitResult,
  type BuiltinHookModes,
} from './hooks.js';
export { standaloneContext, type Emit, type PluginContext, type RunInfo } from './context.js';
export {
  MetricEvent,
  MetricsCollector,
  MetricsRegistry,
  getMetricsRegistry,
  isMetricsCollector,
  type MetricTags,
} from './metrics.js';
export {
  getLogger,
  addLogSink,
  setConsoleLogLevel,
  formatLogRecord,
  type Logger,
  type LogLevel,
  type LogRecord,
  type LogSink,
} from './logger.js';
export {
  DumboError,
  configError,
  formatError,
  formatLocation,
  exitCodeFor,
  type ErrorKind,
  type ErrorLocation,
} from './errors.js';
export { didYouMean, editDistance } from './suggest.js';
export { checkRunLink, withRunLink, type RunLink } from './records.js';
export {
  loadConfig,
  parseConfig,
  validatePluginSections,
  checkTopLevelKeys,
  displayPath,
  RUN_KEYS,
  RUN_SCHEMA,
  DEFAULT_SEED,
  BACKEND_CHOICES,
  WEBGPU_SCHEMA,
  type BackendChoice,
  type LoadedConfig,
  type RunConfig,
} from './config.js';
export {
  loadConfiguredPlugins,
  scanCatalog,
  importPluginModule,
  findPluginEntry,
  ensureLoaderHooks,
  type LoadedPlugin,
  type CatalogEntry,
  type PluginSource,
  type PluginSourceKind,
  type LoaderOptions,
} from './loader.js';
export { resolvePlugins } from './resolver.js';
export { HookBus, activatePlugins, type ActivePlugin, type TraceEntry, type HookFailure } from './bus.js';
export {
  prepareRun,
  pluginLocator,
  runLifecycle,
  runInfoOf,
  trainerContext,
  mergeControls,
  flattenConfig,
  ConfigErrors,
  checkPreparedRun,
  type PreparedRun,
  type RunOptions,
  type RunOutcome,
  type RunStatus,
} from './run.js';
export { builtinPluginDir, userPluginDir, userDataDir, appRoot, shellArg } from './paths.js';
/** @deprecated Use the plugin context every hook receives as its last argument (`PluginContext`). */
export { getRunContext, setRunContext, type RunContext } from './shared.js';
export { mulberry32, seededPermutation } from './random.js';
export { ProtoMessage } from './protobuf.js';
export type * from './types.js';
export {
  writeFileAtomic,
  writeAll,
  replaceDir,
  oldName,
  describeFsError,
  statOrUndefined,
  lstatOrUndefined,
} from './fs.js';
export { withActivity, currentActivity, guardProcessExit, ProcessExitCalled } from './activity.js';
export { defineSchema, type FromSchema, type SchemaDef, type SchemaType } from './schema.js';
