/** Entry of the forked run host process (see run-host.ts). */
import { parentPort, startHost } from './run-host.js';

if (!process.send && !parentPort()) {
  process.stderr.write('the run host is started by dumbo (CLI or app), not directly\n');
  process.exit(2);
}
startHost();
