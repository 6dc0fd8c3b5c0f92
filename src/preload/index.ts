/**
 * src/preload — the typed bridge.
 *
 * What lives here: `window.dumbo` (every call of the call table in `src/shared/api.ts`, plus `onEvent`)
 * and `window.dumboDesktop` (what only the desktop window has: the path of a dropped file, the menu's
 * commands; `src/shared/desktop.ts`), exposed to the page through `contextBridge`. Each call is forwarded
 * over IPC to main, which checks it, runs it on the services and answers with an `IpcReply`; an error comes
 * back as a rejected promise with the service's own message. Nothing else: no logic, no Node access handed
 * to the page, and no Electron event object (it carries the sender) passed to page listeners.
 *
 * Who may import what: this file imports only `electron` (contextBridge, ipcRenderer, webUtils) and
 * `src/shared`. Nothing imports it: it runs sandboxed before the page loads, bundled by electron-vite to
 * out/preload/index.cjs (a sandboxed preload cannot be an ES module). The renderer never imports preload
 * code; it sees `window.dumbo` through `src/renderer/src/env.d.ts`, typed by `DumboApi` (and
 * `window.dumboDesktop` by `DumboDesktopApi`).
 *
 * Without context isolation the page would share this script's scope, so we refuse to expose anything.
 */

import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import {
  CALL_NAMES,
  CHANNELS,
  EVENT_CHANNEL,
  type AppEvent,
  type CallArgs,
  type CallFunctions,
  type CallName,
  type CallResult,
  type DumboApi,
} from '../shared/api.js';
import { MENU_CHANNEL, type DumboDesktopApi, type IpcReply, type MenuCommand } from '../shared/desktop.js';

if (!process.contextIsolated) {
  throw new Error('Dumbo refuses to run without contextIsolation: window.dumbo is not exposed.');
}

/** Sends one call to main; the only place the untyped `invoke` result is given its type. */
async function call<K extends CallName>(name: K, args: CallArgs<K>): Promise<CallResult<K>> {
  const reply = (await ipcRenderer.invoke(CHANNELS[name], ...args)) as IpcReply<CallResult<K>>;
  if (!reply.ok) throw new Error(reply.error);
  return reply.result;
}

/** Subscribes a page listener to one channel, passing only the payload; returns the unsubscribe function. */
function subscribe<T>(channel: string, listener: (payload: T) => void): () => void {
  if (typeof listener !== 'function') throw new TypeError('the listener must be a function');
  const handler = (_event: IpcRendererEvent, payload: T) => listener(payload);
  ipcRenderer.on(channel, handler);
  return () => {
    ipcRenderer.removeListener(channel, handler);
  };
}

const calls = Object.fromEntries(
  CALL_NAMES.map((name) => [name, (...args: never) => call(name, args)]),
) as CallFunctions;

const api: DumboApi = {
  ...calls,
  onEvent: (listener) => subscribe<AppEvent>(EVENT_CHANNEL, listener),
};

const desktop: DumboDesktopApi = {
  pathForFile: (file) => webUtils.getPathForFile(file),
  onMenuCommand: (listener) => subscribe<MenuCommand>(MENU_CHANNEL, listener),
};

contextBridge.exposeInMainWorld('dumbo', api);
contextBridge.exposeInMainWorld('dumboDesktop', desktop);
