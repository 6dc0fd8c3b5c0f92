/**
 * Where things live on disk: the built-in plugins shipped with Dumbo and the user plugin folder. The user
 * folder matches Electron's `userData` for the app name "Dumbo", so the desktop app and the CLI share it.
 */

import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: two levels above this file in src/core and dist/core. */
export function appRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function builtinPluginDir(): string {
  return path.join(appRoot(), 'plugins');
}

/** The per-user application data folder for Dumbo (like Electron's `app.getPath('userData')`). */
export function userDataDir(): string {
  const home = os.homedir();
  if (process.platform === 'win32') {
    return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Dumbo');
  }
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Dumbo');
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'Dumbo');
}

/** The user plugin folder: an explicit choice (CLI flag), else `DUMBO_PLUGIN_PATH`, else under userData. */
export function userPluginDir(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.DUMBO_PLUGIN_PATH) return path.resolve(process.env.DUMBO_PLUGIN_PATH);
  return path.join(userDataDir(), 'plugins');
}

/** The URL of the SDK entry of the running app: `index.ts` when running from sources, else `index.js`. */
export function sdkEntryUrl(): URL {
  return sourceOrBuilt('./index');
}

/**
 * The URL of the training engine's entry (`dumbo/engine`), next to the SDK. Core does not import the
 * engine; it only tells plugins where it is.
 */
export function engineEntryUrl(): URL {
  return sourceOrBuilt('../engine/index');
}

function sourceOrBuilt(stem: string): URL {
  const here = import.meta.url;
  const ts = new URL(`${stem}.ts`, here);
  if (here.endsWith('.ts') && existsSync(fileURLToPath(ts))) return ts;
  return new URL(`${stem}.js`, here);
}

/** A path as a command line to copy shows it: in double quotes where it holds spaces or shell characters. */
export function shellArg(p: string): string {
  return /[\s"'$`\\]/.test(p) ? JSON.stringify(p) : p;
}
