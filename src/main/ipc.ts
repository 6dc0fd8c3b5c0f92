// The desktop door of the service layer: one IPC handler per call of src/shared/api.ts, and the app's events
// pushed to the app's pages. Written against the few members of Electron's objects it uses (structural
// types, no `electron` import), so it runs in tests without Electron; index.ts passes the real ipcMain and
// webContents, and the compiler checks that they fit.

import { ARGS_VALID, CALL_NAMES, CHANNELS, EVENT_CHANNEL, type AppEvent, type CallFunctions } from '../shared/api.js';
import type { IpcReply } from '../shared/desktop.js';

/** A frame as an IPC event describes it (Electron's WebFrameMain). */
export interface FrameLike {
  readonly url: string;
  readonly parent: FrameLike | null;
}

/** What an invoke event tells about its sender (Electron's IpcMainInvokeEvent). */
export interface InvokeEventLike {
  readonly senderFrame: FrameLike | null;
  readonly sender: { readonly mainFrame: FrameLike };
}

/** The part of Electron's ipcMain the door uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

/** The part of Electron's WebContents that receives events. */
export interface EventReceiver {
  isDestroyed(): boolean;
  getURL(): string;
  send(channel: string, ...args: unknown[]): void;
}

/**
 * Whether an IPC event comes from the app itself: the main frame (not a subframe) of a page whose URL is
 * the app's (compared by parsed protocol and host in `isAppUrl`, never by prefix).
 */
export function isTrustedSender(event: InvokeEventLike, isAppUrl: (url: string) => boolean): boolean {
  const frame = event.senderFrame;
  return frame !== null && frame.parent === null && frame === event.sender.mainFrame && isAppUrl(frame.url);
}

/**
 * Registers the handler of every call: the sender must be the app (`isTrusted`) and the arguments must pass
 * the call's ARGS_VALID check, or nothing runs. Answers are `IpcReply`s (the preload turns an error back
 * into a rejected promise with the same message). Returns the function that removes the handlers.
 */
export function registerIpc(
  ipcMain: IpcMainLike,
  calls: CallFunctions,
  isTrusted: (event: InvokeEventLike) => boolean,
): () => void {
  for (const name of CALL_NAMES) {
    const channel = CHANNELS[name];
    const valid = ARGS_VALID[name] as (args: readonly unknown[]) => boolean;
    const call = calls[name] as (...args: unknown[]) => Promise<unknown>;
    ipcMain.handle(channel, async (event, ...args): Promise<IpcReply<unknown>> => {
      if (!isTrusted(event)) return { ok: false, error: `${channel}: refused, the sender is not the app` };
      if (!valid(args)) return { ok: false, error: `${channel}: refused, invalid arguments` };
      try {
        return { ok: true, result: await call(...args) };
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    });
  }
  return () => CALL_NAMES.forEach((name) => ipcMain.removeHandler(CHANNELS[name]));
}

/**
 * Sends every app event on EVENT_CHANNEL to the pages `targets()` lists that still show the app (a page
 * that is gone, or that is not an app URL, gets nothing). Returns the unsubscribe function.
 */
export function forwardEvents(
  onEvent: (listener: (event: AppEvent) => void) => () => void,
  targets: () => Iterable<EventReceiver>,
  isAppUrl: (url: string) => boolean,
): () => void {
  return onEvent((event) => {
    for (const target of targets()) {
      if (!target.isDestroyed() && isAppUrl(target.getURL())) target.send(EVENT_CHANNEL, event);
    }
  });
}
