// Constants that electron.vite.config.ts defines for the main process at build time.

/** Dumbo's version, from package.json. */
declare const __APP_VERSION__: string;
