// `utilityProcess.fork` as the services' `ForkHost` (src/host/process.ts): the run host and the worker
// run in Electron utility processes, the way `dumbo serve` runs them with child_process.fork. Written
// against the members of Electron's UtilityProcess it uses (no `electron` import), so it is tested without
// Electron; index.ts passes the real `utilityProcess.fork`.
//
// After VS Code's UtilityProcess wrapper: dangerous environment variables are stripped before the fork,
// stderr lines are prefixed with the process's name and pid, and `kill()` ends the process at once.

import type { ForkHost, HostProcess } from '../host/process.js';

/** The part of Electron's UtilityProcess the adapter uses. */
export interface UtilityChild {
  readonly pid: number | undefined;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'spawn', listener: () => void): unknown;
}

/** The options of `utilityProcess.fork` the adapter sets. */
export interface UtilityForkOptions {
  env: Record<string, string>;
  stdio: ['ignore', 'ignore' | 'inherit', 'pipe'];
  serviceName: string;
}

export type UtilityFork = (modulePath: string, args: string[], options: UtilityForkOptions) => UtilityChild;

/**
 * Variables that would change what the child runs or how (code injected with --require/--import, Electron
 * acting as plain Node, a REPL module): the app decides that, not the environment it was started from.
 */
export const STRIPPED_ENV = ['NODE_OPTIONS', 'NODE_REPL_EXTERNAL_MODULE', 'ELECTRON_RUN_AS_NODE'] as const;

/** A copy of `env` without the stripped variables and without unset values. */
export function safeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !(STRIPPED_ENV as readonly string[]).includes(key.toUpperCase())) out[key] = value;
  }
  return out;
}

const TAIL_BYTES = 8192;

export interface UtilityForkHostOptions {
  /** Environment of the children (default process.env), stripped by `safeEnv`. */
  env?: NodeJS.ProcessEnv;
  /** Copies each stderr line, prefixed `[name pid]`, here (development: main's terminal). */
  echoStderr?: (line: string) => void;
  /** Kills a process at once; default SIGKILL on POSIX. Returns false when it could not. */
  killPid?: (pid: number) => boolean;
}

function sigkill(pid: number): boolean {
  if (process.platform === 'win32') return false; // no signals: UtilityProcess.kill() terminates it
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** The ForkHost of the desktop app: each `entry` (a built .js file) in its own utility process. */
export function utilityForkHost(fork: UtilityFork, options: UtilityForkHostOptions = {}): ForkHost {
  const killPid = options.killPid ?? sigkill;
  return (entry, args = []) => {
    const name = entry.replace(/^.*[\\/]/, '').replace(/\.[cm]?js$/, '');
    const child = fork(entry, args, {
      env: safeEnv(options.env ?? process.env),
      stdio: ['ignore', 'ignore', 'pipe'],
      serviceName: `dumbo ${name}`,
    });
    let tail = '';
    let partial = '';
    let exited = false;
    let killed = false;
    child.stderr?.on('data', (chunk: Buffer | string) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-TAIL_BYTES);
      if (!options.echoStderr) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.echoStderr(`[${name} ${child.pid ?? '?'}] ${line}`);
    });
    child.on('exit', () => {
      exited = true;
    });
    const host: HostProcess = {
      get pid() {
        return child.pid;
      },
      send(message) {
        if (exited) return;
        try {
          child.postMessage(message);
        } catch {
          // It exited while the message was on its way: the exit event reports that.
        }
      },
      on(event: 'message' | 'exit', listener: (...a: never[]) => void) {
        if (event === 'message') {
          child.on('message', listener as (message: unknown) => void);
        } else {
          // A utility process reports only a code; a kill of ours is reported as the signal it sent.
          const onExit = listener as (code: number | null, signal?: string | null) => void;
          child.on('exit', (code) => (killed ? onExit(null, 'SIGKILL') : onExit(code, null)));
        }
      },
      kill() {
        if (exited) return;
        killed = true;
        if (child.pid === undefined || !killPid(child.pid)) child.kill();
      },
      stderrTail: () => tail,
    } as HostProcess;
    return host;
  };
}
