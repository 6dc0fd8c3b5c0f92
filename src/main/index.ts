/**
 * src/main — the Electron main process.
 *
 * What lives here: the app's lifecycle and windows, the security policy every web page of the app runs
 * under, and the IPC handlers behind `window.dumbo`. Later: the plugin catalog, settings, the run manager
 * (which forks the run host in a utility process) and plugin install. Main never runs third-party plugin
 * code itself.
 *
 * Who may import what: this folder imports `src/shared` (the call table), `src/core` and `src/engine`, and
 * Electron. Nothing imports this folder; it is an entry point (built by electron-vite into out/main).
 * Keep Electron calls here thin: logic that both doors need (app and `dumbo serve`) lives in the service
 * layer, not here.
 *
 * Security (Electron's checklist): one instance; every renderer sandboxed with context isolation and no
 * Node; the built UI served from app:// (not file://) under a strict CSP; new windows denied; navigation
 * outside the app prevented; no permissions granted; every IPC call checked for its sender frame (the main
 * frame of an app page) and its arguments. The preload refuses to run without context isolation, and then
 * the app quits rather than show a window without its bridge.
 */

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserWindow, app, ipcMain, net, protocol, session } from 'electron';
import type { IpcMainInvokeEvent, WebContents } from 'electron';
import { ARGS_VALID, CHANNELS, type CallArgs, type CallName, type CallResult } from '../shared/api.js';
import { APP_SCHEME, appEntryUrl, fileForAppUrl, isAppUrl } from './app-url.js';

const here = import.meta.dirname;
const preloadPath = join(here, '../preload/index.cjs');
const rendererRoot = join(here, '../renderer');
// electron-vite sets ELECTRON_RENDERER_URL for `dev`; a packaged app never trusts it.
const entryUrl = appEntryUrl(app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL']);

// Started as `electron out/main/index.js`, Electron would call the app "Electron" (and name its data folder so).
app.setName('Dumbo Workbench');

// Before `ready`: sandbox every renderer, and make app:// a standard, secure origin.
app.enableSandbox();
protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const [win] = BrowserWindow.getAllWindows();
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('web-contents-created', (_event, contents) => lockDown(contents));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  void app.whenReady().then(() => {
    serveAppProtocol();
    session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
    session.defaultSession.setPermissionCheckHandler(() => false);
    handle('version', () => __APP_VERSION__);
    createWindow();
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    show: false,
    title: 'Dumbo Workbench',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(entryUrl);
  return win;
}

/** The rules for every web page the app opens, windows and frames alike. */
function lockDown(contents: WebContents): void {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const stayInApp = (event: { preventDefault(): void }, url: string): void => {
    if (!isAppUrl(url, entryUrl)) event.preventDefault();
  };
  contents.on('will-navigate', (event) => stayInApp(event, event.url));
  contents.on('will-redirect', (event) => stayInApp(event, event.url));
  contents.on('will-attach-webview', (event) => event.preventDefault());
  // The preload throws when the page is not context-isolated; a window without its bridge is no app.
  contents.on('preload-error', (_event, preloadPath, error) => {
    console.error(`[main] refusing to start: the preload ${preloadPath} failed: ${error.message}`);
    app.exit(1);
  });
}

/** app://dumbo/<path> serves the built renderer (out/renderer), and nothing outside it. */
function serveAppProtocol(): void {
  protocol.handle(APP_SCHEME, (request) => {
    const file = fileForAppUrl(request.url, rendererRoot);
    if (!file) return new Response('Not found', { status: 404 });
    return net.fetch(pathToFileURL(file).href);
  });
}

/**
 * Registers the handler of one call. The sender must be the main frame of an app page and the arguments
 * must pass the call's check; otherwise the renderer's promise rejects and nothing runs.
 */
function handle<K extends CallName>(
  name: K,
  handler: (...args: CallArgs<K>) => CallResult<K> | Promise<CallResult<K>>,
): void {
  ipcMain.handle(CHANNELS[name], (event: IpcMainInvokeEvent, ...args: unknown[]) => {
    if (!isTrustedSender(event)) throw new Error(`${CHANNELS[name]}: refused, the sender is not the app`);
    const valid: (a: readonly unknown[]) => a is CallArgs<K> = ARGS_VALID[name];
    if (!valid(args)) throw new Error(`${CHANNELS[name]}: refused, invalid arguments`);
    return handler(...args);
  });
}

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return frame !== null && frame.parent === null && frame === event.sender.mainFrame && isAppUrl(frame.url, entryUrl);
}
