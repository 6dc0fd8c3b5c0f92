/**
 * Dumbo's version, which the run host records and its parents show, read without loading the engine.
 * Imported by run-host.ts, the CLI and src/services.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appRoot } from '../core/paths.js';

export function dumboVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
