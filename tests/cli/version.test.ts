// `dumbo --version` answers without loading the engine: TensorFlow.js takes a while to load and a version
// needs none of it (main.ts once imported the run host for a constant, and with it the whole engine). The
// import rule cannot see this (the CLI may import the host), so the modules Node loads are checked here.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dumboBin } from '../helpers.js';

describe('dumbo --version', () => {
  it('prints the version without loading the engine, the run host or tfjs', () => {
    // NODE_DEBUG=esm: Node logs each ES module it loads (on stderr).
    const r = spawnSync(process.execPath, [dumboBin, '--version'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_DEBUG: 'esm' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dumbo \d+\.\d+\.\d+\n$/);
    const loaded = [...new Set(r.stderr.match(/file:\/\/[^\s'",]+/g) ?? [])];
    // The log does list modules (else the check below would pass on an empty list).
    expect(loaded.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
    expect(loaded.filter((url) => /\/dist\/engine\/|\/dist\/host\/run-host\.js|@tensorflow/.test(url))).toEqual([]);
  });
});
