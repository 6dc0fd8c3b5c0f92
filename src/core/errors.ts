/**
 * Errors a user sees. Each carries where it happened (file, 1-based line and column, plugin, hook) so that
 * one formatter prints every failure the same way: `FILE[:LINE:COL]: message`.
 */

export interface ErrorLocation {
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
}

export type ErrorKind =
  /** Bad command line, config or plugin resolution: exit code 2, the run never starts. */
  | 'config'
  /** Something failed while running: exit code 1. */
  | 'run'
  /** The user asked the run to stop: exit code 130. */
  | 'stopped';

export class DumboError extends Error {
  readonly kind: ErrorKind;
  readonly location: ErrorLocation;
  readonly plugin?: string;
  readonly hook?: string;

  constructor(
    message: string,
    options: {
      kind?: ErrorKind;
      location?: ErrorLocation;
      plugin?: string;
      hook?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DumboError';
    this.kind = options.kind ?? 'config';
    this.location = options.location ?? {};
    this.plugin = options.plugin;
    this.hook = options.hook;
  }
}

/** A config or usage error at a place in a file. */
export function configError(message: string, location: ErrorLocation = {}): DumboError {
  return new DumboError(message, { kind: 'config', location });
}

/** `FILE:LINE:COL` (or less, when less is known); empty when nothing is. */
export function formatLocation(location: ErrorLocation): string {
  if (!location.file) return '';
  let out = location.file;
  if (location.line !== undefined) {
    out += `:${location.line}`;
    if (location.column !== undefined) out += `:${location.column}`;
  }
  return out;
}

/** The one line a failing command prints last. */
export function formatError(error: unknown): string {
  if (error instanceof DumboError) {
    const where = formatLocation(error.location);
    return where ? `${where}: ${error.message}` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof DumboError) {
    if (error.kind === 'config') return 2;
    if (error.kind === 'stopped') return 130;
  }
  return 1;
}
