/**
 * What the worker process (worker.ts) does for the app's services: everything that has to import plugin
 * code or run the engine outside a run — the plugin catalog, `dumbo validate` on the editor's unsaved text,
 * the cost estimate, the dataset preview, generation from a finished run, and the check of a plugin folder
 * before it is installed. Each task is a function of plain data returning plain data (protocol.ts
 * `WorkerCalls`); errors become `WorkerError`s with located config problems.
 *
 * Runs only in the forked worker (plugin code never runs in the app's own process). May import core and
 * engine; imported by worker.ts and by tests.
 */

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  activatePlugins,
  ConfigErrors,
  DumboError,
  getLogger,
  HookBus,
  importPluginModule,
  findPluginEntry,
  loadConfiguredPlugins,
  parseConfig,
  resolvePlugins,
  scanCatalog,
  setRunContext,
  checkTopLevelKeys,
  pluginLocator,
  validatePluginSections,
  type ActivePlugin,
  type CatalogEntry,
  type LoadedPlugin,
  type PreparedRun,
  type Tokenizer,
  type TokenizedRow,
} from '../core/index.js';
import type { BackendChoice, ConfigProblem, DatasetPreview, PluginCard, RunEstimate } from '../shared/api.js';
import { modelShape, stepFlops, tinyClone, trainingMemoryBytes } from './estimate.js';
import type { WorkerCalls, WorkerError, WorkerMethod } from './protocol.js';

/** Plugin folders and module files imported while serving the current request. */
export class LoadedSet {
  readonly paths = new Set<string>();
  add(plugins: readonly LoadedPlugin[]): void {
    for (const p of plugins) this.paths.add(p.source.location);
  }
}

/** A plugin as the plugin manager shows it. */
export function pluginCard(p: LoadedPlugin, folder: string): PluginCard {
  const kind = p.source.kind;
  const where = kind === 'builtin' || kind === 'user' ? folder : p.source.location;
  const card: PluginCard = {
    id: `${kind}:${where}:${p.meta.className}`,
    folder,
    name: p.meta.name,
    className: p.meta.className,
    configKey: p.meta.configKey,
    source: kind,
    location: p.source.location,
    provides: [...p.meta.provides],
    requires: [...p.meta.requires],
    conflicts: [...p.meta.conflicts],
  };
  if (p.meta.description !== undefined) card.description = p.meta.description;
  if (p.meta.version !== undefined) card.version = p.meta.version;
  return card;
}

function entryCards(entry: CatalogEntry): PluginCard[] {
  if (entry.plugins.length > 0) return entry.plugins.map((p) => pluginCard(p, entry.id));
  const kind = entry.source.kind;
  return [
    {
      id: `${kind}:${entry.id}:`,
      folder: entry.id,
      name: entry.id,
      className: '',
      configKey: '',
      source: kind,
      location: entry.source.location,
      provides: [],
      requires: [],
      conflicts: [],
      error: entry.error ?? 'cannot be loaded',
    },
  ];
}

/** A config problem, with its file made absolute (errors show paths relative to the working directory). */
export function toProblems(error: unknown): ConfigProblem[] {
  const errors = error instanceof ConfigErrors ? error.errors : [error];
  return errors.map((e) => {
    if (e instanceof DumboError) {
      const p: ConfigProblem = { message: e.message };
      if (e.location.file) p.file = path.resolve(e.location.file);
      if (e.location.line !== undefined) p.line = e.location.line;
      if (e.location.column !== undefined) p.column = e.location.column;
      return p;
    }
    return { message: e instanceof Error ? e.message : String(e) };
  });
}

export function toWorkerError(error: unknown): WorkerError {
  const problems = toProblems(error);
  const lines = problems.map((p) =>
    p.file ? `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: ${p.message}` : p.message,
  );
  return { message: lines.join('\n'), problems };
}

/**
 * `prepareRun` (src/core/run.ts) on text that may not be saved: the same steps — parse, load the plugins
 * (paths relative to the config's folder), validate each section against its schema, resolve capabilities —
 * with every location in the file at `file` (parseConfig checks `backend:` and `webgpu:`).
 */
export async function prepareText(
  text: string,
  file: string,
  userPluginDir: string,
  loaded: LoadedSet,
): Promise<PreparedRun> {
  const config = parseConfig(text, path.resolve(file));
  const plugins = await loadConfiguredPlugins(config, { userPluginDir });
  loaded.add(plugins);
  const errors = [
    ...checkTopLevelKeys(config, plugins),
    ...validatePluginSections(config, plugins),
    ...resolvePlugins(plugins, config),
  ];
  if (errors.length > 0) throw errors.length === 1 ? errors[0]! : new ConfigErrors(errors);
  return { config, plugins };
}

// ------------------------------------------------------------------------------------------------ catalog

async function catalog(
  p: WorkerCalls['catalog']['params'],
  loaded: LoadedSet,
): Promise<WorkerCalls['catalog']['result']> {
  const entries = await scanCatalog({ userPluginDir: p.userPluginDir });
  for (const e of entries) loaded.add(e.plugins);
  const cards = entries.flatMap(entryCards);
  const used: string[] = [];
  if (p.configText !== undefined) {
    const file = path.resolve(p.configPath ?? '.dumbo-unsaved.yaml');
    const byClass = new Map(entries.flatMap((e) => e.plugins.map((q) => [q.cls, pluginCard(q, e.id)] as const)));
    let names: string[] = [];
    try {
      const config = parseConfig(p.configText, file);
      names = config.data.plugins;
      const plugins = await loadConfiguredPlugins(config, { userPluginDir: p.userPluginDir });
      loaded.add(plugins);
      for (const q of plugins) {
        let card = byClass.get(q.cls);
        if (!card) {
          // Named by path or package: part of this config's catalog too.
          card = pluginCard(q, path.basename(q.source.location));
          cards.push(card);
          byClass.set(q.cls, card);
        }
        if (!used.includes(card.id)) used.push(card.id);
      }
    } catch {
      // The config does not load as a whole: mark what its names match in the catalog.
      for (const raw of names) {
        const name = raw.trim();
        for (const card of cards) {
          const match = card.folder === name || (card.configKey === name && !card.error) || card.name === name;
          if (match && !used.includes(card.id)) used.push(card.id);
        }
      }
    }
  }
  return { cards, used };
}

async function checkPluginFolder(
  p: WorkerCalls['checkPluginFolder']['params'],
  loaded: LoadedSet,
): Promise<PluginCard[]> {
  const entry = findPluginEntry(p.folder);
  const plugins = await importPluginModule(entry, { kind: p.kind, location: p.folder });
  loaded.add(plugins);
  // Instantiating checks the hook map against the hook table, as a run would.
  activatePlugins(plugins);
  return plugins.map((q) => pluginCard(q, p.cardFolder));
}

// ----------------------------------------------------------------------------------------------- validate

async function validate(
  p: WorkerCalls['validate']['params'],
  loaded: LoadedSet,
): Promise<WorkerCalls['validate']['result']> {
  try {
    const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
    if (p.dataCheck && prepared.plugins.some((q) => q.meta.provides.includes('dataset_loader'))) {
      await formattedDataset(prepared, { dryRunRows: DRY_RUN_ROWS });
    }
    return {
      valid: true,
      problems: [],
      plugins: prepared.plugins.map((q) => pluginCard(q, path.basename(q.source.location))),
    };
  } catch (error) {
    return { valid: false, problems: toProblems(error), plugins: [] };
  }
}

// ----------------------------------------------------------------------------------- datasets (preview, rows)

const log = getLogger('worker');

function section(prepared: PreparedRun, p: ActivePlugin): Record<string, unknown> {
  return prepared.config.section(p.meta.configKey);
}

/** Rows `dumbo validate` runs through the data path. */
const DRY_RUN_ROWS = 64;

/**
 * Runs tokenizer_loader (model_loader only when the tokenizer needs the model), dataset_loader, formatter.
 * A failure points at the field its message names (`dataset.path: no file matches ...`).
 */
async function formattedDataset(
  prepared: PreparedRun,
  options: { dryRunRows?: number } = {},
): Promise<{ rows: readonly TokenizedRow[]; tokenizer?: Tokenizer; evalRows: number }> {
  const { config } = prepared;
  setRunContext({
    configFile: path.resolve(config.dir, path.basename(config.file)),
    seed: typeof config.data.seed === 'number' ? config.data.seed : 42,
    dryRunRows: options.dryRunRows,
  });
  const bus = new HookBus(activatePlugins(prepared.plugins), { logger: log, locate: pluginLocator(config) });
  let tokenizer: Tokenizer | undefined;
  try {
    tokenizer = (await bus.first('tokenizer_loader', (p) => [section(prepared, p), undefined]))?.value;
  } catch (error) {
    // A tokenizer that comes with the model (no folder of its own): load the model first. If that fails too,
    // the tokenizer's own error is the one to show (it names the tokenizer's field).
    const model = await bus
      .first('model_loader', (p) => [section(prepared, p)])
      .then((r) => r?.value)
      .catch(() => undefined);
    if (!model) throw error;
    try {
      tokenizer = (await bus.first('tokenizer_loader', (p) => [section(prepared, p), model]))?.value;
    } finally {
      // Only the tokenizer was wanted: the worker lives on, its weights must not.
      (model as { lm?: { dispose?: () => void } }).lm?.dispose?.();
    }
  }
  let dataset = (await bus.first('dataset_loader', (p) => [section(prepared, p), tokenizer]))?.value;
  if (!dataset) throw new DumboError('no plugin provides a dataset_loader: there is no dataset to preview');
  dataset = await bus.pipe('dataset_formatter', dataset, (p, d) => [d, section(prepared, p), tokenizer]);
  const rows = dataset.train as readonly TokenizedRow[];
  const first = rows[0];
  if (!first || !Array.isArray(first.input_ids) || !Array.isArray(first.labels)) {
    throw new DumboError(
      rows.length === 0
        ? 'the training set is empty'
        : 'the dataset rows have no input_ids/labels: add a dataset_formatter (jinja_formatter) to plugins:',
    );
  }
  return { rows, tokenizer, evalRows: dataset.eval?.length ?? 0 };
}

function trainerSection(prepared: PreparedRun): Record<string, unknown> | undefined {
  const trainer = prepared.plugins.find((p) => p.meta.provides.includes('trainer'));
  return trainer ? prepared.config.section(trainer.meta.configKey) : undefined;
}

const int = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);

async function previewDataset(p: WorkerCalls['previewDataset']['params'], loaded: LoadedSet): Promise<DatasetPreview> {
  const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
  const { rows, tokenizer } = await formattedDataset(prepared);
  if (!tokenizer) throw new DumboError('no tokenizer: add a tokenizer_loader plugin (transformers) to plugins:');
  const training = trainerSection(prepared) ?? {};
  const batch = Math.min(int(training.batch_size, 8), p.maxRows ?? 8);
  const maxLength = int(training.max_length, Infinity);
  return {
    rows: rows.slice(0, batch).map((row) => {
      const n = Math.min(row.input_ids.length, maxLength);
      const tokens: { text: string; masked: boolean }[] = [];
      for (let t = 0; t < n; t++) {
        tokens.push({ text: tokenizer.decode([row.input_ids[t]!]), masked: (row.labels[t] ?? -100) === -100 });
      }
      return { tokens };
    }),
  };
}

// ----------------------------------------------------------------------------------------------- estimate

const matmulRates = new Map<string, number>();

/**
 * FLOP/s of a float32 matmul on the current backend (256² on the CPU, 1024² on a GPU), measured for about
 * 0.2 s; on a GPU several are recorded before each read, so the rate is the GPU's, not the read's latency.
 */
async function measureMatmulRate(tfBackend: string): Promise<number> {
  const known = matmulRates.get(tfBackend);
  if (known) return known;
  const tf = await import('@tensorflow/tfjs-core');
  const { readTensor } = await import('../engine/backend.js');
  const n = tfBackend === 'webgpu' ? 1024 : 256;
  const batch = tfBackend === 'webgpu' ? 4 : 1;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const run = async (k: number) => {
    const outs = Array.from({ length: k }, () => tf.matMul(a, b));
    await readTensor(outs.at(-1)!);
    tf.dispose(outs);
  };
  await run(1); // warm-up (kernel compile, allocation)
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 200 || reps < 2) {
    await run(batch);
    reps += batch;
  }
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([a, b]);
  const rate = (2 * n * n * n * reps) / seconds;
  matmulRates.set(tfBackend, rate);
  return rate;
}

const stepOverheads = new Map<string, number>();

/**
 * Seconds of one training step of `tinyClone(config)` (same architecture and depth, tiny sizes) on the
 * current backend: the per-step cost of recording and launching the kernels, which dominates on a GPU.
 */
async function measureStepOverhead(config: Record<string, unknown>, tfBackend: string): Promise<number> {
  const engine = await import('../engine/index.js');
  const tiny = tinyClone(config);
  const key = `${tfBackend}|${engine.architectureOf(tiny)}|${JSON.stringify(tiny)}`;
  const known = stepOverheads.get(key);
  if (known !== undefined) return known;
  const lm = engine.createModel(tiny, { seed: 0 });
  const opt = new engine.AdamW(lm.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const ids = Array.from({ length: 16 }, (_, i) => i % 64);
  const step = () => engine.trainStep(lm, opt, [engine.collate([{ input_ids: ids, labels: ids }], 16, 0)], 1e-4, 1, 0);
  try {
    await step(); // warm-up: kernels compile
    const t0 = performance.now();
    await step();
    await step();
    const seconds = (performance.now() - t0) / 2000;
    stepOverheads.set(key, seconds);
    return seconds;
  } finally {
    opt.dispose();
    lm.dispose();
  }
}

async function modelConfigOf(prepared: PreparedRun): Promise<Record<string, unknown>> {
  const { readConfig } = await import('../engine/pretrained.js');
  const { cachedSnapshot, isRepoId } = await import('../engine/hub.js');
  const loader = prepared.plugins.find((p) => p.meta.provides.includes('model_loader'));
  if (!loader) throw new DumboError('no plugin provides a model_loader: there is no model to estimate');
  const s = prepared.config.section(loader.meta.configKey);
  const overrides = (typeof s.config === 'object' && s.config !== null ? s.config : {}) as Record<string, unknown>;
  const base = typeof s.base_model === 'string' ? s.base_model : undefined;
  const where = prepared.config.locate([loader.meta.configKey, 'base_model']);
  let baseConfig: Record<string, unknown> = {};
  if (base) {
    const local = path.resolve(prepared.config.dir, base);
    if (existsSync(local)) baseConfig = readConfig(local);
    else if (isRepoId(base)) {
      const snap = cachedSnapshot(base, {
        revision: typeof s.revision === 'string' ? s.revision : undefined,
        cacheDir: typeof s.cache_dir === 'string' ? path.resolve(prepared.config.dir, s.cache_dir) : undefined,
      });
      if (!snap) {
        throw new DumboError(
          `${base} is not in the Hugging Face cache yet, so its size is unknown (it is downloaded when the run starts)`,
          { location: where },
        );
      }
      baseConfig = readConfig(snap);
    } else throw new DumboError(`no model folder ${local}`, { location: where });
  }
  const merged = s.init === 'from_config' ? { ...baseConfig, ...overrides } : baseConfig;
  if (Object.keys(merged).length === 0) {
    throw new DumboError(`${loader.meta.configKey}: no base_model or config: the model's size is unknown`, {
      location: prepared.config.locate([loader.meta.configKey]),
    });
  }
  return merged;
}

async function estimate(p: WorkerCalls['estimate']['params'], loaded: LoadedSet): Promise<RunEstimate> {
  const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
  const training = trainerSection(prepared);
  if (!training) throw new DumboError('no plugin provides a trainer: this config does not train, nothing to estimate');
  const modelConfig = await modelConfigOf(prepared);
  const shape = modelShape(modelConfig);
  const batch = int(training.batch_size, 8);
  const accumulation = int(training.gradient_accumulation_steps, 1);
  const formatter = prepared.plugins.find((q) => q.meta.provides.includes('dataset_formatter'));
  const formatterLength = formatter ? prepared.config.section(formatter.meta.configKey).max_length : undefined;
  const seqLen = Math.min(int(training.max_length, 256), int(formatterLength, Infinity), shape.maxPositions);
  const tokensPerStep = batch * seqLen * accumulation;
  let steps = typeof training.max_steps === 'number' ? training.max_steps : undefined;
  if (steps === undefined) {
    // Steps follow from the data: as the trainer counts them (full batches, then accumulation).
    const { rows } = await formattedDataset(prepared);
    const perEpoch = Math.max(1, Math.floor(Math.max(1, Math.floor(rows.length / batch)) / accumulation));
    steps = perEpoch * int(training.epochs, 1);
  }
  const { backendDevice, initBackend, webgpuOptions } = await import('../engine/backend.js');
  const choice = (prepared.config.data.backend ?? p.defaultBackend ?? 'auto') as BackendChoice;
  const backend = await initBackend(choice, { webgpu: webgpuOptions(prepared.config.data.webgpu) });
  const rate = await measureMatmulRate(backend.tfBackend);
  const overhead = await measureStepOverhead(modelConfig, backend.tfBackend);
  const secondsPerStep = overhead * accumulation + stepFlops(shape.parameters, tokensPerStep) / rate;
  const out: RunEstimate = {
    parameters: shape.parameters,
    tokensPerStep,
    steps,
    secondsPerStep,
    totalSeconds: secondsPerStep * steps,
    memoryBytes: trainingMemoryBytes(shape, batch, seqLen),
    backend: backend.name,
    backendReason: backend.why,
    backendDevice: backendDevice(backend),
  };
  if (backend.name === 'cpu') {
    out.slowBackendWarning =
      `Only the pure-JS cpu backend runs here (${(rate / 1e9).toFixed(2)} GFLOP/s measured): fine for tiny ` +
      'models, far too slow for real ones. A GPU trains through WebGPU: on Linux install its Vulkan driver ' +
      '(see `dumbo doctor`); or install @tensorflow/tfjs-node (native CPU).';
  }
  return out;
}

// ----------------------------------------------------------------------------------------------- generate

let cachedModel:
  | {
      key: string;
      model: { lm: import('../engine/models/types.js').CausalLM };
      tokenizer: import('../engine/tokenizer.js').EngineTokenizer;
    }
  | undefined;

async function generateText(p: WorkerCalls['generate']['params']): Promise<string> {
  const dir = path.resolve(p.modelDir);
  if (!existsSync(path.join(dir, 'config.json'))) {
    throw new DumboError(`not a model folder: no config.json in ${dir}`, { location: { file: dir } });
  }
  const engine = await import('../engine/index.js');
  const report = engine.currentBackend() ?? (await engine.initBackend(p.backend ?? 'auto'));
  const label = engine.backendLabel(report);
  const weights = path.join(dir, 'model.safetensors');
  const key = `${dir}|${existsSync(weights) ? statSync(weights).mtimeMs : 0}`;
  if (cachedModel?.key !== key) {
    cachedModel?.model.lm.dispose();
    cachedModel = undefined;
    const model = await engine.loadPretrained(dir, 0, label);
    const tokenizer = await engine.loadTokenizer(dir);
    cachedModel = { key, model, tokenizer };
  }
  const { model, tokenizer } = cachedModel;
  let ids = tokenizer.encode(p.prompt);
  if (ids.length === 0 && tokenizer.bosTokenId !== undefined) ids = [tokenizer.bosTokenId];
  if (ids.length === 0) throw new DumboError('the prompt is empty after tokenization: give some text');
  const out = await engine.generate(model.lm, ids, {
    maxNewTokens: Math.min(p.maxNewTokens, Math.max(1, model.lm.maxPositions - ids.length)),
    temperature: p.temperature,
    eosTokenId: tokenizer.eosTokenId,
    seed: p.seed,
  });
  return p.prompt + tokenizer.decode(out, { skipSpecialTokens: true });
}

// ------------------------------------------------------------------------------------------------- table

type Task<M extends WorkerMethod> = (
  params: WorkerCalls[M]['params'],
  loaded: LoadedSet,
) => Promise<WorkerCalls[M]['result']>;

export const WORKER_TASKS: { [M in WorkerMethod]: Task<M> } = {
  catalog,
  validate,
  estimate,
  previewDataset,
  generate: (p) => generateText(p),
  checkPluginFolder,
};
