// electron-vite's one config, keyed main / preload / renderer; everything is built into out/.
// `npm run build:app` runs it through scripts/electron-vite.mjs, which supplies Electron's version when the
// Electron binary is not installed. Each entry file says what lives in its folder.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';

const root = import.meta.dirname;
const { version } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string };

/**
 * The dev server injects component styles as <style> elements, which the strict CSP of index.html blocks:
 * allow inline styles while serving only. Built pages keep `style-src 'self'`.
 */
function relaxStyleCspForDevServer(): Plugin {
  return {
    name: 'dumbo:dev-csp',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  };
}

export default defineConfig({
  main: {
    // The app is started as `electron out/main/index.js`, so Electron never reads our package.json.
    define: { __APP_VERSION__: JSON.stringify(version) },
    build: {
      outDir: resolve(root, 'out/main'),
      rolldownOptions: { input: { index: resolve(root, 'src/main/index.ts') } },
    },
  },
  preload: {
    build: {
      outDir: resolve(root, 'out/preload'),
      rolldownOptions: {
        input: { index: resolve(root, 'src/preload/index.ts') },
        // A sandboxed preload runs as a plain script: CommonJS, named .cjs because package.json says "module".
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src/renderer'),
    plugins: [vue(), relaxStyleCspForDevServer()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      rolldownOptions: { input: { index: resolve(root, 'src/renderer/index.html') } },
    },
  },
});
