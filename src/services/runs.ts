/**
 * The run manager: starts runs in forked run hosts (src/host/entry.ts, the same process the CLI runs),
 * follows them, stops them, and reads the history of every run from its folder.
 *
 * - Start: the host is forked and sent `start`; the call resolves once the host has made the run folder
 *   (the run's id is the folder's name under the runs folder), or rejects with the config's errors.
 * - Live stream: the host's metrics, log lines and trace rows are coalesced into one event of each kind per
 *   run at most every `flushMs` (a few per second); status changes and the model info go out at once. The
 *   run folder keeps every event (metrics.jsonl, log.txt, trace.jsonl), so a UI that reloads reads the
 *   history with `getRun` and continues with the events.
 * - Stop: status `stopping`, the host is asked (message and stop file) to finish its step, checkpoint and
 *   end; killed after max(30 s, 2 × step time), then recorded as `stopped`.
 * - A host that exits without saying `done` (out of memory, a crash) makes the run `crashed` in run.json,
 *   with the exit reason; the folder is kept. Forking, stopping, the hook watchdog and that last word on
 *   run.json are the run-host client's (src/host/client.ts), the same one the CLI uses.
 * - History: the run folders of every runs folder and run folder the app and the CLI used (run-folders.ts),
 *   read by run-history.ts. Resume continues one that stopped or crashed, also one this process did not
 *   start; Delete removes one's folder, never a live run's.
 *
 * Who may import it: src/services only. Imports core, host (protocol, run folder) and the shared API types.
 */

import { existsSync } from 'node:fs';
import path from 'node:path';
import { DumboError } from '../core/errors.js';
import { formatLogRecord } from '../core/logger.js';
import { checkRunLink, withRunLink, type RunLink } from '../core/records.js';
import { RunHostClient, writeStopFile, type RunEnded } from '../host/client.js';
import type { HostMessage, StartRunRequest } from '../host/protocol.js';
import { readRunRecord } from '../host/run-folder.js';
import { type ForkHost } from '../host/process.js';
import type {
  AppEvent,
  BackendChoice,
  MetricPoint,
  ModelInfoView,
  RunDetail,
  RunStatus,
  RunSummary,
  TraceRow,
} from '../shared/api.js';
import { savedConfigText } from './library.js';
import { ACTIVE, resumeRequest, RunFolders, type KnownRuns } from './run-folders.js';
import { modelView, readConfigText, readRunEvents, runDurationS, summaryFromRecord, traceRow } from './run-history.js';

/** The file an untitled config is taken to be, in the working folder: its run is named `untitled`. */
const UNTITLED_CONFIG = 'untitled.yaml';
/** The runs Resume continues: those that ended before their last step without completing or failing. */
const RESUMABLE: readonly RunStatus[] = ['stopped', 'crashed'];
/** How long Resume waits for the ended host of another process to let go of the run folder. */
const RELEASE_WAIT_MS = 10_000;

export interface RunManagerOptions {
  fork: ForkHost;
  hostEntry: string;
  /** Working directory of runs (relative config paths). */
  cwd: string;
  /** Where runs go by default and where the history is read from. */
  runsRoot: string;
  pluginFolder: () => string;
  defaultBackend: () => BackendChoice;
  emit: (event: AppEvent) => void;
  /** Where runs of this app and of the CLI went besides runsRoot (remembered in the settings). */
  knownRuns: KnownRuns;
  /** Least time a stopping run gets before it is killed (default 30 s). */
  stopGraceMs?: number;
  /** Coalescing window of the live stream (default 250 ms: at most 4 batches a second per run). */
  flushMs?: number;
  /** How long a host may take to load the plugins and make the run folder (default 120 s). */
  startTimeoutMs?: number;
  /** A hook call running longer than this is reported in the run's log (default 60 s). */
  hookWatchMs?: number;
}

interface LiveRun {
  id: string;
  client: RunHostClient;
  configFile: string;
  runFolder: string;
  name: string;
  status: RunStatus;
  startedAt: string;
  lastLoss?: number;
  lastStep?: number;
  modelInfo?: ModelInfoView;
  progress?: { step: number; totalSteps?: number };
  links?: RunLink[];
  buffer: { metrics: MetricPoint[]; log: string[]; trace: TraceRow[]; progress: boolean };
  flushTimer?: NodeJS.Timeout;
  exited: Promise<void>;
  markExited: () => void;
}

export class RunManager {
  private readonly live = new Map<string, LiveRun>();
  private readonly starting = new Set<RunHostClient>();
  /** Runs being resumed whose host has not yet said it started (a second Resume click waits for no one). */
  private readonly resuming = new Set<string>();
  private readonly stopGraceMs: number;
  private readonly flushMs: number;
  private readonly runsRoot: string;
  private readonly folders: RunFolders;

  constructor(private readonly o: RunManagerOptions) {
    this.stopGraceMs = o.stopGraceMs ?? 30_000;
    this.flushMs = o.flushMs ?? 250;
    this.folders = new RunFolders(o.runsRoot, o.knownRuns);
    this.runsRoot = this.folders.runsRoot;
  }

  // ----------------------------------------------------------------------------------------------- start

  async startRun(configPath: string, resume?: string): Promise<RunSummary> {
    if (resume !== undefined) return this.resumeRun(resume);
    const configFile = path.resolve(this.o.cwd, configPath);
    if (!existsSync(configFile)) {
      throw new DumboError('cannot read config: no such file', { location: { file: configFile } });
    }
    const request: StartRunRequest = {
      type: 'start',
      configFile,
      cwd: this.o.cwd,
      runsDir: this.runsRoot,
      userPluginDir: this.o.pluginFolder(),
      defaultBackend: this.o.defaultBackend(),
    };
    return this.launch(request, configFile);
  }

  /**
   * Runs a config's text (the editor's), without reading or writing its file: the run host loads the text as
   * if it were `configPath`'s (its name, its folder for relative paths, its errors' locations) and writes it to
   * the run folder as config.yaml. Without a path the config is untitled, in the working folder. run.json
   * says where the text came from when it is not the file as saved (`configSource`).
   */
  async runConfig(text: string, configPath?: string): Promise<RunSummary> {
    const configFile = path.resolve(this.o.cwd, configPath ?? UNTITLED_CONFIG);
    const saved = configPath === undefined ? undefined : savedConfigText(configFile);
    const request: StartRunRequest = {
      type: 'start',
      configFile,
      configText: text,
      cwd: this.o.cwd,
      runsDir: this.runsRoot,
      userPluginDir: this.o.pluginFolder(),
      defaultBackend: this.o.defaultBackend(),
    };
    if (saved !== text) request.configSource = saved === undefined ? 'untitled' : 'edited';
    return this.launch(request, configFile);
  }

  /**
   * Continues a stopped or crashed run from its latest checkpoint with its folder's config.yaml (paths relative
   * to its config, as `dumbo resume`): also a run this process did not start (the CLI's, one from before a restart).
   */
  async resumeRun(id: string): Promise<RunSummary> {
    const folder = this.folderOf(id);
    const running = this.live.get(id);
    if (running && ACTIVE.includes(running.status)) throw new DumboError(`run ${id} is still running`);
    // Its host has said how the run ended but may still be closing its files: one host per folder.
    if (this.resuming.has(id)) throw new DumboError(`run ${id} is being resumed already`);
    const request = resumeRequest(folder, this.o.cwd);
    const status = running?.status ?? this.folders.summary(id, folder)?.status;
    if (!status || !RESUMABLE.includes(status)) {
      throw new DumboError(`run ${id} is ${status}: only a stopped or crashed run can be resumed`);
    }
    this.resuming.add(id);
    try {
      // Its host (here, or the CLI's) has said how the run ended and lets go of the folder in a moment.
      await (running ? running.exited : this.folders.untilFree(id, folder, RELEASE_WAIT_MS));
    } catch (error) {
      this.resuming.delete(id);
      throw error;
    }
    const options = { userPluginDir: this.o.pluginFolder(), defaultBackend: this.o.defaultBackend() };
    return this.launch({ ...request, ...options, runsDir: this.runsRoot }, request.configFile, id);
  }

  /** Forks a run host for `request`; resolves once it has made (or opened) the run folder. */
  private launch(request: StartRunRequest, configFile: string, resume?: string): Promise<RunSummary> {
    return new Promise<RunSummary>((resolve, reject) => {
      let run: LiveRun | undefined;
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.starting.delete(client);
        if (resume !== undefined) this.resuming.delete(resume);
        f();
      };
      const client: RunHostClient = new RunHostClient(request, {
        fork: this.o.fork,
        entry: this.o.hostEntry,
        stopGraceMs: this.stopGraceMs,
        hookWatchMs: this.o.hookWatchMs,
        onMessage: (m: HostMessage) => {
          if (run) return this.onMessage(run, m);
          if (m.type === 'status' && m.runFolder) {
            run = this.register(client, m.runFolder, configFile);
            const started = run;
            this.onMessage(run, m); // `running`: every window learns of the new run
            settle(() => resolve(this.summaryOf(started)));
          } else if (m.type === 'done') {
            const lines = m.outcome.error?.lines ?? [`the run ${m.outcome.status} before it started`];
            settle(() => reject(new DumboError(lines.join('\n'), { kind: 'config' })));
          }
        },
        onHung: (message) => {
          if (!run) return;
          run.buffer.log.push(`${new Date().toISOString()} [dumbo] warning: ${message}`);
          this.flush(run);
        },
      });
      this.starting.add(client);
      const timeoutMs = this.o.startTimeoutMs ?? 120_000;
      const timer = setTimeout(
        () =>
          settle(() => {
            client.kill();
            reject(new DumboError(`the run host did not start the run within ${Math.round(timeoutMs / 1000)} s`));
          }),
        timeoutMs,
      );
      void client.ended.then((end) => {
        if (run) return this.onExit(run, end);
        settle(() =>
          reject(new DumboError(`${end.reason ?? 'the run host ended'} before the run started`, { kind: 'run' })),
        );
      });
    });
  }

  private register(client: RunHostClient, runFolder: string, configFile: string): LiveRun {
    const id = this.folders.idFor(runFolder);
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    const record = readRunRecord(runFolder);
    const run: LiveRun = {
      id,
      client,
      configFile,
      runFolder,
      name: record?.name ?? path.basename(runFolder),
      status: 'pending',
      startedAt: record?.startedAt ?? new Date().toISOString(),
      buffer: { metrics: [], log: [], trace: [], progress: false },
      exited,
      markExited,
    };
    this.live.set(id, run);
    this.folders.remember(runFolder);
    return run;
  }

  // -------------------------------------------------------------------------------------------- live stream

  private onMessage(run: LiveRun, m: HostMessage): void {
    switch (m.type) {
      case 'status':
        if (m.status === 'pending' || (m.status === 'running' && run.status === 'stopping')) return;
        if (m.status === run.status) return;
        this.setStatus(run, m.status);
        return;
      case 'log':
        run.buffer.log.push(`${new Date(m.record.time).toISOString()} ${formatLogRecord(m.record)}`);
        break;
      case 'trace':
        run.buffer.trace.push(traceRow(m.entry));
        break;
      case 'metrics':
        for (const e of m.events) {
          run.buffer.metrics.push({ name: e.name, value: e.value, step: e.step, timestamp: e.timestamp });
          if (e.name === 'loss') [run.lastLoss, run.lastStep] = [e.value, e.step];
        }
        break;
      case 'step':
        run.progress = m.totalSteps === undefined ? { step: m.step } : { step: m.step, totalSteps: m.totalSteps };
        run.buffer.progress = true;
        break;
      case 'model': {
        const info = modelView(m.info);
        if (info) {
          run.modelInfo = info;
          this.o.emit({ type: 'run-model', runId: run.id, info });
        }
        return;
      }
      case 'link':
        {
          const links = withRunLink(run.links, checkRunLink(m.link));
          run.links = links;
          this.o.emit({ type: 'run-links', runId: run.id, links });
        }
        return;
      case 'done':
      case 'hook':
      case 'exiting':
        return;
    }
    run.flushTimer ??= setTimeout(() => this.flush(run), this.flushMs);
  }

  private flush(run: LiveRun): void {
    if (run.flushTimer) clearTimeout(run.flushTimer);
    run.flushTimer = undefined;
    const b = run.buffer;
    if (b.metrics.length > 0) this.o.emit({ type: 'run-metrics', runId: run.id, points: b.metrics.splice(0) });
    if (b.log.length > 0) this.o.emit({ type: 'run-log', runId: run.id, lines: b.log.splice(0) });
    if (b.trace.length > 0) this.o.emit({ type: 'run-trace', runId: run.id, rows: b.trace.splice(0) });
    if (b.progress && run.progress) {
      b.progress = false;
      this.o.emit({ type: 'run-progress', runId: run.id, ...run.progress });
    }
  }

  private setStatus(run: LiveRun, status: RunStatus): void {
    this.flush(run);
    run.status = status;
    this.o.emit({ type: 'run-status', run: this.summaryOf(run) });
  }

  private onExit(run: LiveRun, end: RunEnded): void {
    this.flush(run);
    this.live.delete(run.id);
    if (!end.outcome) {
      run.status = end.status;
      this.o.emit({ type: 'run-status', run: this.summaryOf(run, readRunRecord(run.runFolder), end.reason) });
    } else if (ACTIVE.includes(run.status)) {
      run.status = end.outcome.status;
      this.o.emit({ type: 'run-status', run: this.summaryOf(run) });
    }
    run.markExited();
  }

  // ------------------------------------------------------------------------------------------------- stop

  stopRun(id: string): void {
    const run = this.live.get(id);
    if (run) {
      if (run.status === 'stopping') return;
      if (!ACTIVE.includes(run.status)) throw new DumboError(`run ${id} is not running (${run.status})`);
      this.setStatus(run, 'stopping');
      run.client.stop();
      return;
    }
    // A run of another process (the CLI, another window): its host polls the stop file.
    const folder = this.folderOf(id);
    const summary = this.folders.summary(id, folder);
    if (!summary || !ACTIVE.includes(summary.status)) {
      throw new DumboError(`run ${id} is not running (${summary?.status ?? 'no run.json'})`);
    }
    writeStopFile(folder);
  }

  /** Stops every live run and waits for their hosts to end (`force`: kills them at once). */
  async dispose(options: { force?: boolean } = {}): Promise<void> {
    for (const client of this.starting) client.kill();
    const runs = [...this.live.values()];
    for (const run of runs) {
      if (options.force) run.client.kill();
      else if (ACTIVE.includes(run.status)) this.stopRun(run.id);
    }
    await Promise.all(runs.map((r) => r.exited));
  }

  /** The runs still in progress in this process. */
  activeRuns(): RunSummary[] {
    return [...this.live.values()].filter((r) => ACTIVE.includes(r.status)).map((r) => this.summaryOf(r));
  }

  // ---------------------------------------------------------------------------------------------- history

  /** The folder of a run id, or a DumboError. */
  folderOf(id: string): string {
    const folder = this.live.get(id)?.runFolder ?? this.folders.find(id);
    if (!folder) throw new DumboError(`no run '${id}'`);
    return folder;
  }

  listRuns(): RunSummary[] {
    const out: RunSummary[] = [];
    const folders = this.folders.all();
    for (const run of this.live.values()) folders.set(run.id, run.runFolder);
    for (const [id, folder] of folders) {
      const live = this.live.get(id);
      const s = live ? this.summaryOf(live) : this.folders.summary(id, folder);
      if (s) out.push(s);
    }
    return out.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
  }

  getRun(id: string): RunDetail {
    const folder = this.folderOf(id);
    const live = this.live.get(id);
    const summary = live ? this.summaryOf(live) : this.folders.summary(id, folder);
    if (!summary) throw new DumboError(`no run '${id}': ${folder} holds no run.json`);
    const record = readRunRecord(folder);
    const detail: RunDetail = { summary, ...readRunEvents(folder) };
    const info = live?.modelInfo ?? modelView(record?.model);
    if (info) detail.modelInfo = info;
    const links = live?.links ?? record?.links;
    if (links?.length) detail.links = links;
    const config = readConfigText(folder);
    if (config !== undefined) detail.config = config;
    const progress = live?.progress ?? (summary.steps !== undefined ? { step: summary.steps } : undefined);
    if (progress) detail.progress = progress;
    return detail;
  }

  /** Deletes a run's folder with everything in it: never a live run's (run-folders.ts says which are). */
  deleteRun(id: string): void {
    const folder = this.folderOf(id);
    if (this.live.has(id) || this.resuming.has(id)) {
      throw new DumboError(`run ${id} is running: stop it before deleting it`);
    }
    this.folders.remove(id, folder);
  }

  /** The model folder a finished run saved (`final/`). */
  finalModel(id: string): string {
    return this.folders.finalModel(id, this.folderOf(id));
  }

  private summaryOf(run: LiveRun, record = readRunRecord(run.runFolder), exitReason?: string): RunSummary {
    const s = summaryFromRecord(run.id, run.runFolder, record);
    s.status = run.status;
    s.name = record?.name ?? run.name;
    s.configFile = record?.configFile ?? run.configFile;
    s.startedAt ??= run.startedAt;
    if (ACTIVE.includes(run.status)) {
      delete s.endedAt;
      delete s.exitReason;
      // A resumed run's earlier parts count; this one runs until now.
      s.durationS = runDurationS({ ...record, startedAt: s.startedAt, endedAt: undefined }, Date.now());
      if (run.lastLoss !== undefined) s.finalLoss = run.lastLoss;
      if (run.lastStep !== undefined) s.steps = run.lastStep;
    }
    if (exitReason !== undefined) s.exitReason = exitReason;
    return s;
  }
}
