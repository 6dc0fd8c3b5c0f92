/**
 * The files of a run folder (DESIGN.md section 5), named in one place: the run host writes them, the CLI and
 * the app's services read them, the trainer adds checkpoints/, samples.jsonl and final/.
 *
 * Who may import it: anyone. Pure string joining, no Node import: src/shared is also type-checked for the
 * renderer, which has no Node types.
 */

/** The names of a run folder's files and folders. */
export const RUN_FILE_NAMES = {
  /** The config as the run resolved it. */
  config: 'config.yaml',
  /** Status and reproducibility record. */
  record: 'run.json',
  /** One line per metric event. */
  metrics: 'metrics.jsonl',
  /** One line per hook call. */
  trace: 'trace.jsonl',
  /** The run's log lines. */
  log: 'log.txt',
  /** The text generated every `sample_every` steps. */
  samples: 'samples.jsonl',
  /** `step-N/` folders. */
  checkpoints: 'checkpoints',
  /** The trained model, a Hugging Face folder. */
  final: 'final',
  /** A run stops (after its current step) when this file appears. */
  stop: '.stop',
  /** The run host that owns the folder (pid and process start time). */
  lock: '.lock',
} as const;

export type RunFiles = { readonly [K in keyof typeof RUN_FILE_NAMES]: string };

/**
 * The paths of the files of the run folder `folder`. Joined as Node's `path.join` joins a normalized folder:
 * with the folder's own separator (`\` for a Windows path that has no `/`), never doubled.
 */
export function runFiles(folder: string): RunFiles {
  const sep = folder.includes('\\') && !folder.includes('/') ? '\\' : '/';
  const base = folder === '' || folder.endsWith(sep) ? folder : folder + sep;
  const out = {} as Record<keyof typeof RUN_FILE_NAMES, string>;
  for (const [key, name] of Object.entries(RUN_FILE_NAMES)) out[key as keyof typeof RUN_FILE_NAMES] = base + name;
  return out;
}
