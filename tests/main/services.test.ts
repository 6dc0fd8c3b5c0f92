// The desktop app's service layer for real: the built dist/services loaded the way main loads it, with the
// helper processes forked through main's utility-process adapter. Only Electron's process primitive is
// stood in for, by child_process.fork behind the UtilityProcess surface (postMessage / 'message' / 'exit').
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utilityForkHost, type UtilityChild, type UtilityFork } from '../../src/main/fork-host.js';
import { appFiles, loadServices, unpackedEsbuild } from '../../src/main/services.js';
import type { Services } from '../../src/services/index.js';
import { repoRoot, tempDir } from '../helpers.js';

/** child_process.fork dressed as an Electron UtilityProcess; records the environment each child got. */
function nodeAsUtility(envs: Record<string, string>[]): UtilityFork {
  return (modulePath, args, options) => {
    envs.push(options.env);
    const child = fork(modulePath, args, { env: options.env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const utility = Object.assign(new EventEmitter(), {
      get pid() {
        return child.pid;
      },
      stderr: child.stderr,
      postMessage: (message: unknown) => {
        if (child.connected) child.send(message as object);
      },
      kill: () => child.kill(),
    });
    child.on('message', (m) => utility.emit('message', m));
    child.on('exit', (code) => utility.emit('exit', code ?? 1));
    child.on('error', () => {});
    return utility as unknown as UtilityChild;
  };
}

describe('main: the built services behind the desktop door', () => {
  let services: Services;
  const envs: Record<string, string>[] = [];

  beforeAll(async () => {
    const home = tempDir('dumbo-main-services-');
    // The settings file and the user plugin folder of this test, not the user's.
    process.env['XDG_CONFIG_HOME'] = path.join(home, 'config');
    process.env['DUMBO_PLUGIN_PATH'] = path.join(home, 'plugins');
    const fork = utilityForkHost(nodeAsUtility(envs), {
      env: { ...process.env, NODE_OPTIONS: '--require /nonexistent/injected.js' },
    });
    services = await loadServices({ appRoot: repoRoot, fork, cwd: home });
  });

  afterAll(async () => {
    await services?.dispose({ force: true });
  });

  it('finds the built services, run host and worker two folders above out/main', () => {
    const files = appFiles(repoRoot);
    for (const file of Object.values(files)) expect(existsSync(file), file).toBe(true);
  });

  it('answers calls from the built services', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    await expect(services.calls.version()).resolves.toBe(pkg.version);
    const examples = await services.calls.listExamples();
    expect(examples.map((e) => e.name)).toContain('quickstart');
  });

  it('runs plugin introspection in a forked worker whose environment has no NODE_OPTIONS', async () => {
    const { cards } = await services.calls.listPlugins();
    expect(cards.map((c) => c.folder)).toContain('transformers');
    expect(envs.length).toBeGreaterThan(0);
    for (const env of envs) expect(env['NODE_OPTIONS']).toBeUndefined();
  });

  it('says to build when dist/services is missing', async () => {
    const fork = utilityForkHost(nodeAsUtility([]));
    await expect(loadServices({ appRoot: tempDir(), fork, cwd: tempDir() })).rejects.toThrow(/npm run build/);
  });

  it('points a packaged app at the unpacked esbuild binary', () => {
    expect(unpackedEsbuild('/opt/Dumbo/resources', 'linux', 'x64')).toBe(
      path.join('/opt/Dumbo/resources/app.asar.unpacked/node_modules/@esbuild/linux-x64/bin/esbuild'),
    );
    expect(unpackedEsbuild('C:\\Dumbo\\resources', 'win32', 'x64')).toMatch(/@esbuild[\\/]win32-x64[\\/]esbuild\.exe$/);
  });
});
