/**
 * The parent's side of a run host (DESIGN.md section 1), one for every door: `dumbo run` (src/cli), and the
 * services behind `dumbo serve` and the desktop app (src/services/runs.ts). It forks the host, sends it the
 * run, passes its messages on, asks it to stop (a message and the stop file in the run folder, which a host
 * started by someone else polls) and kills it when it does not stop within max(grace, 2 × the last step's
 * time), says which hook of which plugin has not returned for a minute, and — when the host ends without
 * saying how the run ended (killed, crashed, out of memory) — ends the run's record itself, with `endRun`.
 *
 * May import core and host modules; imported by src/cli and src/services.
 */

import { writeFileSync } from 'node:fs';
import { getHookSpec } from '../core/index.js';
import { runFiles } from '../shared/run-files.js';
import { crashLine, type ForkHost, type HostProcess } from './process.js';
import {
  STOP_SIGNALS,
  type HostMessage,
  type RunOutcomeMessage,
  type StartRunRequest,
  type StopSignal,
} from './protocol.js';
import { endRun } from './run-folder.js';

export interface RunHostClientOptions {
  fork: ForkHost;
  /** The built run host entry (dist/host/entry.js). */
  entry: string;
  /** Least time a stopping run gets before it is killed (default 30 s). */
  stopGraceMs?: number;
  /** A hook call running longer than this is reported through `onHung` (default 60 s; again every period). */
  hookWatchMs?: number;
  onMessage?: (m: HostMessage) => void;
  /** `plugin X: hook log_metrics has not returned for 60 s`. */
  onHung?: (message: string) => void;
}

/** How a run ended, as its record now says. */
export interface RunEnded {
  /** The host's own account, when it gave one. */
  outcome?: RunOutcomeMessage;
  runFolder?: string;
  status: 'completed' | 'stopped' | 'failed' | 'crashed';
  exitCode: number;
  /** Why, in words, when it did not complete. */
  reason?: string;
  /** The host's exit: its code, or the signal that ended it. */
  code: number | null;
  signal: string | null;
  /** The host ended before it made the run folder (the run never started). */
  beforeStart: boolean;
}

export function exitHow(code: number | null, signal: string | null): string {
  return code === null ? `was killed${signal ? ` (${signal})` : ''}` : `exited with code ${code}`;
}

export class RunHostClient {
  readonly ended: Promise<RunEnded>;
  /** Set once the host has made (or chosen) the run folder. */
  runFolder?: string;
  stopRequested = false;
  private stopSignal?: StopSignal;
  private stepTimeS = 0;
  private killedAfterMs?: number;
  private killTimer?: NodeJS.Timeout;
  private outcome?: RunOutcomeMessage;
  private exitingReason?: string;
  private readonly calls = new Map<string, { timer: NodeJS.Timeout; start: number }>();
  private readonly proc: HostProcess;

  constructor(
    request: StartRunRequest,
    private readonly o: RunHostClientOptions,
  ) {
    this.proc = o.fork(o.entry);
    this.ended = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve(this.onExit(code, signal ?? null)));
    });
    this.proc.on('message', (raw: unknown) => this.onMessage(raw as HostMessage));
    this.proc.send(request);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Asks the run to finish its step, checkpoint and end; kills the host after the grace period. */
  stop(signal?: StopSignal): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.stopSignal = signal;
    this.proc.send(signal ? { type: 'stop', signal } : { type: 'stop' });
    if (this.runFolder) writeStopFile(this.runFolder, signal);
    const graceMs = Math.max(this.o.stopGraceMs ?? 30_000, 2 * this.stepTimeS * 1000);
    this.killTimer = setTimeout(() => {
      this.killedAfterMs = graceMs;
      this.proc.kill();
    }, graceMs);
  }

  /** Ends the host at once (a second Ctrl-C; closing the app with `force`). */
  kill(): void {
    this.stopRequested = true;
    this.proc.kill();
  }

  private onMessage(m: HostMessage): void {
    switch (m.type) {
      case 'status':
        if (m.runFolder && !this.runFolder) {
          this.runFolder = m.runFolder;
          if (this.stopRequested) writeStopFile(m.runFolder, this.stopSignal);
        }
        break;
      case 'metrics':
        for (const e of m.events) if (e.name === 'step_time_s') this.stepTimeS = e.value;
        break;
      case 'hook':
        this.watch(m);
        break;
      case 'trace':
        this.unwatch(m.entry.plugin, m.entry.hook);
        break;
      case 'exiting':
        this.exitingReason = m.reason;
        break;
      case 'done':
        this.outcome = m.outcome;
        break;
    }
    this.o.onMessage?.(m);
  }

  /**
   * A hook call started: if it has not returned within its watch period, say so (and again each period).
   * Observers (loggers, `finish`) get the period; loaders, patchers and formatters, whose real work on a big
   * model or dataset can take minutes, ten times it; `trainer` runs the whole training and is not watched.
   */
  private watch(call: { hook: string; plugin: string; start: number }): void {
    if (call.hook === 'trainer') return;
    const observer = getHookSpec(call.hook)?.mode === 'observe';
    const period = (this.o.hookWatchMs ?? 60_000) * (observer ? 1 : 10);
    const key = `${call.plugin}\0${call.hook}`;
    this.unwatch(call.plugin, call.hook);
    const arm = (): NodeJS.Timeout =>
      setTimeout(() => {
        const seconds = Math.round((Date.now() - call.start) / 1000);
        this.o.onHung?.(`plugin ${call.plugin}: hook ${call.hook} has not returned for ${seconds} s`);
        this.calls.set(key, { timer: arm(), start: call.start });
      }, period);
    this.calls.set(key, { timer: arm(), start: call.start });
  }

  private unwatch(plugin: string, hook: string): void {
    const key = `${plugin}\0${hook}`;
    const w = this.calls.get(key);
    if (w) clearTimeout(w.timer);
    this.calls.delete(key);
  }

  private onExit(code: number | null, signal: string | null): RunEnded {
    if (this.killTimer) clearTimeout(this.killTimer);
    for (const w of this.calls.values()) clearTimeout(w.timer);
    this.calls.clear();
    const stoppedCode = 128 + STOP_SIGNALS[this.stopSignal ?? 'SIGINT'];
    const base = { runFolder: this.runFolder, code, signal, beforeStart: !this.runFolder };
    if (this.outcome) {
      return {
        ...base,
        outcome: this.outcome,
        status: this.outcome.status,
        exitCode: this.outcome.exitCode,
        reason: this.outcome.error?.message,
      };
    }
    const how = `the run host ${exitHow(code, signal)}`;
    const tail = crashLine(this.proc.stderrTail?.() ?? '');
    const reason = this.stopRequested
      ? this.killedAfterMs !== undefined
        ? `${how} after a stop request: it did not stop within ${Math.round(this.killedAfterMs / 1000)} s`
        : `${how} after a stop request`
      : `${how}${this.exitingReason ? `: ${this.exitingReason}` : tail ? `: ${tail}` : ''}`;
    const status = this.stopRequested ? 'stopped' : 'crashed';
    const exitCode = this.stopRequested ? stoppedCode : 1;
    const record = this.runFolder ? endRun(this.runFolder, { status, reason, exitCode }) : undefined;
    const recorded = record?.status;
    return {
      ...base,
      status:
        recorded === 'completed' || recorded === 'failed' || recorded === 'stopped' || recorded === 'crashed'
          ? recorded
          : status,
      // A record the host ended before dying (its 'done' lost) keeps the host's code.
      exitCode: record?.exitCode ?? exitCode,
      reason: record?.exitReason ?? reason,
    };
  }
}

/** The stop file a host polls in its run folder (for hosts this process did not start, and as a backup). */
export function writeStopFile(folder: string, signal?: StopSignal): void {
  try {
    // The signal goes in the file too: a host that sees the file before the message records the same reason.
    writeFileSync(runFiles(folder).stop, JSON.stringify({ at: Date.now(), ...(signal ? { signal } : {}) }));
  } catch {
    // the stop message still reaches a host of ours
  }
}
