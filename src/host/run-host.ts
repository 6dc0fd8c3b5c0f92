/**
 * The run host: the process that loads plugins and runs a config (DESIGN.md section 1). Forked by the CLI
 * (`child_process.fork`) and by the app (`utilityProcess.fork`); it speaks protocol.ts over the parent port.
 * A crashing plugin or an out-of-memory run kills this process, not its parent, which keeps the run folder.
 *
 * `executeRun` is the whole job and is also called in-process by tests.
 * May import core and engine; imported by the CLI and src/services (the app's and `dumbo serve`'s service
 * layer), which fork entry.ts.
 */

import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
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
  prepareRun,
  runLifecycle,
  setRunContext,
  type MetricEvent,
  type ModelInfo,
  type RunStatus,
} from '../core/index.js';
import {
  backendDevice,
  formatBackendReport,
  initBackend,
  webgpuOptions,
  type BackendChoice,
  type BackendReport,
} from '../engine/backend.js';
import { readTrainerState, resolveResume } from '../engine/checkpoint.js';
import { dumboVersion, STOP_FILE } from './info.js';
import { endAsHangup } from './process.js';
import {
  isParentMessage,
  STOP_SIGNALS,
  type HostMessage,
  type RunOutcomeMessage,
  type SerializedError,
  type StartRunRequest,
  type StopSignal,
} from './protocol.js';
import {
  acquireRunLock,
  chooseRunFolder,
  createRunFolder,
  endRun,
  readRunRecord,
  recoverRunFolder,
  releaseRunLock,
  setAsideNewerCheckpoints,
  truncateForResume,
  JsonlMetricsCollector,
  LineWriter,
  pluginRecords,
  runName,
  writeResolvedConfig,
  writeRunRecord,
  type RunRecord,
} from './run-folder.js';

export { dumboVersion, STOP_FILE };

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

/** Sends each step's events to the parent, for the live view. */
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
}

export interface RunControl {
  /** Set when the parent asked to stop. */
  stopFlag: { value: boolean };
  /** Why it stops, for run.json (default `stopped by the user`), and the exit code (default 130). */
  stopReason?: string;
  stopExitCode?: number;
}

/** Loads, validates and runs a config, writing its run folder and streaming events to `send`. */
export async function executeRun(
  req: StartRunRequest,
  send: (m: HostMessage) => void,
  control: RunControl = { stopFlag: { value: false } },
): Promise<RunOutcomeMessage> {
  const log = getLogger('dumbo');
  const cwd = req.cwd ?? process.cwd();
  const fail = (error: unknown): RunOutcomeMessage => {
    const exitCode = exitCodeFor(error);
    return { status: exitCode === 130 ? 'stopped' : 'failed', exitCode, error: serializeError(error), failures: [] };
  };
  send({ type: 'status', status: 'pending' });

  let prepared;
  try {
    prepared = await prepareRun(path.resolve(cwd, req.configFile), {
      userPluginDir: req.userPluginDir,
      configDir: req.configDir,
    });
  } catch (error) {
    return fail(error);
  }
  const { config, plugins } = prepared;
  // The app continues a run without editing its config file: the request carries resume_from.
  if (req.resumeFrom !== undefined) config.data.resume_from = req.resumeFrom;
  const name = runName(config.file, config.data.name as string | undefined);
  const backendChoice = (config.data.backend ?? req.defaultBackend ?? 'auto') as BackendChoice;
  let backend: BackendReport;
  try {
    backend = await initBackend(backendChoice, { webgpu: webgpuOptions(config.data.webgpu) });
  } catch (error) {
    return fail(new DumboError((error as Error).message, { location: config.locate(['backend']) }));
  }
  const resumeFrom = config.data.resume_from as string | undefined;
  const resuming = typeof resumeFrom === 'string';
  let runFolder: string | undefined;
  let locked = false;
  // Said in the run's log once it has one: a lock taken over, leftovers cleaned, lines cut for a resume.
  const notes: string[] = [];
  let previous: RunRecord | undefined;
  let resumedAt: { checkpoint: string; step: number } | undefined;
  try {
    runFolder = chooseRunFolder({
      outputDir: req.outputDir,
      configOutputDir: config.data.output_dir as string | undefined,
      configDir: config.dir,
      cwd,
      runsDir: req.runsDir,
      name,
      resumeFrom,
    });
    createRunFolder(runFolder, { resume: resuming });
    const { takenOver } = acquireRunLock(runFolder);
    locked = true;
    if (takenOver) {
      notes.push(
        `took over the run folder from pid ${takenOver.pid} (started ${takenOver.startedAt}), which is no longer running`,
      );
    }
    notes.push(...recoverRunFolder(runFolder));
    if (resuming) {
      previous = readRunRecord(runFolder);
      // The trainer reads resume_from (a third-party trainer may keep checkpoints its own way): what the
      // host needs of it — which step the run continues after — only when it names an engine checkpoint.
      let checkpoint: string | undefined;
      try {
        checkpoint = resolveResume(resumeFrom!, runFolder, config.dir);
      } catch {
        checkpoint = undefined;
      }
      const state = checkpoint ? readTrainerState(checkpoint) : undefined;
      if (checkpoint && state) resumedAt = { checkpoint, step: state.step };
      if (checkpoint && state && path.dirname(path.dirname(checkpoint)) === runFolder) {
        const abandoned = setAsideNewerCheckpoints(runFolder, state.step);
        if (abandoned.length > 0) {
          notes.push(`continuing after step ${state.step}, an earlier checkpoint: set aside ${abandoned.join(', ')}`);
        }
        const savedAt =
          Date.parse(state.savedAt ?? '') || statSync(path.join(checkpoint, 'trainer_state.json')).mtimeMs;
        const removed = truncateForResume(runFolder, state.step, savedAt);
        if (removed > 0) {
          notes.push(
            `continuing after step ${state.step}: ${removed} metric and trace line(s) of the steps after it were removed (they run again)`,
          );
        }
      }
    }
    writeResolvedConfig(runFolder, config.data);
  } catch (error) {
    if (runFolder && locked) releaseRunLock(runFolder);
    return fail(error);
  }

  const stopFile = path.join(runFolder, STOP_FILE);
  // A stop file left by an earlier run of this folder (killed before it could remove it) is not a request.
  rmSync(stopFile, { force: true });
  // The stop file (written with the stop message, and by `dumbo serve` for hosts it did not start) may be
  // seen before the message is read: it says the same signal, so the record says the same reason either way.
  const stopRequested = () => {
    if (control.stopFlag.value) return true;
    if (!existsSync(stopFile)) return false;
    const signal = stopFileSignal(stopFile);
    control.stopFlag.value = true;
    control.stopReason = signal ? `stopped by ${signal}` : 'stopped by the user';
    control.stopExitCode = 128 + STOP_SIGNALS[signal ?? 'SIGINT'];
    return true;
  };
  const logFile = new LineWriter(path.join(runFolder, 'log.txt'));
  const traceFile = new LineWriter(path.join(runFolder, 'trace.jsonl'));
  const metricsFile = new LineWriter(path.join(runFolder, 'metrics.jsonl'));
  const removeSink = addLogSink((record) => {
    logFile.write(`${new Date(record.time).toISOString()} ${formatLogRecord(record)}`);
    send({ type: 'log', record });
  });
  const registry = getMetricsRegistry();
  registry.onCollectorError((c, call, error) =>
    log.warn(`metrics collector ${c.constructor.name}.${call} failed: ${String(error)}`),
  );
  registry.register(new JsonlMetricsCollector(metricsFile));
  registry.register(new ParentStreamCollector(send));
  // The last loss seen, for run.json and the summary.
  let lastLoss: number | undefined;
  let lastStep: number | undefined;
  registry.register(
    new (class extends MetricsCollector {
      logMetric(e: MetricEvent) {
        if (e.name === 'loss') [lastLoss, lastStep] = [e.value, e.step];
      }
    })(),
  );
  setRunContext({
    runFolder,
    configFile: path.resolve(cwd, req.configFile),
    seed: typeof config.data.seed === 'number' ? config.data.seed : 42,
  });

  const now = new Date().toISOString();
  const record: RunRecord = {
    name,
    status: 'running',
    // `dumbo resume` runs the folder's own config.yaml: the record keeps naming the file the run came from.
    configFile: previous?.configFile ?? path.resolve(cwd, req.configFile),
    runFolder,
    // A resumed run is the same run: its start stays, and each continuation is recorded.
    startedAt: previous?.startedAt ?? now,
    backend: backend.name,
    backendReason: backend.why,
    backendDevice: backendDevice(backend),
    adapter: backend.name === 'webgpu' ? (backend.adapter as unknown as Record<string, unknown>) : undefined,
    versions: {
      dumbo: dumboVersion(),
      node: process.version,
      tfjs: backend.tfjsVersion,
      plugins: pluginRecords(plugins),
    },
    observerFailures: [],
    pid: process.pid,
    host: os.hostname(),
  };
  if (resuming) {
    record.resumeFrom = resumeFrom;
    record.resumes = [...(previous?.resumes ?? []), { at: now, ...(resumedAt ?? { checkpoint: resumeFrom! }) }];
  }
  // log_model's info: kept in run.json (the app shows it for finished runs) and streamed to the parent.
  registry.register(
    new (class extends MetricsCollector {
      logMetric() {}
      logModelInfo(info: ModelInfo) {
        record.model = info;
        writeRunRecord(runFolder, record);
        send({ type: 'model', info });
      }
    })(),
  );
  const setStatus = (status: RunStatus) => {
    record.status = status;
    writeRunRecord(runFolder, record);
    send({ type: 'status', status, runFolder });
  };
  setStatus('running');
  log.info(`run folder: ${runFolder}`);
  for (const note of notes) log.warn(note);
  if (resumedAt) log.info(`resuming from ${resumedAt.checkpoint} (step ${resumedAt.step})`);
  for (const line of formatBackendReport(backend)) log.info(line);

  const outcome = await runLifecycle(prepared, {
    runFolder,
    stopRequested,
    logger: log,
    onTrace: (entry) => {
      traceFile.write(JSON.stringify(entry));
      send({ type: 'trace', entry });
    },
    onCallStart: (call) => send({ type: 'hook', ...call }),
    onStep: (step) => send({ type: 'step', step: step.step, totalSteps: step.totalSteps }),
  });

  const exitCode =
    outcome.status === 'completed'
      ? 0
      : outcome.status === 'stopped'
        ? (control.stopExitCode ?? 130)
        : exitCodeFor(outcome.error);
  if (outcome.failures.length > 0) {
    log.warn(
      `${outcome.failures.length} observer hook call(s) failed (the run went on): ` +
        outcome.failures.map((f) => `${f.plugin}.${f.hook}`).join(', '),
    );
  }
  record.endedAt = new Date().toISOString();
  record.exitCode = exitCode;
  record.exitReason =
    outcome.status === 'completed'
      ? 'completed'
      : outcome.status === 'stopped'
        ? (control.stopReason ?? 'stopped by the user')
        : formatError(outcome.error);
  record.finalLoss = outcome.summary?.finalLoss ?? lastLoss;
  record.steps = outcome.summary?.steps ?? lastStep;
  record.observerFailures = outcome.failures;
  try {
    setStatus(outcome.status);
  } catch (error) {
    // run.json could not be rewritten (a full disk): it keeps its last good content, and the run reports
    // the failure rather than an end the record does not show.
    log.error(formatError(error));
    removeSink();
    for (const w of [logFile, traceFile, metricsFile]) w.close();
    releaseRunLock(runFolder);
    return { ...fail(error), runFolder };
  }
  removeSink();
  for (const w of [logFile, traceFile, metricsFile]) w.close();
  rmSync(stopFile, { force: true });
  releaseRunLock(runFolder);
  return {
    status: outcome.status,
    exitCode,
    runFolder,
    error: outcome.error === undefined ? undefined : serializeError(outcome.error),
    failures: outcome.failures,
    finalLoss: record.finalLoss,
    steps: record.steps,
    sample: typeof outcome.summary?.sample === 'string' ? outcome.summary.sample : undefined,
  };
}

/** The signal a stop file names (`{"signal": "SIGTERM"}`), if any. */
function stopFileSignal(file: string): StopSignal | undefined {
  try {
    const signal = (JSON.parse(readFileSync(file, 'utf8')) as { signal?: unknown }).signal;
    return typeof signal === 'string' && Object.hasOwn(STOP_SIGNALS, signal) ? (signal as StopSignal) : undefined;
  } catch {
    return undefined; // an older host's timestamp, or being written: a plain stop
  }
}

/** Electron's utilityProcess gives the child `process.parentPort`; Node's fork gives `process.send`. */
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

export function parentPort(): ParentPort | undefined {
  return (process as unknown as { parentPort?: ParentPort }).parentPort;
}

/** Serves one run over the parent port (call once, in a forked process). */
export function startHost(): void {
  // Plugin code runs here: its process.exit() becomes an error naming the plugin (the run fails, saying so).
  const exit = guardProcessExit();
  const control: RunControl = { stopFlag: { value: false } };
  const port = parentPort();
  // Logs also go to log.txt: a terminal that closed under us (EIO) or a pipe nobody reads must not end the run.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  // Read now: once the parent is gone, process.ppid is whoever adopted this process (1, or a subreaper).
  const parentPid = process.ppid;
  let parentGone = false;
  let runFolder: string | undefined;
  const send = (m: HostMessage, then?: () => void) => {
    if (m.type === 'status' && m.runFolder) runFolder = m.runFolder;
    if (port) port.postMessage(m);
    else if (!parentGone && process.send && process.connected) {
      // A parent that dies while a message is in flight makes send fail (EPIPE): that is `disconnect`'s news.
      process.send(m, undefined, {}, () => then?.());
      return;
    }
    then?.();
  };
  const stop = (reason: string, exitCode: number) => {
    if (control.stopFlag.value) return;
    control.stopFlag.value = true;
    control.stopReason = reason;
    control.stopExitCode = exitCode;
  };
  // Ctrl-C in a terminal reaches the whole process group (the parent decides; here it only means "stop"), and a
  // SIGTERM or SIGHUP sent to this process stops the run the same way.
  for (const [signal, n] of Object.entries(STOP_SIGNALS)) {
    process.on(signal, () => stop(`stopped by ${signal}`, 128 + n));
  }
  let started = false;
  const onMessage = (raw: unknown) => {
    if (!isParentMessage(raw)) return;
    if (raw.type === 'stop') {
      stop(raw.signal ? `stopped by ${raw.signal}` : 'stopped by the user', 128 + STOP_SIGNALS[raw.signal ?? 'SIGINT']);
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
  };
  if (port) port.on('message', (e) => onMessage(e.data));
  else process.on('message', onMessage);
  process.on('disconnect', () => {
    // The parent is gone (killed, or its terminal closed): finish the current step, checkpoint and stop,
    // saying why in run.json.
    parentGone = true;
    stop(`stopped: the process that started the run (pid ${parentPid}) went away`, 129);
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
