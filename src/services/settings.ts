/**
 * The user's settings: one JSON file read and written with `conf` (electron-store is `conf` for Electron),
 * so the desktop app and `dumbo serve` share recent configs, the plugin folder and the default backend.
 * The file is `<userDataDir>/settings.json` (src/core/paths.ts), checked against a JSON Schema on every
 * write; conf reads it from disk on each access, so two processes see each other's changes.
 *
 * Who may import it: src/services only. Imports core (paths), conf and the shared API types.
 */

import path from 'node:path';
import Conf from 'conf';
import { userDataDir, userPluginDir } from '../core/paths.js';
import { BACKEND_CHOICES, type BackendChoice, type Settings } from '../shared/api.js';

const MAX_RECENT = 20;

type Stored = Settings & { externalRuns?: string[] };

const SCHEMA = {
  recentConfigs: { type: 'array', items: { type: 'string' }, maxItems: 50 },
  pluginFolder: { type: 'string', minLength: 1 },
  defaultBackend: { enum: [...BACKEND_CHOICES] },
  windowBounds: {
    type: 'object',
    properties: {
      x: { type: 'number' },
      y: { type: 'number' },
      width: { type: 'number' },
      height: { type: 'number' },
    },
    required: ['x', 'y', 'width', 'height'],
  },
  /** Run folders outside the runs folder that runs of this app went to (config output_dir). */
  externalRuns: { type: 'array', items: { type: 'string' }, maxItems: 200 },
} as const;

export interface SettingsStoreOptions {
  /** The folder of settings.json (default: userDataDir()). */
  cwd?: string;
  /** The plugin folder used when the settings name none (default: userPluginDir()). */
  defaultPluginFolder?: string;
}

export class SettingsStore {
  private readonly conf: Conf<Stored>;

  constructor(options: SettingsStoreOptions = {}) {
    this.conf = new Conf<Stored>({
      projectName: 'dumbo',
      configName: 'settings',
      cwd: options.cwd ?? userDataDir(),
      schema: SCHEMA as never,
      defaults: {
        recentConfigs: [],
        pluginFolder: options.defaultPluginFolder ?? userPluginDir(),
        defaultBackend: 'auto',
      } as Stored,
      // A file broken by hand is replaced by the defaults rather than keeping the app from starting.
      clearInvalidConfig: true,
    });
  }

  /** Where the file lives. */
  get path(): string {
    return this.conf.path;
  }

  get(): Settings {
    const s = this.conf.store;
    const out: Settings = {
      recentConfigs: [...(s.recentConfigs ?? [])],
      pluginFolder: s.pluginFolder,
      defaultBackend: s.defaultBackend ?? 'auto',
    };
    if (s.windowBounds) out.windowBounds = { ...s.windowBounds };
    return out;
  }

  update(patch: Partial<Settings>): Settings {
    const next: Partial<Stored> = {};
    if (patch.recentConfigs !== undefined) next.recentConfigs = patch.recentConfigs.slice(0, MAX_RECENT);
    if (patch.pluginFolder !== undefined) next.pluginFolder = path.resolve(patch.pluginFolder);
    if (patch.defaultBackend !== undefined) next.defaultBackend = patch.defaultBackend as BackendChoice;
    if (patch.windowBounds !== undefined) next.windowBounds = { ...patch.windowBounds };
    this.conf.set(next as Stored);
    return this.get();
  }

  /** Puts `file` first in the recent configs. */
  addRecent(file: string): void {
    const recent = (this.conf.get('recentConfigs') ?? []).filter((f) => f !== file);
    this.conf.set('recentConfigs', [file, ...recent].slice(0, MAX_RECENT));
  }

  externalRuns(): string[] {
    return [...(this.conf.get('externalRuns') ?? [])];
  }

  addExternalRun(folder: string): void {
    const list = this.externalRuns().filter((f) => f !== folder);
    this.conf.set('externalRuns', [folder, ...list].slice(0, 200));
  }
}
