/** Time left of a run, from how fast its steps went recently. */

export interface ProgressSample {
  /** Milliseconds (Date.now()). */
  at: number;
  step: number;
}

/** Keeps the samples of the last minute or so: a fresh rate follows a run that speeds up or slows down. */
export function addSample(samples: ProgressSample[], sample: ProgressSample, windowMs = 60_000): ProgressSample[] {
  const kept = samples.filter((s) => s.step <= sample.step && sample.at - s.at <= windowMs);
  return [...kept, sample];
}

/** Seconds left, or undefined until two samples with progress between them are known. */
export function secondsLeft(samples: readonly ProgressSample[], totalSteps: number | undefined): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || totalSteps === undefined || last.step <= first.step || last.at <= first.at) return undefined;
  const stepsPerMs = (last.step - first.step) / (last.at - first.at);
  return Math.max(0, (totalSteps - last.step) / stepsPerMs / 1000);
}
