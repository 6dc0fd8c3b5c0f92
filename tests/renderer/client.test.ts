// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHttpClient } from '../../src/renderer/src/client.js';
import type { AppEvent } from '../../src/shared/api.js';

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
  constructor(public url: string) {
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
  it('posts each call as {args} with the session cookie, and returns its result', async () => {
    const fetch = fakeFetch(() => ({ body: JSON.stringify({ ok: true, result: '0.1.0' }) }));
    const client = createHttpClient({ fetch });
    expect(await client.version()).toBe('0.1.0');
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('/api/call/version');
    expect(init).toMatchObject({ method: 'POST', credentials: 'same-origin', body: '{"args":[]}' });
    expect((init!.headers as Record<string, string>)['Content-Type']).toBe('application/json');
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

  it('opens the socket on this page’s host', () => {
    const client = createHttpClient({ WebSocket: FakeSocket as unknown as typeof WebSocket });
    client.onEvent(() => {});
    expect(FakeSocket.made[0]!.url).toBe(`ws://${location.host}/api/events`);
  });
});
