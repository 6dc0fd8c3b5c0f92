// The CLI tests run bin/dumbo.js, which runs dist/: build it once before any test.
import { build } from '../scripts/build.mjs';

export default async function setup(): Promise<void> {
  await build();
}
