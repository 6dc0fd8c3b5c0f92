/**
 * src/shared/desktop.ts — what only the desktop door adds to the shared API (src/shared/api.ts).
 *
 * What lives here: the wire format of a call between the preload and main (`IpcReply`), the menu commands
 * main sends to the page, and `DumboDesktopApi`, the shape of `window.dumboDesktop`: the few things that
 * exist only in the Electron window (the path of a dropped file, the app menu). In a browser served by
 * `dumbo serve` there is no `window.dumboDesktop`; the renderer treats it as optional.
 *
 * Who may import it: Electron main, the preload, the renderer (types and constants only). Like api.ts it
 * imports nothing and holds only types and plain constants.
 */

/**
 * How main answers a call on IPC: errors travel as data, so the page's promise rejects with the service's
 * own message (Electron would otherwise prefix "Error invoking remote method ...").
 */
export type IpcReply<T> = { ok: true; result: T } | { ok: false; error: string };

/** The channel main sends menu commands on. */
export const MENU_CHANNEL = 'dumbo:menu';

/** What a menu item asks the page to do. Main shows native dialogs itself and sends their outcome. */
export type MenuCommand =
  /** File > Open config…: open the chosen file in the editor. */
  | { command: 'open-config'; path: string }
  /** File > Examples > …: open an untitled copy of this example (its shipped file is never saved over). */
  | { command: 'open-example'; path: string }
  /** File > Save: save the editor's config. */
  | { command: 'save-config' }
  /** View > Workbench / Runs. */
  | { command: 'show-view'; view: 'workbench' | 'runs' };

/** `window.dumboDesktop`, present in the desktop app only. */
export interface DumboDesktopApi {
  /**
   * The file system path of a `File` from a drop or an `<input type="file">` (Electron's
   * `webUtils.getPathForFile`; "" for a File made in the page). A dropped plugin folder arrives as a File
   * whose path is the folder: pass it to `previewPluginFolder`, then `installPlugin`.
   */
  pathForFile(file: File): string;
  /** Registers a listener for menu commands; returns the function that removes it. */
  onMenuCommand(listener: (command: MenuCommand) => void): () => void;
}
