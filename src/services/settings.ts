/**
 * The user's settings: one JSON file read and written with `conf` (electron-store is `conf` for Electron),
 * so the desktop app, `dumbo serve` and `dumbo run` share recent configs, the plugin folder, the default
 * backend and where runs went (the run history lists runs from every runs folder the user has used).
 * The file is `<userDataDir>/settings.json` (src/core/paths.ts), checked against a JSON Schema on every
 * write; conf reads it from disk on each access, so two processes see each other's changes.
 *
 * Who may import it: src/services (and the CLI, recording its run folders). Imports core (paths), host/run-folder
 * (the default run folder's name), conf and the shared API types.
 */

import path from 'node:path';
import Conf from 'conf';
import { userDataDir, userPluginDir } from '../core/paths.js';
import { isDefaultRunFolderName } from '../host/run-folder.js';
import { BACKEND_CHOICES, type BackendChoice, type Settings } from '../shared/api.js';

const MAX_RECENT = 20;
/** Caps of the run places remembered: the oldest is forgotten first. */
const MAX_RUN_FOLDERS = 200;
const MAX_RUN_ROOTS = 20;

type Stored = Settings & { externalRuns?: string[]; runRoots?: string[] };

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
  /** Run folders of their own choosing (--output, output_dir) that runs of the app or the CLI went to. */
  externalRuns: { type: 'array', items: { type: 'string' }, maxItems: MAX_RUN_FOLDERS },
  /** The runs folders (`<cwd>/runs`) that runs of the app or the CLI went to by default. */
  runRoots: { type: 'array', items: { type: 'string' }, maxItems: MAX_RUN_ROOTS },
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

  /** Run folders of their own choosing, newest first. */
  runFolders(): string[] {
    return [...(this.conf.get('externalRuns') ?? [])];
  }

  /** Runs folders default run folders went to, newest first. */
  runRoots(): string[] {
    return [...(this.conf.get('runRoots') ?? [])];
  }

  /**
   * Remembers where a run went: a default run folder (`runs/<date>-<name>`) by its runs folder, which the
   * history lists whole; any other by itself. Most recent first, the oldest forgotten past the cap.
   */
  recordRunFolder(folder: string): void {
    const abs = path.resolve(folder);
    if (isDefaultRunFolderName(path.basename(abs))) {
      const root = path.dirname(abs);
      this.conf.set('runRoots', [root, ...this.runRoots().filter((f) => f !== root)].slice(0, MAX_RUN_ROOTS));
    } else {
      this.conf.set('externalRuns', [abs, ...this.runFolders().filter((f) => f !== abs)].slice(0, MAX_RUN_FOLDERS));
    }
  }

  /** Forgets a run folder of its own choosing (deleted). */
  forgetRunFolder(folder: string): void {
    const abs = path.resolve(folder);
    this.conf.set(
      'externalRuns',
      this.runFolders().filter((f) => f !== abs),
    );
  }
}
