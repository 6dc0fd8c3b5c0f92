// Ambient types of the renderer: Vite's client types, `.vue` modules, and `window.dumbo` (the preload's
// bridge, typed by the shared call table; the renderer never sees preload code). A script, not a module:
// no top-level import, so these declarations are global.

/// <reference types="vite/client" />

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

interface Window {
  /** Present in the desktop app only; absent in a browser served by `dumbo serve`. */
  readonly dumbo?: import('../../shared/api.js').DumboApi;
  /**
   * Desktop app only (src/shared/desktop.ts): the path of a file or folder dropped on the page (Electron's
   * `webUtils.getPathForFile`) and the app menu's commands. Not part of DumboApi: a browser has neither.
   */
  readonly dumboDesktop?: import('../../shared/desktop.js').DumboDesktopApi;
}
