/**
 * Signals in the CLI's long-running commands (`dumbo run`, `dumbo serve`): the command's own handler is the only
 * listener while it runs. Why: `conf` (the settings both commands write) pulls in `when-exit`, which listens
 * once for SIGINT, SIGTERM, SIGHUP and others, runs its cleanup and then sends the same signal to this process
 * again. Beside the command's listener, one Ctrl-C would then arrive twice, and the echo, counted as the second,
 * would kill the run instead of letting it checkpoint. The listeners other modules left are set aside meanwhile
 * and put back afterwards; when-exit's cleanup still runs on 'exit', which it listens to as well.
 */

/** Makes `onSignal` the only listener of `signals` until the returned function gives them back. */
export function takeOverSignals<S extends NodeJS.Signals>(
  signals: readonly S[],
  onSignal: (signal: S) => void,
): () => void {
  const taken = signals.map((signal) => {
    const setAside = process.rawListeners(signal);
    const listener = () => onSignal(signal);
    process.removeAllListeners(signal);
    process.on(signal, listener);
    return { signal, setAside, listener };
  });
  return () => {
    for (const { signal, setAside, listener } of taken) {
      process.off(signal, listener);
      for (const l of setAside) process.on(signal, l as () => void);
    }
  };
}
