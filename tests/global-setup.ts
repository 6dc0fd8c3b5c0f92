// The CLI tests run bin/dumbo.js, which runs dist/, and the end-to-end test serves out/renderer: build both
// once before any test, so they never test stale output.
import { execFileSync } from 'node:child_process';
import { build } from '../scripts/build.mjs';

export default async function setup(): Promise<void> {
  await build();
  execFileSync(process.execPath, ['scripts/electron-vite.mjs', 'build'], { stdio: 'ignore' });
}
