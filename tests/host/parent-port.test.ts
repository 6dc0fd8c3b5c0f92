// The child's side of both launchers, one adapter: under Electron the parent is `process.parentPort`
// (messages arrive as { data }), under Node's fork it is process.send. The Node side runs for real in the
// protocol and services tests; here, the utility-process side with a port of our own.
import { afterEach, describe, expect, it } from 'vitest';
import { connectToParent } from '../../src/host/parent-port.js';

type Listener = (e: { data: unknown }) => void;
const withPort = process as unknown as { parentPort?: unknown };

afterEach(() => {
  delete withPort.parentPort;
});

describe('connectToParent', () => {
  it("under Electron posts to process.parentPort, unwraps what it receives, and says at once that it's sent", () => {
    const posted: unknown[] = [];
    const listeners: Listener[] = [];
    withPort.parentPort = {
      postMessage: (m: unknown) => posted.push(m),
      on: (_event: 'message', l: Listener) => listeners.push(l),
    };
    const parent = connectToParent()!;
    const received: unknown[] = [];
    parent.onMessage((m) => received.push(m));
    let sent = false;
    parent.send({ type: 'ready' }, () => (sent = true));
    expect(posted).toEqual([{ type: 'ready' }]);
    expect(sent).toBe(true);
    listeners[0]!({ data: { type: 'stop' } });
    expect(received).toEqual([{ type: 'stop' }]);
  });

  it('under Node uses the IPC channel of a forked process (vitest runs tests in one)', () => {
    expect(typeof process.send).toBe('function');
    expect(connectToParent()).toBeDefined();
  });
});
