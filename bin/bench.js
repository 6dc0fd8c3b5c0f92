#!/usr/bin/env node
// `npm run bench [-- --quick]`: rebuilds dist/ if sources changed, then runs the benchmark (src/bench).
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/', import.meta.url))) {
  const builder = await import('../scripts/build.mjs');
  if (builder.isStale()) await builder.build();
}
await import(new URL('../dist/bench/main.js', import.meta.url).href);
