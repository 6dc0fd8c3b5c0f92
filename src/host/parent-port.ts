/**
 * The child's side of the two forked processes (the run host, the worker): one way to talk to the parent
 * under both launchers. Electron's utilityProcess gives the child `process.parentPort` (messages arrive as
 * `{ data }`); Node's `child_process.fork` gives `process.send` and `process.on('message')`.
 *
 * Imported by entry.ts, run-host.ts and worker.ts. Node only; never Electron (the port is found at runtime).
 */

/** `process.parentPort` in an Electron utility process. */
interface UtilityParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

export interface ParentPort {
  /** Sends a message; `then` runs once it is on its way, or at once when the parent is already gone. */
  send(message: unknown, then?: () => void): void;
  onMessage(listener: (message: unknown) => void): void;
  /** The parent went away (killed, or its terminal closed): the IPC channel is closed. */
  onDisconnect(listener: () => void): void;
}

/** This process's parent, or undefined when the process was started directly rather than forked. */
export function connectToParent(): ParentPort | undefined {
  const utility = (process as unknown as { parentPort?: UtilityParentPort }).parentPort;
  if (!utility && !process.send) return undefined;
  return {
    send(message, then) {
      if (utility) utility.postMessage(message);
      else if (process.send && process.connected) {
        // A parent that dies while a message is in flight makes send fail (EPIPE): that is `disconnect`'s news.
        process.send(message, undefined, {}, () => then?.());
        return;
      }
      then?.();
    },
    onMessage(listener) {
      if (utility) utility.on('message', (e) => listener(e.data));
      else process.on('message', listener);
    },
    onDisconnect(listener) {
      process.on('disconnect', listener);
    },
  };
}
