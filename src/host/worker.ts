/**
 * Entry of the forked worker process: a long-lived helper of the app's services (src/services) that loads
 * plugin code and runs the engine outside a run — catalog, validation, estimates, dataset previews,
 * generation (worker/, one file per task). Requests arrive as protocol.ts `WorkerRequest`s and are answered
 * by id, one at a time (plugins share process-wide state: the run context, the module loader). A plugin that
 * crashes or hangs this process costs only this process: the parent restarts it.
 *
 * Forked by src/services with `child_process.fork` (`dumbo serve`, tests) or `utilityProcess.fork`
 * (Electron). Nothing imports this file.
 */

import { guardProcessExit } from '../core/index.js';
import { connectToParent } from './parent-port.js';
import { isWorkerRequest, type WorkerReady, type WorkerResponse } from './protocol.js';
import { LoadedSet, toWorkerError, WORKER_TASKS } from './worker/index.js';

// Plugin code runs here: its process.exit() becomes an error naming the plugin (or the module being loaded).
const exit: (code?: number) => never = guardProcessExit();

const parent = connectToParent();
if (!parent) {
  process.stderr.write('the dumbo worker is started by the app or dumbo serve, not directly\n');
  exit(2);
}
const send = (message: WorkerResponse | WorkerReady) => parent.send(message);

// Ctrl-C in a terminal reaches the whole process group: the parent decides when this process ends.
process.on('SIGINT', () => {});
parent.onDisconnect(() => exit(0));
// A plugin's stray promise must not take the worker down with the request that is being served.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`dumbo worker: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`);
});

let queue: Promise<void> = Promise.resolve();

function onMessage(raw: unknown): void {
  if (!isWorkerRequest(raw)) return;
  queue = queue.then(async () => {
    const loaded = new LoadedSet();
    let response: WorkerResponse;
    try {
      const task = WORKER_TASKS[raw.method] as (p: unknown, l: LoadedSet) => Promise<unknown>;
      const result = await task(raw.params, loaded);
      response = { type: 'response', id: raw.id, ok: true, result, loaded: [...loaded.paths] };
    } catch (error) {
      response = { type: 'response', id: raw.id, ok: false, error: toWorkerError(error), loaded: [...loaded.paths] };
    }
    send(response);
  });
}

parent.onMessage(onMessage);
send({ type: 'ready' });
