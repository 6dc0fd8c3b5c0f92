// src/preload/index.ts against a fake of contextBridge, ipcRenderer and webUtils: what the page gets as
// `window.dumbo` and `window.dumboDesktop`.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHANNELS, EVENT_CHANNEL, type AppEvent, type DumboApi } from '../../src/shared/api.js';
import { MENU_CHANNEL, type DumboDesktopApi, type MenuCommand } from '../../src/shared/desktop.js';

const fake = vi.hoisted(() => {
  type Handler = (event: unknown, payload: unknown) => void;
  const exposed = new Map<string, unknown>();
  const listeners = new Map<string, Set<Handler>>();
  return {
    exposed,
    listeners,
    electron: {
      contextBridge: { exposeInMainWorld: vi.fn((key: string, value: unknown) => exposed.set(key, value)) },
      ipcRenderer: {
        invoke: vi.fn(async (_channel: string, ..._args: unknown[]): Promise<unknown> => ({ ok: true })),
        on: vi.fn((channel: string, handler: Handler) => {
          if (!listeners.has(channel)) listeners.set(channel, new Set());
          listeners.get(channel)!.add(handler);
        }),
        removeListener: vi.fn((channel: string, handler: Handler) => listeners.get(channel)?.delete(handler)),
      },
      webUtils: { getPathForFile: vi.fn(() => '/home/u/my-plugin') },
    },
    /** main sends `payload` on `channel`, with an Electron event the page must never see. */
    emit(channel: string, payload: unknown) {
      for (const h of listeners.get(channel) ?? []) h({ sender: 'secret ipcRenderer' }, payload);
    },
  };
});

vi.mock('electron', () => ({ ...fake.electron, default: fake.electron }));

const preload = '../../src/preload/index.ts';

function setContextIsolated(value: boolean | undefined) {
  Object.defineProperty(process, 'contextIsolated', { value, configurable: true });
}

describe('preload: the bridge the page gets', () => {
  let dumbo: DumboApi;
  let desktop: DumboDesktopApi;

  beforeEach(async () => {
    vi.resetModules();
    fake.exposed.clear();
    setContextIsolated(true);
    await import(/* @vite-ignore */ preload);
    dumbo = fake.exposed.get('dumbo') as DumboApi;
    desktop = fake.exposed.get('dumboDesktop') as DumboDesktopApi;
  });

  afterEach(() => setContextIsolated(undefined));

  it('exposes every call of the call table and onEvent, and nothing else', () => {
    expect(Object.keys(dumbo).sort()).toEqual([...Object.keys(CHANNELS), 'onEvent'].sort());
    expect(Object.keys(desktop).sort()).toEqual(['onMenuCommand', 'pathForFile']);
  });

  it("sends a call on its channel and resolves with main's result", async () => {
    fake.electron.ipcRenderer.invoke.mockResolvedValueOnce({ ok: true, result: { path: '/c.yaml', text: 'a: 1' } });
    await expect(dumbo.openConfig('/c.yaml')).resolves.toEqual({ path: '/c.yaml', text: 'a: 1' });
    expect(fake.electron.ipcRenderer.invoke).toHaveBeenLastCalledWith(CHANNELS.openConfig, '/c.yaml');
    fake.electron.ipcRenderer.invoke.mockResolvedValueOnce({ ok: true, result: undefined });
    await dumbo.saveConfig('/c.yaml', 'a: 2');
    expect(fake.electron.ipcRenderer.invoke).toHaveBeenLastCalledWith(CHANNELS.saveConfig, '/c.yaml', 'a: 2');
  });

  it("rejects with the service's own message when main answers with an error", async () => {
    fake.electron.ipcRenderer.invoke.mockResolvedValueOnce({ ok: false, error: '/c.yaml:3:1: unknown plugin' });
    await expect(dumbo.startRun('/c.yaml')).rejects.toThrow(/^\/c\.yaml:3:1: unknown plugin$/);
  });

  it('delivers app events to listeners (the payload only) until they unsubscribe', () => {
    const seen: AppEvent[] = [];
    const off = dumbo.onEvent((e) => seen.push(e));
    const event: AppEvent = { type: 'plugins-changed' };
    fake.emit(EVENT_CHANNEL, event);
    off();
    fake.emit(EVENT_CHANNEL, event);
    expect(seen).toEqual([event]);
    expect(fake.listeners.get(EVENT_CHANNEL)?.size ?? 0).toBe(0);
  });

  it('gives the path of a dropped file, and the menu commands', () => {
    const file = { name: 'my-plugin' } as unknown as File;
    expect(desktop.pathForFile(file)).toBe('/home/u/my-plugin');
    expect(fake.electron.webUtils.getPathForFile).toHaveBeenCalledWith(file);
    const seen: MenuCommand[] = [];
    const off = desktop.onMenuCommand((c) => seen.push(c));
    fake.emit(MENU_CHANNEL, { command: 'show-view', view: 'runs' });
    off();
    expect(seen).toEqual([{ command: 'show-view', view: 'runs' }]);
  });

  it('exposes nothing without context isolation', async () => {
    vi.resetModules();
    fake.exposed.clear();
    setContextIsolated(false);
    await expect(import(/* @vite-ignore */ preload)).rejects.toThrow(/refuses to run without contextIsolation/);
    expect(fake.exposed.size).toBe(0);
  });
});
