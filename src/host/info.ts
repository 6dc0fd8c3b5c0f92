/**
 * Small facts about the run host that its parents need without loading the engine: Dumbo's version and the
 * name of the stop file a run host polls in its run folder. Imported by run-host.ts, the CLI and src/services.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appRoot } from '../core/paths.js';

/** A run stops (after its current step) when this file appears in its run folder. */
export const STOP_FILE = '.stop';

export function dumboVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
