/**
 * What a run reports and the app shows, as plain data: a model's description (`log_model`), one hook call
 * of the trace, and the backend choices. src/shared derives its view types from these (type-only), so this file imports nothing: the
 * renderer's type check (no Node types) takes in this file alone, not the rest of core.
 */

/** The values of the top-level `backend:` key (and of the app's default backend setting). */
export const BACKEND_CHOICES = ['auto', 'gpu', 'webgpu', 'native', 'native-cpu', 'cpu', 'wasm'] as const;
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

/**
 * Where a run's output can be seen outside the app: a TensorBoard folder, a W&B run page. A plugin publishes it
 * with `ctx.addLink`; run.json keeps it and the app's run panel links to it. Exactly one of `url` and `path`.
 */
export interface RunLink {
  /** What it is, as the panel labels it (`TensorBoard`, `W&B`): a later link with the same label replaces it. */
  label: string;
  /** A web page (http or https). */
  url?: string;
  /** A local file or folder, absolute. */
  path?: string;
  /** How to open it, shown beside it: `tensorboard --logdir runs/x/tensorboard`. */
  hint?: string;
}

/** `link` checked (a plugin's mistake is a TypeError naming the field), without unknown fields. */
export function checkRunLink(link: RunLink): RunLink {
  const bad = (why: string) => new TypeError(`addLink: ${why} (got ${JSON.stringify(link)})`);
  if (typeof link !== 'object' || link === null) throw bad('expects { label, url } or { label, path }');
  if (typeof link.label !== 'string' || link.label.trim() === '') throw bad('label must be a non-empty string');
  if ((link.url === undefined) === (link.path === undefined)) throw bad('give exactly one of url and path');
  if (link.url !== undefined && (typeof link.url !== 'string' || !/^https?:\/\/\S+$/.test(link.url))) {
    throw bad('url must be an http:// or https:// address');
  }
  if (link.path !== undefined && (typeof link.path !== 'string' || link.path === ''))
    throw bad('path must be a string');
  if (link.hint !== undefined && typeof link.hint !== 'string') throw bad('hint must be a string');
  const out: RunLink = { label: link.label };
  if (link.url !== undefined) out.url = link.url;
  if (link.path !== undefined) out.path = link.path;
  if (link.hint !== undefined) out.hint = link.hint;
  return out;
}

/** `links` with `link` added, replacing the one with the same label. */
export function withRunLink(links: readonly RunLink[] | undefined, link: RunLink): RunLink[] {
  return [...(links ?? []).filter((l) => l.label !== link.label), link];
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
