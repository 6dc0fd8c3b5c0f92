/** Entry of `npm run bench` (bin/bench.js) and of the GPU pack's bench.mjs (scripts/gpu-pack.mjs). */
import { parseBenchArgs, runBench } from './index.js';

runBench(parseBenchArgs(process.argv.slice(2))).then(
  // Dawn's instance may keep the event loop alive: the benchmark is done, so is the process.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  },
);
