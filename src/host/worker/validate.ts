/**
 * The worker's `validate` task: `dumbo validate` on the editor's text (which may not be saved), and with
 * `dataCheck` a dry run of the data path on the first rows.
 *
 * Runs only in the forked worker. May import core; imported by index.ts.
 */

import path from 'node:path';
import type { WorkerCalls } from '../protocol.js';
import { DRY_RUN_ROWS, formattedDataset } from './formatted-dataset.js';
import { modelInitProblem } from './model-init.js';
import { pluginCard, prepareText, toProblems, type LoadedSet } from './shared.js';

export async function validate(
  p: WorkerCalls['validate']['params'],
  loaded: LoadedSet,
): Promise<WorkerCalls['validate']['result']> {
  try {
    const prepared = await prepareText(p.text, p.path, p.userPluginDir, loaded);
    if (p.dataCheck && prepared.plugins.some((q) => q.meta.provides.includes('dataset_loader'))) {
      await formattedDataset(prepared, { dryRunRows: DRY_RUN_ROWS });
    }
    const names = prepared.config.data.plugins;
    // A model picked by its folder: flagged like the plugins' problems.
    const trap = modelInitProblem(p.text, p.path);
    return {
      valid: !trap,
      problems: trap ? [trap] : [],
      plugins: prepared.plugins.map((q) => pluginCard(q, path.basename(q.source.location), names)),
    };
  } catch (error) {
    return { valid: false, problems: toProblems(error), plugins: [] };
  }
}
