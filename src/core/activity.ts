/**
 * What plugin code is running now: `plugin probe, hook trainer` while the bus calls a hook, `loading plugin
 * ./probe` while the loader imports one. A process that runs plugin code (the run host, the worker) uses it
 * to say who did it when something ends the process — and `guardProcessExit` turns a plugin's
 * `process.exit()` into an error of that plugin instead of a process gone without a word.
 */

let current: string | undefined;

/** Runs `f` with `what` as the current activity (restored afterwards, also when `f` throws). */
export async function withActivity<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  const before = current;
  current = what;
  try {
    return await f();
  } finally {
    current = before;
  }
}

export function currentActivity(): string | undefined {
  return current;
}

/** Thrown instead of ending the process when plugin code calls `process.exit()` (see `guardProcessExit`). */
export class ProcessExitCalled extends Error {
  constructor(
    readonly code: number | undefined,
    readonly activity: string | undefined,
  ) {
    super(
      `${activity ? `${activity}: ` : ''}called process.exit(${code ?? ''}); a plugin must return Err(error) ` +
        'from its hook (or throw) instead of ending the process',
    );
    this.name = 'ProcessExitCalled';
  }
}

/**
 * Replaces `process.exit` with a function that throws `ProcessExitCalled` naming the current activity, so
 * that a plugin cannot end a run host or worker silently (the run fails with the plugin's name instead).
 * Returns the real `process.exit`, for the process's own, deliberate exit.
 */
export function guardProcessExit(): (code?: number) => never {
  const real = process.exit.bind(process) as (code?: number) => never;
  process.exit = ((code?: number | string | null) => {
    throw new ProcessExitCalled(typeof code === 'number' ? code : undefined, current);
  }) as typeof process.exit;
  return real;
}
