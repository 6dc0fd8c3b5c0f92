/**
 * The Generate form's fields as the `generate` call takes them: an empty or zero top-k and a top-p of 1 (or
 * empty) mean "no cut" and are left out; an empty seed means a new sample each time.
 */

import type { GenerateOptions } from '../../../shared/api.js';

/** What the form's number inputs hold: a number, or '' when the user cleared the field. */
export interface GenerateForm {
  maxNewTokens: number;
  temperature: number;
  topK: number | '';
  topP: number | '';
  seed: number | '';
}

export function generateOptions(form: GenerateForm): GenerateOptions {
  const options: GenerateOptions = { maxNewTokens: form.maxNewTokens, temperature: form.temperature };
  if (form.topK !== '' && form.topK > 0) options.topK = form.topK;
  if (form.topP !== '' && form.topP < 1) options.topP = form.topP;
  if (form.seed !== '') options.seed = form.seed;
  return options;
}
