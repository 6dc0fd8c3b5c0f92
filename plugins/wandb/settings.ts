/**
 * Where a W&B run goes and with what key, read as wandb's own SDK reads them: the mode (the YAML's `mode`, else
 * `WANDB_MODE`, else online), the server (`WANDB_BASE_URL`), the web app (`WANDB_APP_URL`, else the server's
 * address without `api.`), and the API key (`WANDB_API_KEY`, else the netrc file's password for the server's
 * host and port). The key is never read from the YAML. Imported by index.ts and sync.ts.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type WandbMode = 'online' | 'offline' | 'disabled';

export const DEFAULT_BASE_URL = 'https://api.wandb.ai';

/** The environment the settings are read from (a parameter, so tests pass their own). */
export type Env = Readonly<Record<string, string | undefined>>;

/** wandb's spellings of each mode (`dryrun` is its old name for offline, `run` for online). */
const MODES: Record<string, WandbMode> = {
  online: 'online',
  run: 'online',
  offline: 'offline',
  dryrun: 'offline',
  disabled: 'disabled',
};

/** The mode: the YAML's, else `WANDB_MODE`'s, else online; an unknown `WANDB_MODE` is an error naming it. */
export function resolveMode(option: WandbMode | undefined, env: Env): WandbMode {
  if (option) return option;
  const fromEnv = env.WANDB_MODE?.trim().toLowerCase();
  if (!fromEnv) return 'online';
  const mode = MODES[fromEnv];
  if (!mode) {
    throw new Error(`WANDB_MODE=${env.WANDB_MODE} is not a mode: expected online, offline or disabled`);
  }
  return mode;
}

/** The server's address, without a trailing slash. */
export function baseUrl(env: Env): string {
  return (env.WANDB_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, '');
}

/** The web app's address: `WANDB_APP_URL`, else the server's with `://api.` made `://` (wandb/util.py app_url). */
export function appUrl(base: string, env: Env): string {
  const explicit = env.WANDB_APP_URL?.trim();
  if (explicit) return explicit.replace(/\/+$/, '');
  return base.replace('://api.', '://');
}

/** `{app}/{entity}/{project}/runs/{id}`, the run's page. */
export function runUrl(app: string, entity: string, project: string, runId: string): string {
  return `${app}/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(runId)}`;
}

/** The netrc file wandb reads: `NETRC`, else `~/.netrc`, else `~/_netrc` where only that one exists. */
export function netrcFile(env: Env, home = os.homedir()): string {
  if (env.NETRC) return env.NETRC;
  const dot = path.join(home, '.netrc');
  const underscore = path.join(home, '_netrc');
  return !existsSync(dot) && existsSync(underscore) ? underscore : dot;
}

/**
 * The password of `machine` in a netrc file's text (`default` when no machine entry matches). Tokens are
 * separated by white space; `#` starts a comment; `"..."` quotes a token; `macdef` bodies run to a blank line.
 */
export function netrcPassword(text: string, machine: string): string | undefined {
  const tokens = netrcTokens(text);
  let current: string | undefined;
  let byMachine: string | undefined;
  let byDefault: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === 'machine') current = tokens[++i];
    else if (token === 'default') current = '';
    else if (token === 'password' && current !== undefined) {
      const password = tokens[++i];
      if (current === machine) byMachine ??= password;
      else if (current === '') byDefault ??= password;
    }
  }
  return byMachine ?? byDefault;
}

function netrcTokens(text: string): string[] {
  const tokens: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l]!;
    const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
    for (let m = re.exec(line); m; m = re.exec(line)) {
      if (m[2]?.startsWith('#')) break;
      const token = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
      if (token === 'macdef') {
        // A macro's body is every following line up to an empty one: skip it.
        while (l + 1 < lines.length && lines[l + 1]!.trim() !== '') l++;
        break;
      }
      tokens.push(token);
    }
  }
  return tokens;
}

export interface ApiKey {
  key: string;
  /** Where it was found, for messages: `WANDB_API_KEY` or the netrc file. */
  source: string;
}

/** The API key for `base`: `WANDB_API_KEY`, else the netrc password of the server's `host[:port]`. */
export function findApiKey(base: string, env: Env, home?: string): ApiKey | undefined {
  const fromEnv = env.WANDB_API_KEY?.trim();
  if (fromEnv) return { key: fromEnv, source: 'WANDB_API_KEY' };
  const file = netrcFile(env, home);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const key = netrcPassword(text, new URL(base).host);
  return key ? { key, source: file } : undefined;
}

/** Where to put a key, for the messages that ask for one. */
export function whereKeysGo(base: string): string {
  return `set WANDB_API_KEY, or put it in ~/.netrc (or the file NETRC names) as the password of 'machine ${new URL(base).host}'`;
}

/** A new run id as wandb makes them: 8 characters of [a-z0-9] (wandb/sdk/lib/runid.py). */
export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 8 }, () => alphabet[randomInt(alphabet.length)]).join('');
}
