// Which URLs are "the app", and which files the app:// protocol may serve. Pure functions, no Electron, so
// they can be unit-tested in Node. Compared by parsed protocol and host, never with `startsWith`
// (`app://dumbo.evil.com` and `http://localhost:5173@evil.com` start like ours).

import { isAbsolute, relative, resolve, sep } from 'node:path';

/** The custom scheme the built renderer is served from (file:// would make every local file "the app"). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'dumbo';

/** The URL the window loads: the dev server while developing, else the app:// protocol. */
export function appEntryUrl(devServerUrl: string | undefined): string {
  return devServerUrl ? new URL(devServerUrl).href : `${APP_SCHEME}://${APP_HOST}/index.html`;
}

/** Whether `url` belongs to the app that `entryUrl` starts (same protocol, host and port). */
export function isAppUrl(url: string, entryUrl: string): boolean {
  let candidate: URL;
  try {
    candidate = new URL(url);
  } catch {
    return false;
  }
  const entry = new URL(entryUrl);
  // URL.origin is "null" for non-special schemes like app://, so compare the parts.
  return candidate.protocol === entry.protocol && candidate.host === entry.host && candidate.username === '';
}

/**
 * The file under `root` that an app:// URL names, or undefined when the URL is not ours or escapes `root`
 * (`..`, encoded or not).
 */
export function fileForAppUrl(url: string, root: string): string | undefined {
  let pathname: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return undefined;
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return undefined; // not a URL, or a malformed %-escape
  }
  const file = resolve(root, '.' + (pathname === '/' ? '/index.html' : pathname));
  const rel = relative(root, file);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) return undefined;
  return file;
}
