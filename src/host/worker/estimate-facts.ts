/**
 * Asking a config's plugins what they own, through the `estimate` hook: the model loader the config.json it
 * would build, a formatter its longest sequence, the trainer its batch, sequence length and steps. The worker
 * reads no plugin's settings itself, so a third-party trainer that answers gets a right estimate.
 *
 * The pipe runs in two stages, the model's plugins first: the model's context length (computed here from its
 * config, as the engine would build it) is a fact the trainer's answer depends on.
 *
 * Runs only in the forked worker. May import core; imported by the task files of this folder.
 */

import { DumboError, type ActivePlugin, type EstimateFacts, type PreparedRun } from '../../core/index.js';
import { modelShape, type ModelShape } from '../estimate.js';
import { formattedDataset } from './formatted-dataset.js';
import { workerBus } from './shared.js';

/** The roles in the order the estimate asks them (a plugin with several roles is asked at its first). */
const MODEL_ROLES = ['model_loader', 'tokenizer_loader', 'model_patcher'];
const ROLES = [...MODEL_ROLES, 'dataset_loader', 'dataset_formatter', 'trainer'];

function roleIndex(p: ActivePlugin): number {
  const i = ROLES.findIndex((r) => p.meta.provides.includes(r));
  return i < 0 ? ROLES.length : i;
}

export interface AskedFacts {
  facts: EstimateFacts;
  /** The model's shape, when the model stage was asked and the loader answered. */
  shape?: ModelShape;
  /** The plugin providing the trainer, if any. */
  trainer?: ActivePlugin;
}

/**
 * The facts of `prepared`'s plugins. `model: false` skips the model stage (the dataset preview needs no
 * model); `rows` gives the training rows when they are already known, else `trainRows()` formats the data.
 */
export async function askEstimate(
  prepared: PreparedRun,
  options: { model?: boolean; rows?: number } = {},
): Promise<AskedFacts> {
  const { config } = prepared;
  const bus = workerBus(prepared);
  const plugins = bus.plugins;
  let rows: Promise<number> | undefined = options.rows === undefined ? undefined : Promise.resolve(options.rows);
  const trainRows = () => (rows ??= formattedDataset(prepared).then((d) => d.rows.length));
  const ordered = [...plugins].sort((a, b) => roleIndex(a) - roleIndex(b));
  const isModel = (p: ActivePlugin) => MODEL_ROLES.includes(ROLES[roleIndex(p)]!);
  const ask = (facts: EstimateFacts, stage: ActivePlugin[]) =>
    bus.pipe('estimate', facts, (p, f) => [f, config.section(p.meta.configKey)], stage);

  let facts: EstimateFacts = { trainRows };
  let shape: ModelShape | undefined;
  if (options.model !== false) {
    facts = await ask(facts, ordered.filter(isModel));
    if (facts.modelConfig) {
      shape = modelShape(facts.modelConfig);
      facts = { ...facts, maxPositions: shape.maxPositions };
    }
  }
  facts = await ask(
    facts,
    ordered.filter((p) => !isModel(p)),
  );
  return { facts, shape, trainer: plugins.find((p) => p.meta.provides.includes('trainer')) };
}

/** The trainer's answer, or the error that says which trainer gave none. */
export function trainerFacts(asked: AskedFacts): {
  batchSize: number;
  accumulation: number;
  seqLen: number;
  steps: number;
} {
  const { facts, trainer } = asked;
  if (!trainer) throw new DumboError('no plugin provides a trainer: this config does not train, nothing to estimate');
  const { batchSize, gradientAccumulation, seqLen, steps } = facts;
  if (batchSize === undefined || seqLen === undefined || steps === undefined) {
    throw new DumboError(
      `the trainer ${trainer.meta.name} does not answer the estimate hook (batchSize, seqLen, steps): ` +
        'its cost cannot be estimated',
    );
  }
  return { batchSize, accumulation: gradientAccumulation ?? 1, seqLen, steps };
}
