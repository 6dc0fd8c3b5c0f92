/**
 * W&B's public HTTP API, the calls its SDK makes for a run (wandb's internal_api.py, file_stream.py and
 * wandb-core's graphql files): GraphQL `UpsertBucket` (create or update the run) and `CreateRunFiles` (upload
 * addresses), the run's `file_stream` endpoint (history lines, summary, completion) and the PUT of a file to its
 * upload address. Every call is retried with exponential backoff and jitter on connection errors, timeouts, 429
 * and 5xx, never on answers that a retry cannot change (400, 401, 403, 404, 409, 410, 413, 422, 501, and a
 * GraphQL `errors` answer). Imported by stream.ts and sync.ts.
 */

export interface RetryPolicy {
  /** The first wait; each retry waits twice the one before, up to `maxMs`, plus up to 25 % jitter. */
  baseMs: number;
  maxMs: number;
  /** Retries after the first try; then the call fails. */
  retries: number;
}

/** wandb-core's GraphQL client: 2 s doubling to 60 s. Ten retries: about 6 minutes of trying. */
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 2000, maxMs: 60_000, retries: 10 };

const NO_RETRY = new Set([400, 401, 403, 404, 409, 410, 413, 422, 501]);

/** A call that failed for good: `status` is the HTTP status, absent for a network error or timeout. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  baseUrl: string;
  apiKey: string;
  retry?: RetryPolicy;
  /** How long one request may take. */
  timeoutMs?: number;
  /** Said before each wait, so the user knows why nothing moves (`file_stream: HTTP 503; retry in 4.2 s`). */
  onRetry?: (what: string, why: string, waitMs: number) => void;
  random?: () => number;
}

/** What UpsertBucket says of the run: its storage id and the entity and project it resolved. */
export interface Bucket {
  id: string;
  entity: string;
  project: string;
  displayName?: string;
}

export interface UpsertInput {
  /** The run's short id (the `name` of the bucket). */
  name: string;
  /** The storage id from an earlier upsert of the same run. */
  id?: string;
  project?: string;
  entity?: string;
  displayName?: string;
  tags?: string[];
  host?: string;
  /** JSON text of the config in W&B's backend format (`{key: {desc: null, value}}`). */
  config?: string;
}

// The text wandb's SDKs send (internal_api.py upsert_run, core/api/graphql/mutation_run.graphql), without
// the variables this plugin never sets.
const UPSERT_BUCKET = `mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String,
  $displayName: String, $config: JSONString, $host: String, $tags: [String!]) {
  upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity,
    displayName: $displayName, config: $config, host: $host, tags: $tags}) {
    bucket { id name displayName project { id name entity { id name } } }
    inserted
  }
}`;

const CREATE_RUN_FILES = `mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}`;

export class WandbApi {
  readonly baseUrl: string;
  private readonly auth: string;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: ApiOptions) {
    this.baseUrl = options.baseUrl;
    this.auth = 'Basic ' + Buffer.from(`api:${options.apiKey}`).toString('base64');
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  async upsertBucket(input: UpsertInput, signal?: AbortSignal): Promise<Bucket> {
    type Answer = { upsertBucket?: { bucket?: UpsertedBucket } };
    const data = await this.graphql<Answer>('UpsertBucket', UPSERT_BUCKET, { ...input }, signal);
    const b = data.upsertBucket?.bucket;
    if (!b?.project?.entity?.name || !b.project.name) throw new ApiError('UpsertBucket: the answer names no run');
    return {
      id: b.id,
      entity: b.project.entity.name,
      project: b.project.name,
      displayName: b.displayName ?? undefined,
    };
  }

  /** Upload addresses for files of a run's `files/`, and the headers each PUT must carry. */
  async createRunFiles(
    run: { entity: string; project: string; name: string },
    files: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ headers: Record<string, string>; urls: Map<string, string> }> {
    type Answer = { createRunFiles?: { uploadHeaders?: string[]; files?: { name: string; uploadUrl: string }[] } };
    const vars = { entity: run.entity, project: run.project, run: run.name, files };
    const data = await this.graphql<Answer>('CreateRunFiles', CREATE_RUN_FILES, vars, signal);
    const headers: Record<string, string> = {};
    // "Key:Value" strings, split at the first colon (wandb-core filetransfer/task_default.go).
    for (const h of data.createRunFiles?.uploadHeaders ?? []) {
      const colon = h.indexOf(':');
      if (colon > 0) headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
    }
    const urls = new Map((data.createRunFiles?.files ?? []).map((f) => [f.name, f.uploadUrl]));
    return { headers, urls };
  }

  /** PUTs a file to its upload address (a storage bucket: no W&B credentials go with it). */
  async upload(url: string, headers: Record<string, string>, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.send(
      `upload to ${new URL(url).host}`,
      url,
      { method: 'PUT', headers, body: Uint8Array.from(bytes) },
      signal,
    );
  }

  /** POSTs to the run's file_stream: `{files: {...}}` for history and summary, `{complete, exitcode}` at the end. */
  async fileStream(run: { entity: string; project: string; name: string }, body: object, signal?: AbortSignal) {
    const url = `${this.baseUrl}/files/${run.entity}/${run.project}/${run.name}/file_stream`;
    await this.send('file_stream', url, this.json(body), signal);
  }

  private async graphql<T>(operationName: string, query: string, variables: object, signal?: AbortSignal) {
    const init = this.json({ operationName, query, variables });
    const response = await this.send(operationName, `${this.baseUrl}/graphql`, init, signal);
    const answer = (await response.json()) as { data?: T; errors?: { message?: string }[] };
    if (answer.errors?.length) {
      throw new ApiError(`${operationName}: ${answer.errors.map((e) => e.message ?? 'an error').join('; ')}`);
    }
    if (!answer.data) throw new ApiError(`${operationName}: the answer has no data`);
    return answer.data;
  }

  private json(body: object): RequestInit {
    return {
      method: 'POST',
      headers: { Authorization: this.auth, 'Content-Type': 'application/json', 'User-Agent': 'dumbo-wandb/1.0' },
      body: JSON.stringify(body),
    };
  }

  /** One request, retried by the policy; resolves with the OK response. */
  private async send(what: string, url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let why: string;
      let retryAfterMs = 0;
      try {
        const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
        const response = await fetch(url, { ...init, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        if (response.ok) return response;
        const detail = (await response.text().catch(() => '')).slice(0, 200).trim();
        why = `HTTP ${response.status}${detail ? `: ${detail}` : ''}`;
        if (NO_RETRY.has(response.status)) throw new ApiError(`${what}: ${why}`, response.status);
        retryAfterMs = Number(response.headers.get('retry-after')) * 1000 || 0;
      } catch (error) {
        if (error instanceof ApiError || signal?.aborted) throw error;
        why = describeNetworkError(error);
      }
      if (attempt >= this.retry.retries) throw new ApiError(`${what}: ${why} (after ${attempt + 1} tries)`);
      const backoff = Math.min(this.retry.baseMs * 2 ** attempt, this.retry.maxMs);
      const wait = Math.min(
        Math.max(backoff * (1 + (this.options.random ?? Math.random)() * 0.25), retryAfterMs),
        this.retry.maxMs * 1.25,
      );
      this.options.onRetry?.(what, why, wait);
      await sleep(wait, signal);
    }
  }
}

interface UpsertedBucket {
  id: string;
  displayName?: string | null;
  project?: { name?: string; entity?: { name?: string } };
}

/** `connect ECONNREFUSED 127.0.0.1:9` rather than fetch's bare `fetch failed`. */
function describeNetworkError(error: unknown): string {
  const e = error as Error & { cause?: { message?: string; code?: string } };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  return e?.cause?.message ?? e?.message ?? String(error);
}

/**
 * Waits `ms`, or less if `signal` aborts (then rejects). `keepAlive: false` for an idle wait that must not keep
 * the process alive by itself; a retry's wait does (`dumbo wandb-sync` has nothing else running).
 */
export function sleep(ms: number, signal?: AbortSignal, keepAlive = true): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(done, ms);
    if (!keepAlive) timer.unref();
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
