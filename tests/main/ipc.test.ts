import { describe, expect, it, vi } from 'vitest';
import { appEntryUrl, isAppUrl } from '../../src/main/app-url.js';
import {
  forwardEvents,
  isTrustedSender,
  registerIpc,
  type FrameLike,
  type InvokeEventLike,
} from '../../src/main/ipc.js';
import { CHANNELS, EVENT_CHANNEL, type AppEvent, type CallFunctions, type CallName } from '../../src/shared/api.js';

const entry = appEntryUrl(undefined);
const isApp = (url: string) => isAppUrl(url, entry);

function fakeIpcMain() {
  const handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => unknown>();
  return {
    handlers,
    handle: vi.fn((channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown) => {
      handlers.set(channel, listener);
    }),
    removeHandler: vi.fn((channel: string) => handlers.delete(channel)),
    /** What the page's `ipcRenderer.invoke(channel, ...args)` would get back. */
    invoke: (event: InvokeEventLike, channel: string, ...args: unknown[]) => handlers.get(channel)!(event, ...args),
  };
}

function fakeCalls() {
  const names = Object.keys(CHANNELS) as CallName[];
  return Object.fromEntries(names.map((n) => [n, vi.fn(async (...args: unknown[]) => ({ call: n, args }))])) as {
    [K in CallName]: ReturnType<typeof vi.fn>;
  };
}

/** An invoke event from a page at `url`; `subframe` makes it come from a frame inside that page. */
function eventFrom(url: string, subframe = false): InvokeEventLike {
  const mainFrame: FrameLike = { url, parent: null };
  const senderFrame: FrameLike = subframe ? { url, parent: mainFrame } : mainFrame;
  return { senderFrame, sender: { mainFrame } };
}

describe('main: the IPC door of the services', () => {
  it('registers one handler per call of the call table, and removes them all', () => {
    const ipc = fakeIpcMain();
    const remove = registerIpc(ipc, fakeCalls() as unknown as CallFunctions, () => true);
    expect([...ipc.handlers.keys()].sort()).toEqual(Object.values(CHANNELS).sort());
    remove();
    expect(ipc.handlers.size).toBe(0);
  });

  it('passes a valid call from the app page to the service and answers with its result', async () => {
    const ipc = fakeIpcMain();
    const calls = fakeCalls();
    registerIpc(ipc, calls as unknown as CallFunctions, (e) => isTrustedSender(e, isApp));
    const reply = await ipc.invoke(eventFrom(entry), CHANNELS.saveConfig, '/tmp/a.yaml', 'name: a\n');
    expect(calls.saveConfig).toHaveBeenCalledWith('/tmp/a.yaml', 'name: a\n');
    expect(reply).toEqual({ ok: true, result: { call: 'saveConfig', args: ['/tmp/a.yaml', 'name: a\n'] } });
  });

  it('refuses a call from a subframe, from a page that is not the app, or without a frame', async () => {
    const ipc = fakeIpcMain();
    const calls = fakeCalls();
    registerIpc(ipc, calls as unknown as CallFunctions, (e) => isTrustedSender(e, isApp));
    const untrusted: InvokeEventLike[] = [
      eventFrom(entry, true),
      eventFrom('https://evil.example/index.html'),
      eventFrom('app://dumbo.evil.com/index.html'),
      eventFrom('file:///tmp/index.html'),
      { senderFrame: null, sender: { mainFrame: { url: entry, parent: null } } },
      // A frame that claims to be a main frame but is not its page's.
      { senderFrame: { url: entry, parent: null }, sender: { mainFrame: { url: entry, parent: null } } },
    ];
    for (const event of untrusted) {
      const reply = await ipc.invoke(event, CHANNELS.listRuns);
      expect(reply).toEqual({ ok: false, error: 'dumbo:listRuns: refused, the sender is not the app' });
    }
    expect(calls.listRuns).not.toHaveBeenCalled();
  });

  it('refuses arguments that do not pass the call check, before the service sees them', async () => {
    const ipc = fakeIpcMain();
    const calls = fakeCalls();
    registerIpc(ipc, calls as unknown as CallFunctions, () => true);
    const app = eventFrom(entry);
    const invalid: [string, unknown[]][] = [
      [CHANNELS.openConfig, []],
      [CHANNELS.openConfig, [42]],
      [CHANNELS.openConfig, ['/a\0b']],
      [CHANNELS.version, ['extra']],
      [CHANNELS.removePlugin, ['../etc']],
      [CHANNELS.updateSettings, [{ pluginFolder: '/p', unknownKey: 1 }]],
      [CHANNELS.generate, ['run', 'prompt', { maxNewTokens: 0, temperature: 1 }]],
    ];
    for (const [channel, args] of invalid) {
      expect(await ipc.invoke(app, channel, ...args)).toEqual({
        ok: false,
        error: `${channel}: refused, invalid arguments`,
      });
    }
    expect(calls.openConfig).not.toHaveBeenCalled();
    expect(calls.version).not.toHaveBeenCalled();
    expect(calls.removePlugin).not.toHaveBeenCalled();
    expect(calls.updateSettings).not.toHaveBeenCalled();
    expect(calls.generate).not.toHaveBeenCalled();
  });

  it("carries a service's error as data, with the service's own message", async () => {
    const ipc = fakeIpcMain();
    const calls = fakeCalls();
    calls.openConfig.mockRejectedValueOnce(new Error('/x.yaml: cannot read config: no such file'));
    registerIpc(ipc, calls as unknown as CallFunctions, () => true);
    expect(await ipc.invoke(eventFrom(entry), CHANNELS.openConfig, '/x.yaml')).toEqual({
      ok: false,
      error: '/x.yaml: cannot read config: no such file',
    });
  });

  it('forwards app events to the app pages that are alive, and stops when unsubscribed', () => {
    const listeners = new Set<(e: AppEvent) => void>();
    const onEvent = (l: (e: AppEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    };
    const page = (url: string, destroyed = false) => ({
      isDestroyed: () => destroyed,
      getURL: () => url,
      send: vi.fn(),
    });
    const app = page('app://dumbo/index.html');
    const gone = page('app://dumbo/index.html', true);
    const other = page('https://example.com/');
    const stop = forwardEvents(onEvent, () => [app, gone, other], isApp);
    const event: AppEvent = { type: 'run-progress', runId: 'r1', step: 3, totalSteps: 20 };
    for (const l of listeners) l(event);
    expect(app.send).toHaveBeenCalledWith(EVENT_CHANNEL, event);
    expect(gone.send).not.toHaveBeenCalled();
    expect(other.send).not.toHaveBeenCalled();
    stop();
    expect(listeners.size).toBe(0);
  });
});
