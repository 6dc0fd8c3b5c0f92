/**
 * Work deferred to the next animation frame, at most once per frame however often it is asked for: bursts
 * of events become one reactive update and one chart redraw. A hidden window gets no frames, so a timer
 * stands in after 250 ms.
 */
export function frameScheduler(work: () => void): { request(): void; cancel(): void; flushNow(): void } {
  let frame: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = () => {
    if (frame !== undefined && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(frame);
    if (timer !== undefined) clearTimeout(timer);
    frame = undefined;
    timer = undefined;
  };
  const run = () => {
    cancel();
    work();
  };
  return {
    request() {
      if (frame !== undefined || timer !== undefined) return;
      if (typeof requestAnimationFrame === 'function') frame = requestAnimationFrame(run);
      timer = setTimeout(run, 250);
    },
    cancel,
    flushNow: run,
  };
}
