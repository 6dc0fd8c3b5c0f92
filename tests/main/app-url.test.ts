import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appEntryUrl, fileForAppUrl, isAppUrl } from '../../src/main/app-url.js';

describe('main: which URLs are the app', () => {
  const entry = appEntryUrl(undefined);

  it('the built app is served from app://dumbo/', () => {
    expect(entry).toBe('app://dumbo/index.html');
    expect(isAppUrl('app://dumbo/assets/x.js', entry)).toBe(true);
  });

  it('refuses look-alike hosts, other schemes and credentials tricks', () => {
    expect(isAppUrl('app://dumbo.evil.com/index.html', entry)).toBe(false);
    expect(isAppUrl('file:///etc/passwd', entry)).toBe(false);
    expect(isAppUrl('javascript:alert(1)', entry)).toBe(false);
    const dev = appEntryUrl('http://localhost:5173');
    expect(isAppUrl('http://localhost:5173/src/main.ts', dev)).toBe(true);
    expect(isAppUrl('http://localhost:5173@evil.com/', dev)).toBe(false);
    expect(isAppUrl('http://localhost:5174/', dev)).toBe(false);
    expect(isAppUrl('not a url', dev)).toBe(false);
  });

  it('serves only files inside the renderer folder', () => {
    const root = path.resolve('/srv/renderer');
    expect(fileForAppUrl('app://dumbo/', root)).toBe(path.join(root, 'index.html'));
    expect(fileForAppUrl('app://dumbo/assets/a.js', root)).toBe(path.join(root, 'assets/a.js'));
    expect(fileForAppUrl('app://dumbo/../../etc/passwd', root)).toBe(path.join(root, 'etc/passwd'));
    expect(fileForAppUrl('app://dumbo/..%2f..%2fetc%2fpasswd', root)).toBeUndefined();
    expect(fileForAppUrl('app://dumbo/%E0%A4%A', root)).toBeUndefined();
    expect(fileForAppUrl('app://other/index.html', root)).toBeUndefined();
  });
});
