/**
 * src/preload — the typed bridge.
 *
 * What lives here: `window.dumbo`, built from the call table in `src/shared/api.ts` and exposed to the page
 * through `contextBridge`. Each method forwards one call over IPC to main, which checks it and answers.
 * Nothing else: no logic, no Node access handed to the page.
 *
 * Who may import what: this file imports only `electron` (contextBridge, ipcRenderer) and `src/shared`.
 * Nothing imports it: it runs sandboxed before the page loads, bundled by electron-vite to
 * out/preload/index.cjs (a sandboxed preload cannot be an ES module). The renderer never imports preload
 * code; it sees `window.dumbo` through `src/renderer/src/env.d.ts`, typed by `DumboApi`.
 *
 * Without context isolation the page would share this script's scope, so we refuse to expose anything.
 */

import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, type CallArgs, type CallName, type CallResult, type DumboApi } from '../shared/api.js';

if (!process.contextIsolated) {
  throw new Error('Dumbo refuses to run without contextIsolation: window.dumbo is not exposed.');
}

/** Sends one call to main; the only place the untyped `invoke` result is given its type. */
function call<K extends CallName>(name: K, ...args: CallArgs<K>): Promise<CallResult<K>> {
  return ipcRenderer.invoke(CHANNELS[name], ...args) as Promise<CallResult<K>>;
}

const api: DumboApi = {
  version: () => call('version'),
};

contextBridge.exposeInMainWorld('dumbo', api);
