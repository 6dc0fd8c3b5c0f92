// Services on temporary folders (working directory, settings, plugin folder), with the real helper
// processes forked by child_process.fork from dist/ (built by tests/global-setup.ts), and the events they
// emit collected for the assertions.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createServices, nodeForkHost, type Services, type ServicesOptions } from '../../src/services/index.js';
import type { AppEvent } from '../../src/shared/api.js';
import { tempDir } from '../helpers.js';

export interface Harness {
  services: Services;
  events: AppEvent[];
  cwd: string;
  settingsDir: string;
  pluginFolder: string;
  /** Resolves with the first event (already seen from index `from` on, or to come) that matches. */
  waitFor(match: (e: AppEvent) => boolean, options?: { timeoutMs?: number; from?: number }): Promise<AppEvent>;
}

const all: Services[] = [];
afterAll(async () => {
  await Promise.all(all.map((s) => s.dispose({ force: true })));
});

export function harness(options: Partial<ServicesOptions> = {}): Harness {
  const root = tempDir('dumbo-services-');
  const cwd = path.join(root, 'work');
  const settingsDir = options.settingsDir ?? path.join(root, 'settings');
  const pluginFolder = path.join(root, 'plugins');
  mkdirSync(cwd, { recursive: true });
  const services = createServices({
    fork: nodeForkHost(),
    cwd,
    settingsDir,
    stopGraceMs: 30_000,
    flushMs: 100,
    ...options,
  });
  // The plugin folder comes from the settings (not an override), so that updateSettings can change it.
  if (!options.userPluginDir) void services.calls.updateSettings({ pluginFolder });
  all.push(services);
  const events: AppEvent[] = [];
  const waiters: { match: (e: AppEvent) => boolean; resolve: (e: AppEvent) => void }[] = [];
  services.onEvent((e) => {
    events.push(e);
    for (const w of [...waiters]) {
      if (w.match(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  const waitFor = (match: (e: AppEvent) => boolean, { timeoutMs = 20_000, from = 0 } = {}) => {
    const seen = events.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<AppEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  };
  return {
    services,
    events,
    cwd,
    settingsDir,
    pluginFolder: options.userPluginDir ?? pluginFolder,
    waitFor,
  };
}

/** The status events of one run, in order. */
export function statuses(events: AppEvent[], runId: string): string[] {
  return events.flatMap((e) => (e.type === 'run-status' && e.run.id === runId ? [e.run.status] : []));
}
