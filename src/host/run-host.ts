/**
 * The run host: the process that loads plugins and runs a config (DESIGN.md section 1). Forked by the CLI
 * (`child_process.fork`) and by the app (`utilityProcess.fork`); it speaks protocol.ts over the parent port.
 * A crashing plugin or an out-of-memory run kills this process, not its parent, which keeps the run folder.
 *
 * `executeRun` is the whole job and is also called in-process by tests.
 * May import core and engine; imported by the CLI and src/services (the app's and `dumbo serve`'s service
 * layer), which fork entry.ts.
 */

import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  addLogSink,
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
import { dumboVersion, STOP_FILE } from './info.js';
import {
  isParentMessage,
  type HostMessage,
  type RunOutcomeMessage,
  type SerializedError,
  type StartRunRequest,
} from './protocol.js';
import {
  chooseRunFolder,
  createRunFolder,
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
    prepared = await prepareRun(path.resolve(cwd, req.configFile), { userPluginDir: req.userPluginDir });
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
  const resuming = typeof config.data.resume_from === 'string';
  let runFolder: string;
  try {
    runFolder = chooseRunFolder({
      outputDir: req.outputDir,
      configOutputDir: config.data.output_dir as string | undefined,
      configDir: config.dir,
      cwd,
      runsDir: req.runsDir,
      name,
    });
    createRunFolder(runFolder, { resume: resuming });
    writeResolvedConfig(runFolder, config.data);
  } catch (error) {
    return fail(error);
  }

  const stopFile = path.join(runFolder, STOP_FILE);
  // A stop file left by an earlier run of this folder (killed before it could remove it) is not a request.
  rmSync(stopFile, { force: true });
  const stopRequested = () => control.stopFlag.value || existsSync(stopFile);
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

  const record: RunRecord = {
    name,
    status: 'running',
    configFile: path.resolve(cwd, req.configFile),
    runFolder,
    startedAt: new Date().toISOString(),
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
  if (resuming) record.resumeFrom = config.data.resume_from as string;
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
  for (const line of formatBackendReport(backend)) log.info(line);

  const outcome = await runLifecycle(prepared, {
    runFolder,
    stopRequested,
    logger: log,
    onTrace: (entry) => {
      traceFile.write(JSON.stringify(entry));
      send({ type: 'trace', entry });
    },
    onStep: (step) => send({ type: 'step', step: step.step, totalSteps: step.totalSteps }),
  });

  const exitCode = outcome.status === 'completed' ? 0 : outcome.status === 'stopped' ? 130 : exitCodeFor(outcome.error);
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
        ? 'stopped by the user'
        : formatError(outcome.error);
  record.finalLoss = outcome.summary?.finalLoss ?? lastLoss;
  record.steps = outcome.summary?.steps ?? lastStep;
  record.observerFailures = outcome.failures;
  setStatus(outcome.status);
  removeSink();
  for (const w of [logFile, traceFile, metricsFile]) w.close();
  rmSync(stopFile, { force: true });
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
  const control: RunControl = { stopFlag: { value: false } };
  const port = parentPort();
  const send = (m: HostMessage) => {
    if (port) port.postMessage(m);
    else if (process.send && process.connected) process.send(m);
  };
  // Ctrl-C in a terminal reaches the whole process group: the parent decides; here it only means "stop".
  process.on('SIGINT', () => {
    control.stopFlag.value = true;
  });
  let started = false;
  const onMessage = (raw: unknown) => {
    if (!isParentMessage(raw)) return;
    if (raw.type === 'stop') {
      control.stopFlag.value = true;
      return;
    }
    if (started) return;
    started = true;
    executeRun(raw, send, control).then(
      (outcome) => {
        process.exitCode = outcome.exitCode;
        if (port) {
          port.postMessage({ type: 'done', outcome } satisfies HostMessage);
          // The utility process has no disconnect: end once the message is out.
          setTimeout(() => process.exit(outcome.exitCode), 50);
        } else if (process.send && process.connected) {
          process.send({ type: 'done', outcome } satisfies HostMessage, () => process.disconnect());
        }
      },
      (error: unknown) => {
        process.stderr.write(`run host: ${String((error as Error)?.stack ?? error)}\n`);
        process.exit(1);
      },
    );
  };
  if (port) port.on('message', (e) => onMessage(e.data));
  else process.on('message', onMessage);
  process.on('disconnect', () => {
    // The parent is gone: finish the current step and stop, keeping the run folder consistent.
    control.stopFlag.value = true;
  });
}
