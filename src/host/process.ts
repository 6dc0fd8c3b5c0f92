/**
 * How the services start their helper processes (the run host, the worker): an injected launcher, so the
 * same service code runs under Electron (`utilityProcess.fork`, adapted by src/main) and under Node
 * (`child_process.fork`: `dumbo serve` and the tests, `nodeForkHost` below).
 *
 * Who may import it: src/host (the run-host client), src/services, src/cli, src/main (the types, to adapt
 * utilityProcess), tests. Imports Node only; never Electron.
 */

import { fork } from 'node:child_process';
import path from 'node:path';
import { isatty } from 'node:tty';
import { appRoot } from '../core/paths.js';

/** A forked helper process, as the services need it. */
export interface HostProcess {
  readonly pid?: number;
  /** Sends a JSON-serializable message to the child (ignored once it has exited). */
  send(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  /** `code` is null when a signal ended the process (then `signal` names it, where the platform says). */
  on(event: 'exit', listener: (code: number | null, signal?: string | null) => void): void;
  /** Ends the child at once (SIGKILL where there are signals). */
  kill(): void;
  /** The last lines the child wrote to stderr, when the launcher keeps them (for crash reports). */
  stderrTail?(): string;
}

/** Starts `entry` (an absolute path to a built .js file) as a child process. */
export type ForkHost = (entry: string, args?: string[]) => HostProcess;

/** The built entries of the two helper processes (dist/host/entry.js and dist/host/worker.js). */
export function defaultEntries(): { runHost: string; worker: string } {
  const dist = path.join(appRoot(), 'dist', 'host');
  return { runHost: path.join(dist, 'entry.js'), worker: path.join(dist, 'worker.js') };
}

const TAIL_BYTES = 8192;

/**
 * `child_process.fork` as a ForkHost. The child's stdout is ignored, its stderr kept (the last 8 KB) for the
 * exit reason of a crash; `echoStderr` also copies it to this process's stderr. `inherit` gives the child
 * this process's stdout and stderr instead (`dumbo run`: a plugin's progress bar needs the terminal).
 */
export function nodeForkHost(
  options: { echoStderr?: boolean; env?: NodeJS.ProcessEnv; inherit?: boolean } = {},
): ForkHost {
  return (entry, args = []) => {
    const child = fork(entry, args, {
      stdio: options.inherit ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
      env: options.env ?? process.env,
    });
    let tail = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (options.echoStderr) process.stderr.write(d);
      tail = (tail + d.toString()).slice(-TAIL_BYTES);
    });
    // A child that exits while a message is in flight makes send fail with EPIPE: the exit event reports it.
    child.on('error', () => {});
    return {
      get pid() {
        return child.pid;
      },
      send(message) {
        if (child.connected) child.send(message as object, (error) => void error);
      },
      on(event: 'message' | 'exit', listener: (...a: never[]) => void) {
        child.on(event, listener as (...a: unknown[]) => void);
      },
      kill() {
        child.kill('SIGKILL');
      },
      stderrTail: () => tail,
    } as HostProcess;
  };
}

/**
 * The line of a dead child's stderr that says most about why: the last error line (`Error: ...`,
 * `TypeError [CODE]: ...`), else the last line; at most 300 characters.
 */
export function crashLine(stderrTail: string): string {
  const lines = stderrTail
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const error = [...lines].reverse().find((l) => /^[\w.]*Error\b.*:/.test(l));
  return (error ?? lines[lines.length - 1] ?? '').slice(0, 300);
}

// Whether this process started with a terminal for its stdio: Node saved its settings then, to restore them
// at exit (read at load: once the terminal hangs up, isatty says false).
const startedOnTerminal = [0, 1, 2].some((fd) => isatty(fd));

/**
 * Ends this process the way a hangup does, when its terminal is gone: Node 20, exiting normally, restores the
 * terminal settings it saved, gets EIO from the closed terminal and aborts (SIGABRT, a core dump where they
 * are on). Dying of SIGHUP itself skips that, and a shell reports it as 129, the code a SIGHUP stop has.
 * Returns false (nothing done) where the process did not start on a terminal: exit normally then.
 */
export function endAsHangup(): boolean {
  if (!startedOnTerminal) return false;
  process.removeAllListeners('SIGHUP');
  process.kill(process.pid, 'SIGHUP');
  return true;
}
