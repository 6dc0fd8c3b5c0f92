/**
 * The one typed client the UI talks to. In the desktop app it is the preload's `window.dumbo`; in a browser
 * served by `dumbo serve` there is no bridge, and `createHttpClient()` implements the same `DumboApi` over
 * that door: calls as `POST /api/call/<name>` with `{args}` (answered `{ok, result}` or `{ok: false, error}`),
 * events from the WebSocket `/api/events`, reconnected when it drops. Both carry the session token that
 * `takeSessionToken()` took from the page's URL (src/cli/serve.ts says why it is never a cookie).
 *
 * Stores reach the app through `useClient()` only; no component or store looks at `window.dumbo` or at
 * the page's URL to learn which door it came through. Tests hand in a fake with `provideClient()`.
 */

import {
  CHANNELS,
  EVENTS_PROTOCOL,
  TOKEN_PROTOCOL_PREFIX,
  type AppEvent,
  type CallArgs,
  type CallName,
  type CallResult,
  type DumboApi,
} from '../../shared/api.js';

export interface HttpClientOptions {
  /** Origin-relative base of the API (default: this page's origin). */
  base?: string;
  /** The events socket's URL (default: ws(s)://<this host>/api/events). */
  eventsUrl?: string;
  /** The `dumbo serve` session token: sent as `Authorization: Bearer` and as the socket's subprotocol. */
  token?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

/** Where the tab keeps the session token (sessionStorage: this origin, port included, and this tab only). */
export const TOKEN_KEY = 'dumbo.serve.token';

/**
 * The `dumbo serve` session token. The printed URL carries it in its fragment (`#token=…`, never sent to a
 * server); the first load takes it from there into the tab's sessionStorage and removes it from the address
 * bar (the rest of the URL, `?config=`, stays), so that a reload keeps the session and the token is neither
 * in the history nor in a bookmark. Later loads read it back from sessionStorage. Unlike a cookie, nothing
 * sends it anywhere by itself: the client puts it on its own requests to this origin.
 */
export function takeSessionToken(
  page: Pick<Location, 'hash' | 'pathname' | 'search'> = location,
  storage: Pick<Storage, 'getItem' | 'setItem'> | undefined = sessionStorageOrUndefined(),
  pageHistory: Pick<History, 'replaceState' | 'state'> = history,
): string | undefined {
  const fragment = new URLSearchParams(page.hash.replace(/^#/, ''));
  const fromUrl = fragment.get('token');
  if (fromUrl) {
    storage?.setItem(TOKEN_KEY, fromUrl);
    fragment.delete('token');
    const rest = fragment.toString();
    pageHistory.replaceState(pageHistory.state, '', `${page.pathname}${page.search}${rest ? `#${rest}` : ''}`);
    return fromUrl;
  }
  return storage?.getItem(TOKEN_KEY) ?? undefined;
}

/** sessionStorage, where the page may use it (a sandboxed or storage-less page may not). */
function sessionStorageOrUndefined(): Storage | undefined {
  try {
    return typeof sessionStorage === 'undefined' ? undefined : sessionStorage;
  } catch {
    return undefined;
  }
}

/** What the server answers to a call. */
type CallReply = { ok: true; result?: unknown } | { ok: false; error: string };

function defaultEventsUrl(): string | undefined {
  if (typeof location === 'undefined' || !location.host) return undefined;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events`;
}

/** JSON turns a trailing `undefined` into `null`, which the server's argument checks refuse: drop them. */
function trimArgs(args: readonly unknown[]): unknown[] {
  const out = [...args];
  while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
  return out;
}

/** The `dumbo serve` door: fetch for calls (the token in the Authorization header), a WebSocket for events. */
export function createHttpClient(options: HttpClientOptions = {}): DumboApi {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const base = options.base ?? '';
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;

  async function call<K extends CallName>(name: K, args: CallArgs<K>): Promise<CallResult<K>> {
    let response: Response;
    try {
      response = await doFetch(`${base}/api/call/${name}`, {
        method: 'POST',
        // No cookies: the server reads none, and cookies of other servers on this host are not its business.
        credentials: 'omit',
        headers,
        body: JSON.stringify({ args: trimArgs(args) }),
      });
    } catch (error) {
      throw new Error(`Cannot reach Dumbo (${name}): ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    const body = await response.text();
    let reply: CallReply;
    try {
      reply = JSON.parse(body) as CallReply;
    } catch {
      throw new Error(`${name}: the server answered ${response.status} ${body.trim() || response.statusText}`);
    }
    if (!reply.ok) throw new Error(reply.error);
    // The only place a call's untyped result gets its type: the server answers with the service's result.
    return reply.result as CallResult<K>;
  }

  const calls = Object.fromEntries(
    (Object.keys(CHANNELS) as CallName[]).map((name) => [name, (...args: CallArgs<typeof name>) => call(name, args)]),
  ) as Omit<DumboApi, 'onEvent'>;

  const protocols = options.token ? [EVENTS_PROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${options.token}`] : [EVENTS_PROTOCOL];
  const events = eventSocket(options.eventsUrl ?? defaultEventsUrl(), protocols, options.WebSocket);
  return { ...calls, onEvent: events.listen };
}

/**
 * The events socket, opened with the first listener and closed with the last, offering `protocols` (the
 * token's among them). A dropped connection is retried after 0.5 s, 1 s, 2 s … up to 10 s.
 */
function eventSocket(url: string | undefined, protocols: string[], Socket: typeof WebSocket | undefined) {
  const listeners = new Set<(event: AppEvent) => void>();
  let socket: WebSocket | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let attempts = 0;

  const deliver = (data: unknown) => {
    let event: AppEvent;
    try {
      event = JSON.parse(String(data)) as AppEvent;
    } catch {
      console.error('dumbo: an event that is not JSON was dropped');
      return;
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return;
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        // One broken listener must not silence the others.
        console.error('dumbo: an event listener failed', error);
      }
    }
  };

  const open = () => {
    retry = undefined;
    const Ctor = Socket ?? (typeof WebSocket === 'undefined' ? undefined : WebSocket);
    if (!url || !Ctor || listeners.size === 0) return;
    const ws = new Ctor(url, protocols);
    socket = ws;
    ws.onopen = () => {
      attempts = 0;
    };
    ws.onmessage = (message) => deliver(message.data);
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = undefined;
      if (listeners.size > 0) retry = setTimeout(open, Math.min(10_000, 500 * 2 ** attempts++));
    };
  };

  const close = () => {
    if (retry !== undefined) clearTimeout(retry);
    retry = undefined;
    const ws = socket;
    socket = undefined;
    ws?.close();
  };

  return {
    listen(listener: (event: AppEvent) => void): () => void {
      listeners.add(listener);
      if (!socket && retry === undefined) open();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) close();
      };
    },
  };
}

let current: DumboApi | undefined;

/** The app's client: the desktop bridge when there is one, else the `dumbo serve` door with its token. */
export function useClient(): DumboApi {
  current ??= window.dumbo ?? createHttpClient({ token: takeSessionToken() });
  return current;
}

/** Uses `api` from now on (tests hand in a fake DumboApi). */
export function provideClient(api: DumboApi): void {
  current = api;
}

/**
 * The folder path of a file or folder dropped on the page, where the desktop bridge can tell it
 * (`window.dumboDesktop.pathForFile`, Electron's webUtils.getPathForFile); a browser never can.
 */
export function pathOfDroppedFile(file: File): string | undefined {
  const path = window.dumboDesktop?.pathForFile(file);
  return path ? path : undefined;
}
