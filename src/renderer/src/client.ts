// The one typed client the UI talks to. In the desktop app it is the preload's `window.dumbo`; in a browser
// served by `dumbo serve` there is no bridge, and the HTTP/WebSocket client of that door plugs in here.
// Components import `client` and never look at `window.dumbo` themselves.

import type { DumboApi } from '../../shared/api.js';

const noBridge = (): Promise<never> =>
  Promise.reject(new Error('Not connected: this page has neither the desktop bridge nor a dumbo serve client.'));

export const client: DumboApi = window.dumbo ?? {
  version: noBridge,
};
