/**
 * The trap of a model picked by its folder, checked beside the plugins' validation of the editor's text.
 *
 * Runs only in the forked worker (it reads the folder with the engine's rule for weights files); imported by
 * validate.ts.
 */

import path from 'node:path';
import { isScalar, LineCounter, parseDocument } from 'yaml';
import { hasSafetensorsWeights } from '../../engine/index.js';
import type { ConfigProblem } from '../../shared/api.js';

/**
 * The trap of a model picked by its folder: `model.init: from_config` builds a fresh model with random
 * weights, so a `base_model` folder of trained weights only lends its shape. Said at `init`'s line, so that
 * validation flags it before a run trains from scratch by mistake. `file`: the config's (relative paths).
 */
export function modelInitProblem(text: string, file: string): ConfigProblem | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) return undefined;
  const init = doc.getIn(['model', 'init'], true);
  const base = doc.getIn(['model', 'base_model']);
  if (!isScalar(init) || init.value !== 'from_config' || typeof base !== 'string' || !init.range) return undefined;
  if (!hasSafetensorsWeights(path.resolve(path.dirname(file), base))) return undefined;
  const { line, col } = lineCounter.linePos(init.range[0]);
  return {
    message:
      `model.init: from_config builds a new model with random weights, so the trained weights in ${base} ` +
      'would not be used: set init: pretrained to fine-tune them (model.config overrides do not apply then)',
    file,
    line,
    column: col,
  };
}
