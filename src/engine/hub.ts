/**
 * Hugging Face hub downloads into the standard cache layout, so files fetched by Dumbo are shared with the
 * Python ecosystem and the other way round:
 *   $HF_HUB_CACHE (default $HF_HOME/hub, default ~/.cache/huggingface/hub)
 *     models--{org}--{name}/blobs/{etag}            file contents
 *     models--{org}--{name}/snapshots/{commit}/{f}  links to blobs
 *     models--{org}--{name}/refs/{revision}         the commit a revision points to
 * Files come from $HF_ENDPOINT (default https://huggingface.co)/{repo}/resolve/{revision}/{file}. Only
 * when downloads are allowed; otherwise, and offline, the cache alone is used.
 */

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HubOptions {
  endpoint?: string;
  cacheDir?: string;
  revision?: string;
  token?: string;
  /** Downloading is allowed (config `allow_download`, and HF_HUB_OFFLINE not set). */
  allowDownload?: boolean;
  log?: (message: string) => void;
}

export function hubEndpoint(explicit?: string): string {
  return (explicit ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function hubCacheDir(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.HF_HUB_CACHE) return path.resolve(process.env.HF_HUB_CACHE);
  const home =
    process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

/** `org/name` (or `name`) as the hub spells a model repo id. */
export function isRepoId(value: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(value) && !value.includes('..');
}

export function repoFolder(repoId: string, cacheDir: string): string {
  return path.join(cacheDir, `models--${repoId.replace(/\//g, '--')}`);
}

/** The snapshot folder already in the cache for this revision, if it has a config.json. */
export function cachedSnapshot(repoId: string, options: HubOptions = {}): string | undefined {
  const folder = repoFolder(repoId, hubCacheDir(options.cacheDir));
  const revision = options.revision ?? 'main';
  const refFile = path.join(folder, 'refs', revision);
  const commit = existsSync(refFile) ? readFileSync(refFile, 'utf8').trim() : revision;
  const snap = path.join(folder, 'snapshots', commit);
  return existsSync(path.join(snap, 'config.json')) ? snap : undefined;
}

/** Models already in the cache: repo ids with the snapshot folders they have. */
export function listCachedModels(options: HubOptions = {}): { repoId: string; snapshot: string }[] {
  const cache = hubCacheDir(options.cacheDir);
  if (!existsSync(cache)) return [];
  return readdirSync(cache)
    .filter((n: string) => n.startsWith('models--'))
    .map((n) => n.slice('models--'.length).replace(/--/g, '/'))
    .map((repoId) => ({ repoId, snapshot: cachedSnapshot(repoId, options) }))
    .filter((m): m is { repoId: string; snapshot: string } => m.snapshot !== undefined);
}

const REQUIRED = ['config.json'];
const OPTIONAL = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export class HubError extends Error {}

interface Fetched {
  body: Buffer;
  etag: string;
  commit?: string;
}

async function fetchFile(url: string, options: HubOptions): Promise<Fetched | undefined> {
  const headers: Record<string, string> = { 'user-agent': 'dumbo-workbench' };
  if (options.token ?? process.env.HF_TOKEN) headers.authorization = `Bearer ${options.token ?? process.env.HF_TOKEN}`;
  let res = await fetch(url, { headers, redirect: 'manual' });
  // LFS files answer with a redirect to a CDN; the blob id and commit are on this first answer.
  const linkedEtag = res.headers.get('x-linked-etag');
  const commit = res.headers.get('x-repo-commit') ?? undefined;
  let etag = linkedEtag ?? res.headers.get('etag') ?? undefined;
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location');
    if (!location) throw new HubError(`${url}: redirect without a location`);
    res = await fetch(new URL(location, url), { headers: { 'user-agent': headers['user-agent']! } });
    etag ??= res.headers.get('etag') ?? undefined;
  }
  if (res.status === 404) return undefined;
  if (res.status === 401 || res.status === 403) {
    throw new HubError(`${url}: access denied (${res.status}); set HF_TOKEN for gated or private models`);
  }
  if (!res.ok) throw new HubError(`${url}: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const clean = (etag ?? '').replace(/^W\//, '').replace(/"/g, '');
  return { body, etag: clean || `sha-${body.length}-${Date.now()}`, commit };
}

/** Downloads a model repo's files into the cache (or finds them there) and returns the snapshot folder. */
export async function downloadModel(repoId: string, options: HubOptions = {}): Promise<string> {
  const cached = cachedSnapshot(repoId, options);
  if (cached) return cached;
  const offline = process.env.HF_HUB_OFFLINE === '1' || process.env.TRANSFORMERS_OFFLINE === '1';
  if (!options.allowDownload || offline) {
    throw new HubError(
      `model '${repoId}' is not in the Hugging Face cache (${hubCacheDir(options.cacheDir)})` +
        (offline
          ? ' and HF_HUB_OFFLINE is set'
          : '; set model.allow_download: true to download it, or give a local folder'),
    );
  }
  const endpoint = hubEndpoint(options.endpoint);
  const revision = options.revision ?? 'main';
  const folder = repoFolder(repoId, hubCacheDir(options.cacheDir));
  const log = options.log ?? (() => {});
  const got = new Map<string, Fetched>();
  const get = async (file: string, required: boolean) => {
    const f = await fetchFile(`${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`, options);
    if (!f && required) throw new HubError(`${endpoint}/${repoId}: no file ${file} at revision ${revision}`);
    if (f) {
      got.set(file, f);
      log(`downloaded ${repoId}/${file} (${(f.body.length / 1e6).toFixed(2)} MB)`);
    }
    return f;
  };
  for (const f of REQUIRED) await get(f, true);
  for (const f of OPTIONAL) await get(f, false);
  const index = await get('model.safetensors.index.json', false);
  if (index) {
    const map = (JSON.parse(index.body.toString('utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
    for (const shard of [...new Set(Object.values(map))].sort()) await get(shard, true);
  } else if (!(await get('model.safetensors', false))) {
    throw new HubError(
      `${endpoint}/${repoId}: neither model.safetensors nor model.safetensors.index.json (only safetensors weights are supported)`,
    );
  }
  const commit = got.get('config.json')!.commit ?? revision;
  const snapshot = path.join(folder, 'snapshots', commit);
  mkdirSync(path.join(folder, 'blobs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [file, f] of got) {
    const blob = path.join(folder, 'blobs', f.etag);
    if (!existsSync(blob)) {
      const tmp = `${blob}.incomplete`;
      writeFileSync(tmp, f.body);
      renameSync(tmp, blob);
    }
    const link = path.join(snapshot, file);
    mkdirSync(path.dirname(link), { recursive: true });
    rmSync(link, { force: true });
    try {
      symlinkSync(path.relative(path.dirname(link), blob), link);
    } catch {
      copyFileSync(blob, link); // no symlinks (Windows without developer mode): as huggingface_hub does
    }
  }
  mkdirSync(path.join(folder, 'refs'), { recursive: true });
  writeFileSync(path.join(folder, 'refs', revision), commit);
  return snapshot;
}
