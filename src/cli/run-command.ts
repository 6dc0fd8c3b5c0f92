/**
 * `dumbo run CONFIG [--output DIR | --resume RUN_FOLDER]` and `dumbo resume RUN_FOLDER`: a run in a forked run
 * host (the run-host client of src/host, the same the app uses), with the terminal's signals relayed as
 * stop requests, progress lines when stderr is not a terminal, and the outcome reported as DESIGN.md section
 * 5 says (exit codes, the last line of a failure).
 *
 * Signals: the first Ctrl-C (SIGINT), SIGTERM or SIGHUP asks the run to finish its step, checkpoint and
 * stop; the process then exits with 128 + the signal's number (130, 143, 129). A second Ctrl-C kills the
 * run host at once.
 *
 * The run folder is remembered in the user's settings (the file the app and `dumbo serve` read), so that
 * their run history lists the CLI's runs wherever they went.
 */

import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { displayPath, DumboError } from '../core/index.js';
import { RunHostClient } from '../host/client.js';
import { defaultEntries, nodeForkHost } from '../host/process.js';
import { STOP_SIGNALS, type HostMessage, type StartRunRequest, type StopSignal } from '../host/protocol.js';
import { resumeRequest } from '../services/run-folders.js';
import { SettingsStore } from '../services/settings.js';
import { takeOverSignals } from './signals.js';
import { runFiles } from '../shared/run-files.js';

export interface RunCommandOptions {
  outputDir?: string;
  /** A run folder to continue (`--resume`). */
  resume?: string;
  userPluginDir?: string;
  verbose: boolean;
}

/** How a path is best shown in a command to type: relative to the working directory when inside it. */
function shown(p: string): string {
  const s = displayPath(p);
  return /\s/.test(s) ? JSON.stringify(s) : s;
}

function hasCheckpoint(runFolder: string): boolean {
  try {
    return readdirSync(runFiles(runFolder).checkpoints).some((n) => /^step-\d+$/.test(n));
  } catch {
    return false;
  }
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Progress for logs (CI, `nohup`): when stderr is not a terminal, one line every `every` steps or 10 s,
 * whichever comes first, and at the last step: step, loss, tokens/s, ETA.
 */
export class ProgressLines {
  private lastLine = 0;
  private firstStepAt?: number;
  private firstStep = 0;
  private loss?: number;
  private tokensPerS?: number;

  constructor(
    private readonly write: (line: string) => void,
    private readonly every: number = Number(process.env.DUMBO_PROGRESS_EVERY) || 0,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  onMessage(m: HostMessage): void {
    if (m.type === 'metrics') {
      for (const e of m.events) {
        if (e.name === 'loss') this.loss = e.value;
        if (e.name === 'tokens_per_s') this.tokensPerS = e.value;
      }
      return;
    }
    if (m.type !== 'step') return;
    const t = this.now();
    // Time is measured from the end of the first step seen: steps after it are what that time covers.
    if (this.firstStepAt === undefined) [this.firstStepAt, this.firstStep] = [t, m.step];
    const total = m.totalSteps;
    const every = this.every > 0 ? this.every : Math.max(1, Math.round((total ?? 100) / 20));
    const due = m.step === total || m.step % every === 0 || t - this.lastLine >= this.intervalMs;
    if (!due) return;
    this.lastLine = t;
    const perStep = (t - this.firstStepAt) / 1000 / Math.max(1, m.step - this.firstStep);
    const eta = total !== undefined && m.step > this.firstStep ? ` ETA ${duration((total - m.step) * perStep)}` : '';
    const loss = this.loss === undefined ? '' : ` loss ${this.loss.toFixed(4)}`;
    const rate =
      this.tokensPerS === undefined
        ? ''
        : ` ${this.tokensPerS.toLocaleString('en-US', { maximumFractionDigits: 1 })} tokens/s`;
    this.write(`step ${m.step}${total !== undefined ? `/${total}` : ''}${loss}${rate}${eta}`);
  }
}

/** Remembers a run folder in the settings for the app's history; a settings file that cannot be written only warns. */
function recordRunFolder(folder: string): void {
  try {
    new SettingsStore().recordRunFolder(folder);
  } catch (error) {
    process.stderr.write(`warning: the run history cannot remember ${folder}: ${(error as Error).message}\n`);
  }
}

/** Runs a config (or continues a run) in a forked run host and reports the outcome; returns the exit code. */
export async function runCommand(configFile: string | undefined, options: RunCommandOptions): Promise<number> {
  let request: StartRunRequest;
  if (configFile === undefined) {
    request = resumeRequest(options.resume!, process.cwd());
  } else {
    request = {
      type: 'start',
      configFile: path.resolve(configFile),
      outputDir: options.resume ?? options.outputDir,
      cwd: process.cwd(),
    };
    if (options.resume) {
      if (!existsSync(runFiles(path.resolve(options.resume)).record)) {
        throw new DumboError('--resume: not a run folder (no run.json)', { location: { file: options.resume } });
      }
      request.resumeFrom = 'latest';
    }
  }
  request.userPluginDir = options.userPluginDir;

  const progress = process.stderr.isTTY ? undefined : new ProgressLines((line) => process.stderr.write(line + '\n'));
  let recorded = false;
  const client = new RunHostClient(request, {
    fork: nodeForkHost({ inherit: true }),
    entry: defaultEntries().runHost,
    hookWatchMs: Number(process.env.DUMBO_HOOK_WATCH_MS) || undefined,
    onMessage: (m) => {
      if (m.type === 'status' && m.runFolder && !recorded) {
        recorded = true;
        recordRunFolder(m.runFolder);
      }
      progress?.onMessage(m);
    },
    onHung: (message) => process.stderr.write(`warning: ${message}\n`),
  });

  // A closed terminal (SIGHUP) makes writes to it fail (EIO) as an 'error' event: that must not end this
  // process before the run is stopped, checkpointed and recorded — there is only nobody left to tell.
  const ignore = () => {};
  for (const stream of [process.stdout, process.stderr]) stream.on('error', ignore);

  let interrupts = 0;
  const onSignal = (signal: StopSignal) => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(`\nstopping (${signal}): finishing the current step and saving (Ctrl-C again aborts)\n`);
      client.stop(signal);
    } else if (signal === 'SIGINT') {
      process.stderr.write('aborting\n');
      client.kill();
    }
  };
  // The only listener while the run goes: the settings' when-exit would echo each signal (signals.ts).
  const giveBack = takeOverSignals(Object.keys(STOP_SIGNALS) as StopSignal[], onSignal);
  const end = await client.ended;
  giveBack();

  const outcome = end.outcome;
  if (!outcome) {
    process.stderr.write(`${end.runFolder ?? configFile}: ${end.reason}\n`);
  } else {
    if (options.verbose && outcome.error?.stack) process.stderr.write(outcome.error.stack + '\n');
    if (outcome.failures.length > 0) {
      process.stderr.write(`${outcome.failures.length} observer hook call(s) failed; the run went on:\n`);
      for (const f of outcome.failures) process.stderr.write(`  ${f.plugin}.${f.hook}: ${f.error}\n`);
    }
    if (outcome.runFolder) {
      const loss = outcome.finalLoss === undefined ? '' : `, final loss ${outcome.finalLoss.toFixed(4)}`;
      const steps = outcome.steps === undefined ? '' : `, ${outcome.steps} steps`;
      process.stderr.write(`run ${outcome.status}${steps}${loss}; run folder: ${outcome.runFolder}\n`);
    }
    if (outcome.sample !== undefined) process.stderr.write(`sample: ${outcome.sample}\n`);
  }
  if (end.status === 'stopped' && end.runFolder && hasCheckpoint(end.runFolder)) {
    process.stderr.write(`to continue it: dumbo resume ${shown(end.runFolder)}\n`);
  }
  if (outcome?.error) for (const line of outcome.error.lines) process.stderr.write(line + '\n');
  return end.exitCode;
}
