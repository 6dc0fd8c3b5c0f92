#!/usr/bin/env node
// The `dumbo` launcher. It runs dist/cli, rebuilding dist/ first when a source file changed since the last
// build (in a checkout, where src/ and esbuild are present), so `npx dumbo` always runs the current sources.
import { existsSync } from 'node:fs';

const srcDir = new URL('../src/', import.meta.url);
const entry = new URL('../dist/cli/index.js', import.meta.url);
if (existsSync(srcDir)) {
  const builder = await import('../scripts/build.mjs').catch(() => undefined);
  if (builder && builder.isStale()) await builder.build();
}
if (!existsSync(entry)) {
  process.stderr.write('dumbo: dist/ is missing; run `npm run build` (or `npm ci`) first\n');
  process.exit(1);
}
await import(entry.href);
