/**
 * What the worker process (../worker.ts) does for the app's services: everything that has to import plugin
 * code or run the engine outside a run, one file per task — the plugin catalog (catalog.ts), `dumbo validate`
 * on the editor's unsaved text (validate.ts), the cost estimate (estimate.ts), the dataset preview
 * (preview-dataset.ts), generation from a finished run (generate.ts) and the check of a plugin folder before
 * it is installed (check-plugin-folder.ts). Each task is a function of plain data returning plain data
 * (protocol.ts `WorkerCalls`); errors become `WorkerError`s with located config problems (shared.ts).
 *
 * Runs only in the forked worker (plugin code never runs in the app's own process). May import core and
 * engine; imported by worker.ts and by tests.
 */

import type { WorkerMethod } from '../protocol.js';
import { catalog } from './catalog.js';
import { checkPluginFolder } from './check-plugin-folder.js';
import { estimate } from './estimate.js';
import { generateText } from './generate.js';
import { previewDataset } from './preview-dataset.js';
import type { Task } from './shared.js';
import { validate } from './validate.js';

export { LoadedSet, pluginCard, toProblems, toWorkerError, type Task } from './shared.js';

export const WORKER_TASKS: { [M in WorkerMethod]: Task<M> } = {
  catalog,
  validate,
  estimate,
  previewDataset,
  generate: (p) => generateText(p),
  checkPluginFolder,
};
