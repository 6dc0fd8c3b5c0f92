/** Process entry of the `dumbo` command: runs main() and exits with its code. */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`dumbo: internal error: ${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  },
);
