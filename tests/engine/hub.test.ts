import { createServer, type Server } from 'node:http';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedSnapshot, downloadModel, listCachedModels, repoFolder } from '../../src/engine/hub.js';
import { tempDir } from '../helpers.js';

// A loopback server that answers like the hub: /{repo}/resolve/{revision}/{file}, with x-repo-commit and
// etags, and the weights (an LFS file) behind a redirect carrying x-linked-etag.
const COMMIT = 'a'.repeat(40);
const files: Record<string, string> = {
  'config.json': JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }),
  'tokenizer.json': '{"version":"1.0"}',
  'model.safetensors': 'WEIGHTS',
};
let server: Server;
let endpoint: string;
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url!);
    const m = /^\/org\/tiny\/resolve\/main\/(.+)$/.exec(req.url!);
    const cdn = /^\/cdn\/(.+)$/.exec(req.url!);
    if (cdn) {
      res.writeHead(200, { etag: '"cdn-etag"' });
      res.end(files[cdn[1]!]);
    } else if (m && m[1] === 'model.safetensors') {
      res.writeHead(302, { location: `/cdn/${m[1]}`, 'x-repo-commit': COMMIT, 'x-linked-etag': '"sha256-weights"' });
      res.end();
    } else if (m && files[m[1]!] !== undefined) {
      res.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"etag-${m[1]}"` });
      res.end(files[m[1]!]);
    } else {
      res.writeHead(404);
      res.end('Entry not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('hub downloads', () => {
  it('downloads into the Hugging Face cache layout: blobs, snapshots/<commit> links, refs/main', async () => {
    const cache = tempDir();
    const snap = await downloadModel('org/tiny', { endpoint, cacheDir: cache, allowDownload: true });
    const repo = repoFolder('org/tiny', cache);
    expect(repo).toBe(path.join(cache, 'models--org--tiny'));
    expect(snap).toBe(path.join(repo, 'snapshots', COMMIT));
    expect(readFileSync(path.join(repo, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    expect(lstatSync(path.join(snap, 'config.json')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(snap, 'model.safetensors'))).toBe(path.join('..', '..', 'blobs', 'sha256-weights'));
    expect(readFileSync(path.join(snap, 'model.safetensors'), 'utf8')).toBe('WEIGHTS');
    expect(readFileSync(path.join(repo, 'blobs', 'etag-config.json'), 'utf8')).toBe(files['config.json']);
    expect(existsSync(path.join(snap, 'tokenizer_config.json'))).toBe(false); // 404: optional
    expect(listCachedModels({ cacheDir: cache })).toEqual([{ repoId: 'org/tiny', snapshot: snap }]);
  });

  it('uses the cache without asking the server again', async () => {
    const cache = tempDir();
    await downloadModel('org/tiny', { endpoint, cacheDir: cache, allowDownload: true });
    const before = requests.length;
    expect(await downloadModel('org/tiny', { endpoint, cacheDir: cache })).toBe(
      cachedSnapshot('org/tiny', { cacheDir: cache }),
    );
    expect(requests.length).toBe(before);
  });

  it('honours HF_HOME and HF_ENDPOINT', async () => {
    const home = tempDir();
    const saved = {
      HF_HOME: process.env.HF_HOME,
      HF_ENDPOINT: process.env.HF_ENDPOINT,
      HF_HUB_CACHE: process.env.HF_HUB_CACHE,
    };
    process.env.HF_HOME = home;
    process.env.HF_ENDPOINT = endpoint;
    delete process.env.HF_HUB_CACHE;
    try {
      const snap = await downloadModel('org/tiny', { allowDownload: true });
      expect(snap.startsWith(path.join(home, 'hub', 'models--org--tiny'))).toBe(true);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('does not download unless allowed, and says how to allow it', async () => {
    const cache = tempDir();
    await expect(downloadModel('org/tiny', { endpoint, cacheDir: cache })).rejects.toThrow(
      `model 'org/tiny' is not in the Hugging Face cache (${cache}); set model.allow_download: true to download it, or give a local folder`,
    );
  });

  it('names a repo that has no config.json', async () => {
    await expect(downloadModel('org/missing', { endpoint, cacheDir: tempDir(), allowDownload: true })).rejects.toThrow(
      `${endpoint}/org/missing: no file config.json at revision main`,
    );
  });
});
