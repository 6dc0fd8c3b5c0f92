/** Process entry of the `dumbo` command: runs main() and exits with its code. */
import { endAsHangup } from '../host/process.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    // 129: a run stopped by SIGHUP, usually its terminal closing; see endAsHangup.
    if (code === 129 && endAsHangup()) return;
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`dumbo: internal error: ${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  },
);
