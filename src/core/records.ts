/**
 * What a run reports and the app shows, as plain data: a model's description (`log_model`), one hook call
 * of the trace, and the backend choices. src/shared derives its view types from these (type-only), so this file imports nothing: the
 * renderer's type check (no Node types) takes in this file alone, not the rest of core.
 */

/** The values of the top-level `backend:` key (and of the app's default backend setting). */
export const BACKEND_CHOICES = ['auto', 'gpu', 'webgpu', 'native', 'cpu', 'wasm'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** One tensor of a model, as `ModelInfo.tensors` lists it. */
export interface ModelTensorInfo {
  name: string;
  shape: number[];
  parameters: number;
  trainable: boolean;
}

/** What a model says about itself (`Model.info()`, passed to `log_model`). A plugin may add fields. */
export interface ModelInfo {
  architecture: string;
  layers?: number;
  parametersTotal?: number;
  parametersTrainable?: number;
  bytes?: number;
  dtype?: string;
  backend?: string;
  vocabSize?: number;
  /** The context length. */
  maxPositions?: number;
  tensors?: ModelTensorInfo[];
  tokenizer?: { vocabSize: number; specialTokens: Record<string, string> };
  [key: string]: unknown;
}

/** One hook call, as kept in the run's trace.jsonl and shown in the app's trace panel. */
export interface TraceEntry {
  hook: string;
  plugin: string;
  /** Milliseconds since the epoch when the call started. */
  start: number;
  durationMs: number;
  ok: boolean;
  error?: string;
}
