/**
 * Checkpoints: `checkpoints/step-N/` under the run folder, with the weights (model.safetensors), the
 * optimizer state (optimizer.safetensors), the trainer state (trainer_state.json: step, data position,
 * seed, evaluation history) and config.json. Each is written into a temporary folder that is renamed
 * into place, so a crash never leaves a half-written checkpoint that resume would trust.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../core/index.js';
import type { DataPosition } from './data.js';
import { writePeftAdapter } from './lora.js';
import { exportWeights, loadWeights, mergeParts, splitParts } from './models/index.js';
import type { CausalLM, HostTensor } from './models/types.js';
import type { AdamW } from './optim.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

/** The loop's state as a checkpoint keeps it (trainer_state.json). */
export interface TrainerCheckpointState {
  version: 1;
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  /** The next batch to read. */
  position: DataPosition;
  seed: number;
  bestEvalLoss?: number;
  /** Every evaluation so far (what callbacks such as early stopping read); absent in older checkpoints. */
  evaluations?: { step: number; loss: number }[];
  /** Loss of the last step, for the record. */
  loss?: number;
  /** When the checkpoint was written (ISO): a resumed run's trace is cut back to it. */
  savedAt?: string;
}

export interface CheckpointRef {
  step: number;
  dir: string;
}

export function checkpointsDir(runFolder: string): string {
  return path.join(runFolder, 'checkpoints');
}

/** Complete checkpoints of a run folder, oldest first (temporary folders are ignored). */
export function listCheckpoints(runFolder: string): CheckpointRef[] {
  const dir = checkpointsDir(runFolder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(dir, m[0]) }))
    .filter((c) => existsSync(path.join(c.dir, 'trainer_state.json')))
    .sort((a, b) => a.step - b.step);
}

/** Writes `checkpoints/step-N/` (weights and optimizer state under their whole-weight names, on every backend). */
export async function saveCheckpoint(
  runFolder: string,
  lm: CausalLM,
  optimizer: AdamW,
  state: TrainerCheckpointState,
): Promise<string> {
  const root = checkpointsDir(runFolder);
  mkdirSync(root, { recursive: true });
  const final = path.join(root, `step-${state.step}`);
  const tmp = path.join(root, `.tmp-step-${state.step}-${process.pid}`);
  const [weights, moments] = await Promise.all([exportWeights(lm), optimizer.exportState()]);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    writeSafetensors(path.join(tmp, 'model.safetensors'), weights, { format: 'pt' });
    // The adapter also in PEFT's files (model.safetensors keeps everything, for an exact resume).
    if (lm.lora) await writePeftAdapter(lm, tmp);
    writeSafetensors(path.join(tmp, 'optimizer.safetensors'), mergeParts(lm, moments), {
      format: 'dumbo-adamw',
      step: String(optimizer.stepCount),
    });
    writeFileAtomic(
      path.join(tmp, 'config.json'),
      JSON.stringify({ ...lm.config, architectures: [lm.architecture] }, null, 2) + '\n',
    );
    // Written last: its presence marks the checkpoint complete.
    writeFileAtomic(
      path.join(tmp, 'trainer_state.json'),
      JSON.stringify({ ...state, savedAt: new Date().toISOString() }, null, 2) + '\n',
    );
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  return final;
}

/**
 * Keeps the newest `keepLast` checkpoints (0 or less keeps all). Each old one is first renamed to a trash
 * name, then deleted: a kill mid-delete leaves `.trash-step-N` (cleaned at the next start), never a
 * `step-N` that looks complete but lost its weights.
 */
export function pruneCheckpoints(runFolder: string, keepLast: number): void {
  if (!(keepLast > 0)) return;
  const all = listCheckpoints(runFolder);
  for (const c of all.slice(0, Math.max(0, all.length - keepLast))) {
    const trash = path.join(path.dirname(c.dir), `.trash-${path.basename(c.dir)}-${process.pid}`);
    renameSync(c.dir, trash);
    rmSync(trash, { recursive: true, force: true });
  }
}

export interface LoadedCheckpoint {
  dir: string;
  state: TrainerCheckpointState;
  weights: Map<string, HostTensor>;
  optimizer: Map<string, HostTensor>;
  optimizerStep: number;
}

/** A checkpoint's trainer_state.json (its step, data position, when it was saved). */
export function readTrainerState(dir: string): TrainerCheckpointState {
  const stateFile = path.join(dir, 'trainer_state.json');
  if (!existsSync(stateFile)) throw new Error(`${dir} is not a complete checkpoint (no trainer_state.json)`);
  return JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerCheckpointState;
}

export async function readCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const state = readTrainerState(dir);
  const weights = (await readSafetensors(path.join(dir, 'model.safetensors'))).tensors;
  const opt = await readSafetensors(path.join(dir, 'optimizer.safetensors'));
  return { dir, state, weights, optimizer: opt.tensors, optimizerStep: Number(opt.metadata.step ?? state.step) };
}

/** Puts a checkpoint's weights and optimizer state into a live model and optimizer. */
export function restoreCheckpoint(ckpt: LoadedCheckpoint, lm: CausalLM, optimizer: AdamW): void {
  loadWeights(lm, ckpt.weights);
  optimizer.loadState(splitParts(lm, ckpt.optimizer), ckpt.optimizerStep);
}

/**
 * `resume_from: latest` is the newest checkpoint of the run folder; a path is a checkpoint folder or a run
 * folder (its newest checkpoint), relative to `baseDir`.
 */
export function resolveResume(resumeFrom: string, runFolder: string, baseDir: string): string {
  if (resumeFrom === 'latest') {
    const last = listCheckpoints(runFolder).at(-1);
    if (!last) throw new Error(`resume_from: latest, but ${checkpointsDir(runFolder)} holds no complete checkpoint`);
    return last.dir;
  }
  const p = path.resolve(baseDir, resumeFrom);
  if (existsSync(path.join(p, 'trainer_state.json'))) return p;
  const last = listCheckpoints(p).at(-1);
  if (last) return last.dir;
  throw new Error(`resume_from: ${p} is neither a checkpoint folder nor a run folder with checkpoints`);
}
