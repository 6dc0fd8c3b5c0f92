/** Entry of the forked run host process (see run-host.ts). */
import { startHost } from './run-host.js';

if (!process.send) {
  process.stderr.write('the run host is started by dumbo (CLI or app), not directly\n');
  process.exit(2);
}
startHost();
