/**
 * The parent side of the worker process (src/host/worker.ts): requests by id, answers matched back, the
 * process started on first use and again after it dies. A request whose worker exits (a plugin called
 * process.exit, ran out of memory...) or that runs past its time limit is rejected with a clean message,
 * and the worker is restarted for the next one. The worker is also restarted when plugin files it has
 * imported change on disk, because Node's module cache would otherwise keep serving the old code.
 *
 * Who may import it: src/services and src/cli (validate, plugins). Imports core (errors), host (protocol
 * types and the process launcher) and node.
 */

import { DumboError } from '../core/errors.js';
import type { WorkerCalls, WorkerError, WorkerMethod, WorkerResponse } from '../host/protocol.js';
import type { ConfigProblem } from '../shared/api.js';
import { crashLine, type ForkHost, type HostProcess } from '../host/process.js';

/** A worker request that failed; `problems` carries located config errors when there are any. */
export class WorkerRequestError extends Error {
  constructor(
    message: string,
    readonly problems: ConfigProblem[] = [],
    /** The worker process ended (or was ended) before it answered. */
    readonly workerLost = false,
  ) {
    super(message);
    this.name = 'WorkerRequestError';
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  method: WorkerMethod;
}

export interface WorkerClientOptions {
  fork: ForkHost;
  entry: string;
  /** A name for messages ("plugin worker"). */
  name: string;
  /**
   * A fingerprint of the plugin files the worker has imported (paths it reported); when it changes between
   * requests the worker is restarted.
   */
  fingerprint?: (paths: readonly string[]) => string;
}

export class WorkerClient {
  private proc: HostProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private loaded = new Set<string>();
  private stamp = '';
  private disposed = false;

  constructor(private readonly options: WorkerClientOptions) {}

  /** Sends a request; resolves with its result or rejects with a WorkerRequestError. */
  request<M extends WorkerMethod>(
    method: M,
    params: WorkerCalls[M]['params'],
    timeoutMs = 120_000,
  ): Promise<WorkerCalls[M]['result']> {
    if (this.disposed) return Promise.reject(new DumboError(`the ${this.options.name} is shut down`));
    this.restartIfStale();
    const proc = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          `${method} took longer than ${Math.round(timeoutMs / 1000)} s (a plugin may hang): the ${this.options.name} was restarted`,
        );
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, method });
      proc.send({ type: 'request', id, method, params });
    });
  }

  /** Ends the worker process; later requests start a new one (unless disposed). */
  restart(): void {
    this.fail(`the ${this.options.name} was restarted`);
  }

  dispose(): void {
    this.disposed = true;
    this.fail(`the ${this.options.name} was shut down`);
  }

  private ensure(): HostProcess {
    if (this.proc) return this.proc;
    const proc = this.options.fork(this.options.entry);
    this.proc = proc;
    this.loaded = new Set();
    this.stamp = '';
    proc.on('message', (raw: unknown) => {
      if (proc !== this.proc) return;
      const m = raw as WorkerResponse;
      if (m?.type !== 'response') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.loaded.some((f) => !this.loaded.has(f))) {
        for (const f of m.loaded) this.loaded.add(f);
        this.stamp = this.options.fingerprint?.([...this.loaded]) ?? '';
      }
      if (m.ok) p.resolve(m.result);
      else p.reject(toError(m.error));
    });
    proc.on('exit', (code, signal) => {
      if (proc !== this.proc) return;
      this.proc = undefined;
      const how = code === null ? `was killed${signal ? ` (${signal})` : ''}` : `exited with code ${code}`;
      const tail = crashLine(proc.stderrTail?.() ?? '');
      this.rejectAll(
        (method) =>
          `the ${this.options.name} ${how} during ${method}${tail ? ` (${tail})` : ''}; ` +
          'a plugin may have ended the process. It restarts with the next request.',
      );
    });
    return proc;
  }

  private restartIfStale(): void {
    if (!this.proc || this.loaded.size === 0 || !this.options.fingerprint) return;
    if (this.pending.size > 0) return;
    if (this.options.fingerprint([...this.loaded]) !== this.stamp) this.fail('plugin files changed');
  }

  /** Rejects every pending request with `message` and kills the process. */
  private fail(message: string): void {
    const proc = this.proc;
    this.proc = undefined;
    this.rejectAll(() => message);
    proc?.kill();
  }

  private rejectAll(message: (method: WorkerMethod) => string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new WorkerRequestError(message(p.method), [], true));
    }
  }
}

function toError(e: WorkerError): WorkerRequestError {
  return new WorkerRequestError(e.message, e.problems ?? []);
}
