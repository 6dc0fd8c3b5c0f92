/**
 * getLogger(name): named loggers whose records go to every sink (stderr by default; the run host adds the
 * run's log.txt and the stream to the app). Sinks live in shared state, so every SDK copy logs the same way.
 */

import { sharedState } from './shared.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  level: LogLevel;
  /** The logger's name: a plugin's name, `dumbo`, `engine`... */
  logger: string;
  message: string;
  /** Milliseconds since the epoch. */
  time: number;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  readonly name: string;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

interface LogState {
  sinks: { sink: LogSink; minLevel: LogLevel }[];
}

function state(): LogState {
  const shared = sharedState();
  if (!shared.logSinks) {
    shared.logSinks = [{ sink: stderrSink, minLevel: envLevel() }];
  }
  return { sinks: shared.logSinks as LogState['sinks'] };
}

function envLevel(): LogLevel {
  const v = process.env.DUMBO_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}

/** `[name] message` on stderr; warnings and errors say so. */
export function formatLogRecord(r: LogRecord): string {
  const prefix = r.level === 'warn' ? 'warning: ' : r.level === 'error' ? 'error: ' : '';
  return `[${r.logger}] ${prefix}${r.message}`;
}

const stderrSink: LogSink = (r) => {
  process.stderr.write(formatLogRecord(r) + '\n');
};

/** Adds a sink; returns the function that removes it. */
export function addLogSink(sink: LogSink, minLevel: LogLevel = 'debug'): () => void {
  const s = state().sinks;
  const entry = { sink, minLevel };
  s.push(entry);
  return () => {
    const i = s.indexOf(entry);
    if (i >= 0) s.splice(i, 1);
  };
}

/** Replaces the stderr sink's level, or removes it (`'off'`) when another sink prints instead. */
export function setConsoleLogLevel(level: LogLevel | 'off'): void {
  const s = state().sinks;
  const i = s.findIndex((e) => e.sink === stderrSink);
  if (i >= 0) s.splice(i, 1);
  if (level !== 'off') s.unshift({ sink: stderrSink, minLevel: level });
}

export function log(level: LogLevel, logger: string, message: string): void {
  const record: LogRecord = { level, logger, message, time: Date.now() };
  for (const { sink, minLevel } of state().sinks) {
    if (LEVELS[level] < LEVELS[minLevel]) continue;
    try {
      sink(record);
    } catch {
      // A broken sink must not break the run; the other sinks still get the record.
    }
  }
}

export function getLogger(name = 'dumbo'): Logger {
  return {
    name,
    debug: (m) => log('debug', name, m),
    info: (m) => log('info', name, m),
    warn: (m) => log('warn', name, m),
    error: (m) => log('error', name, m),
  };
}
