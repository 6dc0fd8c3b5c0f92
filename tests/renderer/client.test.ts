// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHttpClient, takeSessionToken, TOKEN_KEY } from '../../src/renderer/src/client.js';
import type { AppEvent } from '../../src/shared/api.js';

const TOKEN = 'ab'.repeat(32);

/** A fetch that answers like `dumbo serve`, recording each request. */
function fakeFetch(answer: (name: string, args: unknown[]) => { status?: number; body: string }) {
  return vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const name = String(url).split('/api/call/')[1]!;
    const { args } = JSON.parse(String(init?.body)) as { args: unknown[] };
    const reply = answer(name, args);
    return new Response(reply.body, { status: reply.status ?? 200 });
  });
}

/** A WebSocket stand-in the test drives. */
class FakeSocket {
  static made: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(
    public url: string,
    public protocols?: string | string[],
  ) {
    FakeSocket.made.push(this);
  }
  close() {
    this.closed = true;
  }
}

beforeEach(() => {
  FakeSocket.made = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('the dumbo serve client', () => {
  it('posts each call as {args} with the token as a Bearer header and no cookies, and returns its result', async () => {
    const fetch = fakeFetch(() => ({ body: JSON.stringify({ ok: true, result: '0.1.0' }) }));
    const client = createHttpClient({ fetch, token: TOKEN });
    expect(await client.version()).toBe('0.1.0');
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('/api/call/version');
    expect(init).toMatchObject({ method: 'POST', credentials: 'omit', body: '{"args":[]}' });
    expect(init!.headers).toEqual({ 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` });
  });

  it('sends no Authorization header when it has no token', async () => {
    const fetch = fakeFetch(() => ({ body: JSON.stringify({ ok: true, result: '0.1.0' }) }));
    await createHttpClient({ fetch }).version();
    expect(fetch.mock.calls[0]![1]!.headers).toEqual({ 'Content-Type': 'application/json' });
  });

  it('leaves out trailing arguments that are not given (JSON would send null)', async () => {
    const fetch = fakeFetch(() => ({ body: JSON.stringify({ ok: true, result: { id: 'r' } }) }));
    const client = createHttpClient({ fetch });
    await client.startRun('/c/q.yaml', undefined);
    expect(fetch.mock.calls[0]![1]!.body).toBe('{"args":["/c/q.yaml"]}');
  });

  it('resolves a call without a result (void) to undefined', async () => {
    const client = createHttpClient({ fetch: fakeFetch(() => ({ body: '{"ok":true}' })) });
    expect(await client.stopRun('r')).toBeUndefined();
  });

  it("rejects with the service's own message", async () => {
    const client = createHttpClient({
      fetch: fakeFetch(() => ({ body: JSON.stringify({ ok: false, error: 'q.yaml:3:1: no trainer' }) })),
    });
    await expect(client.startRun('/c/q.yaml')).rejects.toThrow('q.yaml:3:1: no trainer');
  });

  it('says what the server answered when it is not JSON (an expired session)', async () => {
    const client = createHttpClient({
      fetch: fakeFetch(() => ({ status: 401, body: 'Unauthorized: open the URL that `dumbo serve` printed\n' })),
    });
    await expect(client.listRuns()).rejects.toThrow('listRuns: the server answered 401 Unauthorized');
  });

  it('delivers events from the socket, and reconnects when it drops', async () => {
    const client = createHttpClient({
      fetch: fakeFetch(() => ({ body: '{"ok":true}' })),
      eventsUrl: 'ws://127.0.0.1:4000/api/events',
      WebSocket: FakeSocket as unknown as typeof WebSocket,
    });
    const seen: AppEvent[] = [];
    const stop = client.onEvent((e) => seen.push(e));
    expect(FakeSocket.made.map((s) => s.url)).toEqual(['ws://127.0.0.1:4000/api/events']);
    expect(FakeSocket.made[0]!.protocols).toEqual(['dumbo-events']);

    FakeSocket.made[0]!.onmessage!({ data: JSON.stringify({ type: 'plugins-changed' }) });
    expect(seen).toEqual([{ type: 'plugins-changed' }]);

    FakeSocket.made[0]!.onclose!();
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[1]!.onmessage!({ data: JSON.stringify({ type: 'run-log', runId: 'r', lines: ['x'] }) });
    expect(seen).toHaveLength(2);

    stop();
    expect(FakeSocket.made[1]!.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it('opens the socket on this page’s host, with the token as its subprotocol (a socket cannot have headers)', async () => {
    const client = createHttpClient({ WebSocket: FakeSocket as unknown as typeof WebSocket, token: TOKEN });
    client.onEvent(() => {});
    expect(FakeSocket.made[0]!.url).toBe(`ws://${location.host}/api/events`);
    expect(FakeSocket.made[0]!.protocols).toEqual(['dumbo-events', `dumbo-token.${TOKEN}`]);
    // A reconnection offers it again.
    FakeSocket.made[0]!.onclose!();
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.made[1]!.protocols).toEqual(['dumbo-events', `dumbo-token.${TOKEN}`]);
  });
});

describe('the session token of dumbo serve', () => {
  /** A page at `url`, its sessionStorage and history, as takeSessionToken sees them. */
  function page(url: string, stored: Record<string, string> = {}) {
    const u = new URL(url);
    const storage = new Map(Object.entries(stored));
    const replaced: string[] = [];
    return {
      location: { hash: u.hash, pathname: u.pathname, search: u.search },
      storage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v) },
      history: {
        state: null,
        replaceState: (_s: unknown, _t: string, to?: string | URL | null) => replaced.push(String(to)),
      },
      stored: storage,
      replaced,
    };
  }

  it('takes the token from the URL fragment into sessionStorage and out of the address bar; the config stays', () => {
    const p = page(`http://127.0.0.1:4000/app/k/?config=%2Fc%2Fq.yaml#token=${TOKEN}`);
    expect(takeSessionToken(p.location, p.storage, p.history)).toBe(TOKEN);
    expect(p.stored.get(TOKEN_KEY)).toBe(TOKEN);
    expect(p.replaced).toEqual(['/app/k/?config=%2Fc%2Fq.yaml']);
  });

  it('a reload (no token in the URL any more) reads it back from sessionStorage, and leaves the URL alone', () => {
    const p = page('http://127.0.0.1:4000/app/k/?config=%2Fc%2Fq.yaml', { [TOKEN_KEY]: TOKEN });
    expect(takeSessionToken(p.location, p.storage, p.history)).toBe(TOKEN);
    expect(p.replaced).toEqual([]);
  });

  it('a new token in the URL replaces the stored one; with none anywhere there is no token', () => {
    const p = page(`http://127.0.0.1:4000/app/k/#token=${'cd'.repeat(32)}`, { [TOKEN_KEY]: TOKEN });
    expect(takeSessionToken(p.location, p.storage, p.history)).toBe('cd'.repeat(32));
    expect(p.stored.get(TOKEN_KEY)).toBe('cd'.repeat(32));
    const empty = page('http://127.0.0.1:4000/app/k/');
    expect(takeSessionToken(empty.location, empty.storage, empty.history)).toBeUndefined();
  });

  it("uses this tab's real sessionStorage and history by default", () => {
    history.replaceState(null, '', `/app/k/?config=x.yaml#token=${TOKEN}`);
    sessionStorage.clear();
    expect(takeSessionToken()).toBe(TOKEN);
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe(TOKEN);
    expect(location.hash).toBe('');
    expect(location.search).toBe('?config=x.yaml');
    expect(document.cookie).toBe('');
  });
});
