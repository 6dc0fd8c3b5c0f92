// src/main/index.ts against a thin fake of the Electron surface it uses (no Electron binary needed): the
// app's lifecycle, its window, the IPC door, the event stream, the utility-process fork, the menu and quit.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CHANNELS, EVENT_CHANNEL, type AppEvent, type CallName } from '../../src/shared/api.js';
import { MENU_CHANNEL } from '../../src/shared/desktop.js';

interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
}

const fake = vi.hoisted(() => {
  type Listener = (...args: unknown[]) => unknown;
  class Emitter {
    listeners = new Map<string, Listener[]>();
    on(name: string, fn: Listener) {
      this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
      return this;
    }
    once(name: string, fn: Listener) {
      return this.on(name, fn);
    }
    emit(name: string, ...args: unknown[]) {
      for (const fn of this.listeners.get(name) ?? []) fn(...args);
    }
  }
  class FakeWebContents extends Emitter {
    url = '';
    mainFrame = { url: '', parent: null as unknown };
    send = vi.fn();
    isDestroyed = () => false;
    getURL = () => this.url;
    setWindowOpenHandler = vi.fn();
  }
  class FakeBrowserWindow extends Emitter {
    static windows: FakeBrowserWindow[] = [];
    static getAllWindows = () => FakeBrowserWindow.windows;
    static getFocusedWindow = () => FakeBrowserWindow.windows[0] ?? null;
    webContents = new FakeWebContents();
    bounds: { x: number; y: number; width: number; height: number };
    constructor(readonly options: Record<string, unknown>) {
      super();
      this.bounds = { x: 0, y: 0, width: options['width'] as number, height: options['height'] as number };
      if (options['x'] !== undefined)
        this.bounds = { ...this.bounds, x: options['x'] as number, y: options['y'] as number };
      FakeBrowserWindow.windows.push(this);
      fake.app.emit('web-contents-created', {}, this.webContents);
    }
    loadURL = vi.fn(async (url: string) => {
      this.webContents.url = url;
      this.webContents.mainFrame.url = url;
    });
    getNormalBounds = () => this.bounds;
    isDestroyed = () => false;
    isMinimized = () => false;
    show = vi.fn();
    focus = vi.fn();
  }
  let ready: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const app = Object.assign(new Emitter(), {
    isPackaged: false,
    lock: true,
    ready,
    setName: vi.fn(),
    setAboutPanelOptions: vi.fn(),
    enableSandbox: vi.fn(),
    requestSingleInstanceLock: vi.fn(() => app.lock),
    whenReady: () => readyPromise,
    quit: vi.fn(),
    exit: vi.fn(),
    getPath: (name: string) => `/fake/${name}`,
  });
  const handlers = new Map<string, Listener>();
  const utilityChildren: unknown[] = [];
  return {
    app,
    handlers,
    utilityChildren,
    BrowserWindow: FakeBrowserWindow,
    electron: {
      app,
      BrowserWindow: FakeBrowserWindow,
      ipcMain: {
        handle: vi.fn((channel: string, fn: Listener) => handlers.set(channel, fn)),
        removeHandler: vi.fn((channel: string) => handlers.delete(channel)),
      },
      protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() },
      session: { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() } },
      net: { fetch: vi.fn() },
      screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
      Menu: { buildFromTemplate: vi.fn((t: unknown) => t), setApplicationMenu: vi.fn() },
      dialog: {
        showErrorBox: vi.fn(),
        showOpenDialog: vi.fn(async () => ({ canceled: false, filePaths: ['/home/u/configs/mine.yaml'] })),
        showMessageBoxSync: vi.fn(() => 0),
      },
      shell: { openPath: vi.fn(async () => '') },
      utilityProcess: {
        fork: vi.fn(() => {
          const child = Object.assign(new Emitter(), {
            pid: 77,
            stderr: null,
            postMessage: vi.fn(),
            kill: vi.fn(() => true),
          });
          utilityChildren.push(child);
          return child;
        }),
      },
    },
  };
});

vi.mock('electron', () => ({ ...fake.electron, default: fake.electron }));

const services = vi.hoisted(() => {
  type Listener = (event: unknown) => void;
  const listeners = new Set<Listener>();
  const calls: Record<string, ReturnType<typeof vi.fn>> = {};
  return {
    listeners,
    calls,
    loadOptions: [] as { appRoot: string; cwd: string; fork: (entry: string, args?: string[]) => unknown }[],
    active: [] as unknown[],
    dispose: vi.fn(async () => {}),
  };
});

vi.mock('../../src/main/services.js', () => ({
  loadServices: vi.fn(async (options: (typeof services.loadOptions)[number]) => {
    services.loadOptions.push(options);
    return {
      calls: services.calls,
      onEvent: (l: (event: unknown) => void) => {
        services.listeners.add(l);
        return () => services.listeners.delete(l);
      },
      dispose: services.dispose,
      activeRuns: () => services.active,
      settingsFile: '/fake/settings.json',
    };
  }),
}));

for (const name of Object.keys(CHANNELS) as CallName[]) {
  services.calls[name] = vi.fn(async () => `${name} result`);
}
services.calls['getSettings'] = vi.fn(async () => ({
  recentConfigs: [],
  pluginFolder: '/p',
  defaultBackend: 'auto',
  windowBounds: { x: 40, y: 30, width: 1000, height: 700 },
}));
services.calls['listExamples'] = vi.fn(async () => [
  { name: 'quickstart', path: '/app/resources/examples/quickstart.yaml', description: '' },
]);

vi.stubGlobal('__APP_VERSION__', '0.1.0-test');
process.env['NODE_OPTIONS'] = '--require /tmp/injected.js';

type Window = InstanceType<typeof fake.BrowserWindow>;
let win: Window;

/** An IPC invoke as the page at `frame` would send it. */
function invoke(channel: string, frame: FakeFrame, mainFrame: FakeFrame, ...args: unknown[]) {
  const handler = fake.handlers.get(channel);
  if (!handler) throw new Error(`no handler for ${channel}`);
  return handler({ senderFrame: frame, sender: { mainFrame } }, ...args);
}

describe('main: the Electron app wired to the services', () => {
  beforeEach(async () => {
    if (win) return;
    // Kept out of the type-checked graph (it needs Electron's types); vitest resolves it from this file.
    const entry = '../../src/main/index.ts';
    await import(/* @vite-ignore */ entry);
    fake.app.ready();
    await vi.waitFor(() => expect(fake.BrowserWindow.windows).toHaveLength(1));
    win = fake.BrowserWindow.windows[0]!;
  });

  it('sandboxes the page, locks it down and loads the app from app://', () => {
    expect(fake.app.enableSandbox).toHaveBeenCalled();
    expect(fake.app.requestSingleInstanceLock).toHaveBeenCalled();
    const prefs = win.options['webPreferences'] as Record<string, unknown>;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false });
    expect(String(prefs['preload'])).toMatch(/[\\/]preload[\\/]index\.cjs$/);
    expect(win.loadURL).toHaveBeenCalledWith('app://dumbo/index.html');
    expect(win.webContents.setWindowOpenHandler).toHaveBeenCalled();
    const navigate = { url: 'https://evil.example/', preventDefault: vi.fn() };
    win.webContents.emit('will-navigate', navigate);
    expect(navigate.preventDefault).toHaveBeenCalled();
  });

  it('opens the window at the bounds saved in the settings, and saves them on close', () => {
    expect(win.options).toMatchObject({ x: 40, y: 30, width: 1000, height: 700 });
    win.bounds = { x: 50, y: 60, width: 1100, height: 750 };
    win.emit('close');
    expect(services.calls['updateSettings']).toHaveBeenCalledWith({
      windowBounds: { x: 50, y: 60, width: 1100, height: 750 },
    });
  });

  it('handles every call: from the app page it reaches the service, as an IpcReply', async () => {
    expect([...fake.handlers.keys()].sort()).toEqual(Object.values(CHANNELS).sort());
    const main = win.webContents.mainFrame as FakeFrame;
    expect(await invoke(CHANNELS.openConfig, main, main, '/c.yaml')).toEqual({ ok: true, result: 'openConfig result' });
    expect(services.calls['openConfig']).toHaveBeenCalledWith('/c.yaml');
  });

  it('refuses calls from a subframe, from a page that is not the app, and with invalid arguments', async () => {
    const main = win.webContents.mainFrame as FakeFrame;
    const sub: FakeFrame = { url: main.url, parent: main };
    const foreign: FakeFrame = { url: 'https://evil.example/', parent: null };
    services.calls['startRun']!.mockClear();
    expect(await invoke(CHANNELS.startRun, sub, main, '/c.yaml')).toMatchObject({ ok: false });
    expect(await invoke(CHANNELS.startRun, foreign, foreign, '/c.yaml')).toMatchObject({ ok: false });
    expect(await invoke(CHANNELS.startRun, main, main, 17)).toEqual({
      ok: false,
      error: 'dumbo:startRun: refused, invalid arguments',
    });
    expect(services.calls['startRun']).not.toHaveBeenCalled();
  });

  it("forwards the services' events to the window", () => {
    const event: AppEvent = {
      type: 'run-metrics',
      runId: 'r',
      points: [{ name: 'loss', value: 2, step: 1, timestamp: 1 }],
    };
    for (const l of services.listeners) l(event);
    expect(win.webContents.send).toHaveBeenCalledWith(EVENT_CHANNEL, event);
  });

  it('forks the helper processes as utility processes, without NODE_OPTIONS, from the built dist/host', () => {
    const [options] = services.loadOptions;
    expect(options!.cwd).toBe(process.cwd());
    const proc = options!.fork('/app/dist/host/worker.js') as { pid: number };
    expect(proc.pid).toBe(77);
    const [modulePath, args, forkOptions] = fake.electron.utilityProcess.fork.mock.calls[0] as unknown as [
      string,
      string[],
      { env: Record<string, string> },
    ];
    expect(modulePath).toBe('/app/dist/host/worker.js');
    expect(args).toEqual([]);
    expect(forkOptions.env['NODE_OPTIONS']).toBeUndefined();
    expect(forkOptions.env['PATH']).toBe(process.env['PATH']);
  });

  it('has a menu whose Open Config and Examples send the file to the page', async () => {
    expect(fake.electron.Menu.setApplicationMenu).toHaveBeenCalled();
    const template = fake.electron.Menu.buildFromTemplate.mock.calls[0]![0] as {
      label?: string;
      submenu?: { label?: string; click?: () => void; submenu?: { label?: string; click?: () => void }[] }[];
    }[];
    const file = template.find((e) => e.label === 'File')!.submenu!;
    file.find((e) => e.label === 'Open Config…')!.click!();
    await vi.waitFor(() =>
      expect(win.webContents.send).toHaveBeenCalledWith(MENU_CHANNEL, {
        command: 'open-config',
        path: '/home/u/configs/mine.yaml',
      }),
    );
    // An example opens as an untitled copy: the page is told it is one, never to open its file for saving.
    file.find((e) => e.label === 'Examples')!.submenu![0]!.click!();
    expect(win.webContents.send).toHaveBeenCalledWith(MENU_CHANNEL, {
      command: 'open-example',
      path: '/app/resources/examples/quickstart.yaml',
    });
  });

  it('on quit with a run in progress asks, stops the services, then quits', async () => {
    services.active.push({ id: 'r' });
    const event = { preventDefault: vi.fn() };
    fake.app.emit('before-quit', event);
    expect(event.preventDefault).toHaveBeenCalled();
    expect(fake.electron.dialog.showMessageBoxSync).toHaveBeenCalled();
    await vi.waitFor(() => expect(fake.app.quit).toHaveBeenCalled());
    expect(services.dispose).toHaveBeenCalledOnce();
    // The second before-quit (from app.quit) goes through.
    const again = { preventDefault: vi.fn() };
    fake.app.emit('before-quit', again);
    expect(again.preventDefault).not.toHaveBeenCalled();
  });
});
