import { describe, expect, it } from 'vitest';
import { useRequest } from '../../../src/renderer/src/lib/request.js';

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('a request the user starts', () => {
  it('is busy while it is in flight, then holds the answer', async () => {
    const pending = deferred<number>();
    const request = useRequest((n: number) => pending.promise.then((v) => v * n));
    const sent = request.send(2);
    expect(request.busy.value).toBe(true);
    pending.resolve(21);
    await sent;
    expect(request.busy.value).toBe(false);
    expect(request.answer.value).toBe(42);
    expect(request.error.value).toBeUndefined();
  });

  it("keeps the last answer when a later one fails, and shows the failure's message instead of throwing", async () => {
    let fail = false;
    const request = useRequest(async () => {
      if (fail) throw new Error('config.yaml:3:1: no dataset');
      return 'estimate';
    });
    await request.send();
    fail = true;
    await expect(request.send()).resolves.toBeUndefined();
    expect(request.answer.value).toBe('estimate');
    expect(request.error.value).toBe('config.yaml:3:1: no dataset');
    expect(request.busy.value).toBe(false);
  });

  it('clears the error once a request succeeds again', async () => {
    let fail = true;
    const request = useRequest(async () => {
      if (fail) throw new Error('down');
      return 1;
    });
    await request.send();
    expect(request.error.value).toBe('down');
    fail = false;
    await request.send();
    expect(request.error.value).toBeUndefined();
    expect(request.answer.value).toBe(1);
  });
});
