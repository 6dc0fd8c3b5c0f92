/**
 * src/shared/api.ts — the one typed boundary between the UI and the app.
 *
 * What lives here: the name of every channel the renderer may call, the argument and result types of each
 * call, and `DumboApi`, the shape of `window.dumbo` that the preload exposes. Change a payload here and every
 * side that sends or receives it stops compiling until it agrees.
 *
 * Who may import it: everyone — Electron main (which handles the calls), the preload (which forwards them),
 * the renderer (type-only, through `window.dumbo`), the run host and `dumbo serve` (the second door to the
 * same services). So this module imports nothing, touches no Node, DOM or Electron API, and holds only types
 * and plain constants.
 *
 * Conventions (after VS Code's IPC): a *call* returns one promise; events, when they come, are named `onX`
 * and stream. Main validates every call's sender and arguments before running it.
 */

/** Every call the renderer can make: its arguments (as a tuple) and what its promise resolves to. */
export interface Calls {
  /** The app's version, as in package.json. */
  version: { args: []; result: string };
}

export type CallName = keyof Calls;
export type CallArgs<K extends CallName> = Calls[K]['args'];
export type CallResult<K extends CallName> = Calls[K]['result'];

/** The IPC channel of each call. A mapped type: a call without a channel is a compile error. */
export const CHANNELS: { readonly [K in CallName]: `dumbo:${K}` } = {
  version: 'dumbo:version',
};

/** `window.dumbo`: one method per call, each returning a promise of the call's result. */
export type DumboApi = { readonly [K in CallName]: (...args: CallArgs<K>) => Promise<CallResult<K>> };

/**
 * Checks that arguments coming from the renderer have the shape the call expects. Main runs these on every
 * call: a renderer is untrusted input, whatever its types say.
 */
export const ARGS_VALID: { readonly [K in CallName]: (args: readonly unknown[]) => args is CallArgs<K> } = {
  version: (args): args is [] => args.length === 0,
};
