/**
 * src/main — the Electron main process: the desktop door of the service layer.
 *
 * What lives here: the app's lifecycle, its window (bounds kept in the settings) and menu, the security
 * policy every web page of the app runs under, and the wiring of the service layer (src/services, the same
 * code `dumbo serve` runs) to the page: one IPC handler per call (ipc.ts), the app's events pushed to the
 * page, the run host and worker forked as Electron utility processes (fork-host.ts). The plugin catalog,
 * settings, run manager and plugin install are services; main never runs third-party plugin code itself.
 *
 * Who may import what: this folder imports `src/shared` (the call table), the types of `src/services` (the
 * built services are loaded at run time, see services.ts), and Electron — only in this file; the other
 * modules take the few Electron members they use as arguments, so they are tested without Electron.
 * Nothing imports this folder; it is an entry point (built by electron-vite into out/main).
 *
 * Security (Electron's checklist): one instance; every renderer sandboxed with context isolation and no
 * Node; the built UI served from app:// (not file://) under a strict CSP; new windows denied; navigation
 * outside the app prevented; no permissions granted; every IPC call checked for its sender frame (the main
 * frame of an app page) and its arguments; dangerous environment variables stripped before a fork. The
 * preload refuses to run without context isolation, and then the app quits rather than show a window
 * without its bridge.
 */

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BrowserWindow,
  Menu,
  app,
  dialog,
  ipcMain,
  net,
  protocol,
  screen,
  session,
  shell,
  utilityProcess,
} from 'electron';
import type { OpenDialogOptions, WebContents } from 'electron';
import type { Services } from '../services/index.js';
import { MENU_CHANNEL, type MenuCommand } from '../shared/desktop.js';
import { APP_SCHEME, appEntryUrl, fileForAppUrl, isAppUrl } from './app-url.js';
import { utilityForkHost } from './fork-host.js';
import { forwardEvents, isTrustedSender, registerIpc } from './ipc.js';
import { menuTemplate } from './menu.js';
import { loadServices, unpackedEsbuild } from './services.js';
import { DEFAULT_SIZE, restorableBounds, trackBounds } from './window-state.js';

const here = import.meta.dirname;
/** The repository while developing; resources/app.asar in a packaged app. */
const appRoot = join(here, '..', '..');
const preloadPath = join(here, '../preload/index.cjs');
const rendererRoot = join(here, '../renderer');
// electron-vite sets ELECTRON_RENDERER_URL for `dev`; a packaged app never trusts it.
const entryUrl = appEntryUrl(app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL']);
const isApp = (url: string): boolean => isAppUrl(url, entryUrl);

let services: Services | undefined;
let quitting = false;

// Started as `electron out/main/index.js`, Electron would call the app "Electron" (and name its data folder so).
app.setName('Dumbo Workbench');
app.setAboutPanelOptions({ applicationName: 'Dumbo Workbench', applicationVersion: __APP_VERSION__ });

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
    if (services && BrowserWindow.getAllWindows().length === 0) void createWindow();
  });
  app.on('before-quit', (event) => beforeQuit(event));
  void app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`[main] cannot start: ${message}`);
      dialog.showErrorBox('Dumbo Workbench cannot start', message);
      app.exit(1);
    });
}

async function start(): Promise<void> {
  serveAppProtocol();
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  const fork = utilityForkHost((modulePath, args, options) => utilityProcess.fork(modulePath, args, options), {
    env: helperEnvironment(),
    echoStderr: app.isPackaged ? undefined : (line) => console.error(line),
  });
  services = await loadServices({ appRoot, fork, cwd: workingDirectory() });
  registerIpc(ipcMain, services.calls, (event) => isTrustedSender(event, isApp));
  forwardEvents(services.onEvent, () => BrowserWindow.getAllWindows().map((w) => w.webContents), isApp);
  await setMenu(services);
  await createWindow();
}

/** The environment of the helper processes (fork-host.ts strips the dangerous variables from it). */
function helperEnvironment(): NodeJS.ProcessEnv {
  if (!app.isPackaged || process.env['ESBUILD_BINARY_PATH']) return process.env;
  const esbuild = unpackedEsbuild(process.resourcesPath, process.platform, process.arch);
  return existsSync(esbuild) ? { ...process.env, ESBUILD_BINARY_PATH: esbuild } : process.env;
}

/**
 * Where runs go (`<cwd>/runs`) and relative config paths start: the folder `npm start` runs in while
 * developing; Documents/Dumbo for a packaged app, whose own folder is read-only.
 */
function workingDirectory(): string {
  if (!app.isPackaged) return process.cwd();
  const dir = join(app.getPath('documents'), 'Dumbo');
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function createWindow(): Promise<BrowserWindow> {
  const saved = await services?.calls.getSettings().then(
    (s) => s.windowBounds,
    () => undefined,
  );
  const bounds = restorableBounds(
    saved,
    screen.getAllDisplays().map((d) => d.workArea),
  );
  const win = new BrowserWindow({
    ...(bounds ?? DEFAULT_SIZE),
    minWidth: 480,
    minHeight: 320,
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
  const current = services;
  if (current) {
    trackBounds(win, (windowBounds) => {
      current.calls.updateSettings({ windowBounds }).catch((error: unknown) => {
        console.error(`[main] cannot save the window bounds: ${(error as Error).message}`);
      });
    });
  }
  win.once('ready-to-show', () => win.show());
  void win.loadURL(entryUrl);
  return win;
}

/** Sends a menu command to the app page in front (or the only one). */
function sendToPage(command: MenuCommand): void {
  const win = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
  if (win && !win.isDestroyed() && isApp(win.webContents.getURL())) win.webContents.send(MENU_CHANNEL, command);
}

async function setMenu(current: Services): Promise<void> {
  const examples = await current.calls.listExamples().catch(() => []);
  const docs = app.isPackaged ? join(process.resourcesPath, 'docs') : join(appRoot, 'docs');
  const template = menuTemplate(
    {
      openConfig: () => void chooseConfig(),
      saveConfig: () => sendToPage({ command: 'save-config' }),
      openExample: (path) => sendToPage({ command: 'open-example', path }),
      showView: (view) => sendToPage({ command: 'show-view', view }),
      openDocs: () => {
        void shell.openPath(docs).then((error) => {
          if (error) dialog.showErrorBox('Cannot open the docs', `${docs}: ${error}`);
        });
      },
    },
    { examples, platform: process.platform, dev: !app.isPackaged },
  );
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

async function chooseConfig(): Promise<void> {
  const options: OpenDialogOptions = {
    title: 'Open config',
    properties: ['openFile'],
    filters: [
      { name: 'Dumbo config', extensions: ['yaml', 'yml'] },
      { name: 'All files', extensions: ['*'] },
    ],
  };
  const win = BrowserWindow.getFocusedWindow();
  const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  const [path] = result.filePaths;
  if (!result.canceled && path) sendToPage({ command: 'open-config', path });
}

/**
 * Quitting ends the services first: live runs are asked to stop (each finishes its step and checkpoints,
 * so it can be resumed) after the user agrees, and the helper processes end.
 */
function beforeQuit(event: { preventDefault(): void }): void {
  const current = services;
  if (!current || quitting) return;
  event.preventDefault();
  const active = current.activeRuns().length;
  if (active > 0) {
    const choice = dialog.showMessageBoxSync({
      type: 'question',
      buttons: ['Stop and Quit', 'Cancel'],
      defaultId: 1,
      cancelId: 1,
      message: active === 1 ? 'A run is in progress.' : `${active} runs are in progress.`,
      detail: 'Quitting stops them: each finishes its step and saves a checkpoint, so you can resume it later.',
    });
    if (choice !== 0) return;
  }
  quitting = true;
  void current
    .dispose()
    .catch((error: unknown) => console.error(`[main] stopping the services: ${(error as Error).message}`))
    .finally(() => app.quit());
}

/** The rules for every web page the app opens, windows and frames alike. */
function lockDown(contents: WebContents): void {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const stayInApp = (event: { preventDefault(): void }, url: string): void => {
    if (!isApp(url)) event.preventDefault();
  };
  // A file dropped outside the page's drop zones would navigate to file://: prevented here.
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
