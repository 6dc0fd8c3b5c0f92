/**
 * The run host: the process that loads plugins and runs a config (DESIGN.md section 1). Forked by the CLI
 * (`child_process.fork`) and by the app (`utilityProcess.fork`); it speaks protocol.ts over the parent port
 * (parent-port.ts). A crashing plugin or an out-of-memory run kills this process, not its parent, which keeps
 * the run folder.
 *
 * `executeRun` is the whole job — prepare, open the run folder (open-run-folder.ts), run the lifecycle, end
 * the record — and is also called in-process by tests. `startHost` serves one run over the parent port.
 * May import core and engine; imported by entry.ts and tests (the CLI and src/services fork entry.ts).
 */

import path from 'node:path';
import {
  addLogSink,
  currentActivity,
  guardProcessExit,
  ConfigErrors,
  DumboError,
  exitCodeFor,
  formatError,
  formatLogRecord,
  getLogger,
  getMetricsRegistry,
  MetricsCollector,
  checkPreparedRun,
  loadConfiguredPlugins,
  parseConfig,
  prepareRun,
  runLifecycle,
  type LoadedConfig,
  type Logger,
  type MetricEvent,
  type ModelInfo,
  type PreparedRun,
  type LoaderOptions,
  type RunLink,
  type RunOutcome,
  type RunStatus,
} from '../core/index.js';
import {
  backendDevice,
  kernelTable,
  formatBackendReport,
  initBackend,
  webgpuOptions,
  type BackendChoice,
  type BackendReport,
} from '../engine/index.js';
import { dumboVersion } from './info.js';
import { OpenRunFolder, type RecordStart } from './open-run-folder.js';
import type { ParentPort } from './parent-port.js';
import { endAsHangup } from './process.js';
import {
  isParentMessage,
  STOP_SIGNALS,
  type ConfigSource,
  type HostMessage,
  type RunOutcomeMessage,
  type SerializedError,
  type StartRunRequest,
  type StopSignal,
} from './protocol.js';
import { endRun, pluginRecords, runName } from './run-folder.js';

export function serializeError(error: unknown, verbose = true): SerializedError {
  const lines = error instanceof ConfigErrors ? error.errors.map((e) => formatError(e)) : [formatError(error)];
  if (error instanceof DumboError) {
    return {
      message: error.message,
      kind: error.kind,
      location: error.location,
      plugin: error.plugin,
      hook: error.hook,
      stack: verbose ? error.stack : undefined,
      lines,
    };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { message: e.message, kind: 'run', stack: verbose ? e.stack : undefined, lines };
}

/** Sends each step's events and log_model's info to the parent, for the live view. */
class ParentStreamCollector extends MetricsCollector {
  constructor(private readonly send: (m: HostMessage) => void) {
    super();
  }
  logMetric(event: MetricEvent): void {
    this.logMetrics([event]);
  }
  logMetrics(events: readonly MetricEvent[]): void {
    this.send({ type: 'metrics', events: events.map((e) => e.toJSON()) });
  }
  logModelInfo(info: ModelInfo): void {
    this.send({ type: 'model', info });
  }
  logLink(link: RunLink): void {
    this.send({ type: 'link', link });
  }
}

/** Whether the run was asked to stop (by the parent, a signal or the stop file); the first request's reason stands. */
export class RunControl {
  stopped = false;
  /** Why it stops, for run.json, and the exit code. */
  reason = 'stopped by the user';
  exitCode = 130;

  stop(reason: string, exitCode: number): void {
    if (this.stopped) return;
    this.stopped = true;
    this.reason = reason;
    this.exitCode = exitCode;
  }

  /** A stop asked with `signal` (none: a Stop button): exit code 128 + its number. */
  stopBy(signal?: StopSignal): void {
    this.stop(signal ? `stopped by ${signal}` : 'stopped by the user', 128 + STOP_SIGNALS[signal ?? 'SIGINT']);
  }
}

function failed(error: unknown): RunOutcomeMessage {
  const exitCode = exitCodeFor(error);
  return { status: exitCode === 130 ? 'stopped' : 'failed', exitCode, error: serializeError(error), failures: [] };
}

/** The backend the config (else the app's default) asks for; failing to start it is an error at `backend:`. */
async function startBackend(config: LoadedConfig, fallback: BackendChoice | undefined): Promise<BackendReport> {
  const choice = (config.data.backend ?? fallback ?? 'auto') as BackendChoice;
  try {
    return await initBackend(choice, { webgpu: webgpuOptions(config.data.webgpu) });
  } catch (error) {
    throw new DumboError((error as Error).message, { location: config.locate(['backend']) });
  }
}

/** `prepareRun` on the text the app sent (the editor's), as if it were `configFile`'s: the file is not read. */
async function prepareText(
  text: string,
  configFile: string,
  options: LoaderOptions & { configDir?: string },
): Promise<PreparedRun> {
  const config = parseConfig(text, configFile, { dir: options.configDir });
  return checkPreparedRun(config, await loadConfiguredPlugins(config, options));
}

/** A run that has its folder: what `openRun` made ready. */
interface OpenRun {
  prepared: PreparedRun;
  configFile: string;
  configSource?: ConfigSource;
  name: string;
  backend: BackendReport;
  folder: OpenRunFolder;
}

/** Everything that can fail before a run has its folder: the config and plugins, the backend, the folder. */
async function openRun(req: StartRunRequest): Promise<OpenRun> {
  const cwd = req.cwd ?? process.cwd();
  const configFile = path.resolve(cwd, req.configFile);
  const options = { userPluginDir: req.userPluginDir, configDir: req.configDir };
  const prepared =
    req.configText === undefined
      ? await prepareRun(configFile, options)
      : await prepareText(req.configText, configFile, options);
  const { config } = prepared;
  // The app continues a run without editing its config file: the request carries resume_from.
  if (req.resumeFrom !== undefined) config.data.resume_from = req.resumeFrom;
  const name = runName(config.file, config.data.name as string | undefined);
  const backend = await startBackend(config, req.defaultBackend);
  const folder = OpenRunFolder.open(req, config, name, cwd);
  return { prepared, configFile, configSource: req.configSource, name, backend, folder };
}

/** What run.json says of the run from its start: its name and config, the backend, the versions of everything. */
function recordStart({ name, configFile, configSource, prepared, backend }: OpenRun): RecordStart {
  return {
    name,
    configFile,
    configSource,
    backend: backend.name,
    backendReason: backend.why,
    backendDevice: backendDevice(backend),
    adapter: backend.name === 'webgpu' ? (backend.adapter as unknown as Record<string, unknown>) : undefined,
    versions: {
      dumbo: dumboVersion(),
      node: process.version,
      tfjs: backend.tfjsVersion,
      plugins: pluginRecords(prepared.plugins),
    },
  };
}

/** Log lines and metrics go to the run folder and to the parent; returns what stops the log lines. */
function streamRun(folder: OpenRunFolder, send: (m: HostMessage) => void, log: Logger): () => void {
  const removeSink = addLogSink((r) => {
    folder.writeLog(`${new Date(r.time).toISOString()} ${formatLogRecord(r)}`);
    send({ type: 'log', record: r });
  });
  const registry = getMetricsRegistry();
  registry.onCollectorError((c, call, error) =>
    log.warn(`metrics collector ${c.constructor.name}.${call} failed: ${String(error)}`),
  );
  registry.register(folder.collector);
  registry.register(new ParentStreamCollector(send));
  return removeSink;
}

/** The record's end: when, the exit code and why, the final loss and steps, the observers that failed. */
function endRecord(folder: OpenRunFolder, outcome: RunOutcome, control: RunControl): void {
  const { record } = folder;
  record.endedAt = new Date().toISOString();
  record.exitCode =
    outcome.status === 'completed' ? 0 : outcome.status === 'stopped' ? control.exitCode : exitCodeFor(outcome.error);
  record.exitReason =
    outcome.status === 'completed'
      ? 'completed'
      : outcome.status === 'stopped'
        ? control.reason
        : formatError(outcome.error);
  record.finalLoss = outcome.summary?.finalLoss ?? folder.collector.lastLoss;
  record.steps = outcome.summary?.steps ?? folder.collector.lastStep;
  record.observerFailures = outcome.failures;
}

/** Loads, validates and runs a config, writing its run folder and streaming events to `send`. */
export async function executeRun(
  req: StartRunRequest,
  send: (m: HostMessage) => void,
  control = new RunControl(),
): Promise<RunOutcomeMessage> {
  const log = getLogger('dumbo');
  send({ type: 'status', status: 'pending' });
  let run: OpenRun;
  try {
    run = await openRun(req);
  } catch (error) {
    return failed(error);
  }
  const { prepared, folder } = run;
  const record = folder.begin(recordStart(run));
  const stopLog = streamRun(folder, send, log);
  const setStatus = (status: RunStatus) => {
    folder.setStatus(status);
    send({ type: 'status', status, runFolder: folder.dir });
  };
  setStatus('running');
  log.info(`run folder: ${folder.dir}`);
  for (const note of folder.notes) log.warn(note);
  if (folder.resumedAt) log.info(`resuming from ${folder.resumedAt.checkpoint} (step ${folder.resumedAt.step})`);
  for (const line of formatBackendReport(run.backend)) log.info(line);

  // The kernels hook fills the engine's op table afresh for each run (a host may run several in turn).
  kernelTable.reset();
  const outcome = await runLifecycle(prepared, {
    runFolder: folder.dir,
    run: { backend: run.backend.name },
    kernels: kernelTable,
    stopRequested: () => {
      const asked = control.stopped ? undefined : folder.stopRequest();
      if (asked) control.stopBy(asked.signal);
      return control.stopped;
    },
    logger: log,
    onTrace: (entry) => {
      folder.writeTrace(entry);
      send({ type: 'trace', entry });
    },
    onCallStart: (call) => send({ type: 'hook', ...call }),
    onStep: (step) => send({ type: 'step', step: step.step, totalSteps: step.totalSteps }),
  });

  if (outcome.failures.length > 0) {
    log.warn(
      `${outcome.failures.length} observer hook call(s) failed (the run went on): ` +
        outcome.failures.map((f) => `${f.plugin}.${f.hook}`).join(', '),
    );
  }
  endRecord(folder, outcome, control);
  let end: RunOutcomeMessage = {
    status: outcome.status,
    exitCode: record.exitCode!,
    runFolder: folder.dir,
    error: outcome.error === undefined ? undefined : serializeError(outcome.error),
    failures: outcome.failures,
    finalLoss: record.finalLoss,
    steps: record.steps,
    sample: typeof outcome.summary?.sample === 'string' ? outcome.summary.sample : undefined,
  };
  try {
    setStatus(outcome.status);
  } catch (error) {
    // run.json could not be rewritten (a full disk): it keeps its last good content, and the run reports
    // the failure rather than an end the record does not show.
    log.error(formatError(error));
    end = { ...failed(error), runFolder: folder.dir };
  }
  stopLog();
  folder.close();
  return end;
}

/** Serves one run over the parent port (call once, in a forked process). */
export function startHost(parent: ParentPort): void {
  // Plugin code runs here: its process.exit() becomes an error naming the plugin (the run fails, saying so).
  const exit = guardProcessExit();
  const control = new RunControl();
  // Logs also go to log.txt: a terminal that closed under us (EIO) or a pipe nobody reads must not end the run.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  // Read now: once the parent is gone, process.ppid is whoever adopted this process (1, or a subreaper).
  const parentPid = process.ppid;
  let parentGone = false;
  let runFolder: string | undefined;
  const send = (m: HostMessage, then?: () => void) => {
    if (m.type === 'status' && m.runFolder) runFolder = m.runFolder;
    parent.send(m, then);
  };
  // Ctrl-C in a terminal reaches the whole process group (the parent decides; here it only means "stop"), and a
  // SIGTERM or SIGHUP sent to this process stops the run the same way.
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) process.on(signal, () => control.stopBy(signal));
  let started = false;
  parent.onMessage((raw) => {
    if (!isParentMessage(raw)) return;
    if (raw.type === 'stop') {
      control.stopBy(raw.signal);
      return;
    }
    if (started) return;
    started = true;
    executeRun(raw, send, control).then(
      (outcome) => {
        process.exitCode = outcome.exitCode;
        // Dawn (WebGPU) may hold the event loop open: end once the outcome is out.
        send({ type: 'done', outcome }, () =>
          setTimeout(() => (outcome.exitCode === 129 && endAsHangup()) || exit(outcome.exitCode), 50),
        );
      },
      (error: unknown) => {
        process.stderr.write(`run host: ${String((error as Error)?.stack ?? error)}\n`);
        exit(1);
      },
    );
  });
  parent.onDisconnect(() => {
    // The parent is gone (killed, or its terminal closed): finish the current step, checkpoint and stop,
    // saying why in run.json.
    parentGone = true;
    control.stop(`stopped: the process that started the run (pid ${parentPid}) went away`, 129);
  });
  // An error no hook caught (plugin code in a timer or callback): say who was running, then end.
  const fatal = (error: unknown) => {
    const who = currentActivity();
    const reason = `${who ? `${who}: ` : ''}${(error as Error)?.message ?? String(error)}`;
    try {
      process.stderr.write(`run host: ${String((error as Error)?.stack ?? error)}\n`);
    } catch {
      // nobody to tell
    }
    if (parentGone && runFolder) {
      // No parent is left to record how this ended: record it here, in the words the parent would use.
      try {
        endRun(runFolder, { status: 'crashed', reason: `the run host exited with code 1: ${reason}`, exitCode: 1 });
      } catch {
        // the folder is gone or the disk is full: nothing more to do
      }
    }
    send({ type: 'exiting', reason }, () => exit(1));
    setTimeout(() => exit(1), 2000).unref();
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
