/**
 * The run host's message protocol: what its parent (the CLI, `dumbo serve`, or Electron main) and the host
 * say to each other. Plain JSON-serializable objects, independent of Electron: the app forks the host with
 * `utilityProcess.fork`, the CLI and tests with `child_process.fork`; same messages on both.
 */

import type { LogRecord, RunStatus, TraceEntry, HookFailure, ErrorLocation } from '../core/index.js';

export interface StartRunRequest {
  type: 'start';
  configFile: string;
  /** The run folder itself (`--output`); default from the config's output_dir, else runs/<date>-<name>. */
  outputDir?: string;
  /** Working directory against which the default run folder is made. */
  cwd?: string;
  userPluginDir?: string;
}

export interface StopRunRequest {
  type: 'stop';
}

export type ParentMessage = StartRunRequest | StopRunRequest;

/** An error as data: what crosses a process boundary. */
export interface SerializedError {
  message: string;
  kind: 'config' | 'run' | 'stopped';
  location?: ErrorLocation;
  plugin?: string;
  hook?: string;
  stack?: string;
  /** Several config errors, each already formatted as `FILE:LINE:COL: message`. */
  lines: string[];
}

export interface RunOutcomeMessage {
  status: 'completed' | 'stopped' | 'failed';
  exitCode: number;
  runFolder?: string;
  error?: SerializedError;
  failures: HookFailure[];
  finalLoss?: number;
  steps?: number;
  /** A sample generated at the end of training, when the trainer made one. */
  sample?: string;
}

export type HostMessage =
  | { type: 'status'; status: RunStatus; runFolder?: string }
  | { type: 'log'; record: LogRecord }
  | { type: 'trace'; entry: TraceEntry }
  | {
      type: 'metrics';
      events: { name: string; value: number; step: number; timestamp: number; tags: Record<string, unknown> }[];
    }
  | { type: 'done'; outcome: RunOutcomeMessage };

export function isParentMessage(value: unknown): value is ParentMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (m.type === 'stop') return true;
  return (
    m.type === 'start' &&
    typeof m.configFile === 'string' &&
    (m.outputDir === undefined || typeof m.outputDir === 'string') &&
    (m.cwd === undefined || typeof m.cwd === 'string') &&
    (m.userPluginDir === undefined || typeof m.userPluginDir === 'string')
  );
}
