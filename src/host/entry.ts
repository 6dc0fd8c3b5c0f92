/** Entry of the forked run host process (see run-host.ts). */
import { connectToParent } from './parent-port.js';
import { startHost } from './run-host.js';

const parent = connectToParent();
if (!parent) {
  process.stderr.write('the run host is started by dumbo (CLI or app), not directly\n');
  process.exit(2);
}
startHost(parent);
