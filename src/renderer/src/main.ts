/**
 * src/renderer — the Vue app (the UI of both doors: the Electron window and `dumbo serve` in a browser).
 *
 * What lives here: components (folders by feature, named by what the user sees), Pinia stores (one per
 * file), charts, and `client.ts`, the one typed client through which the UI reaches the app. No component
 * knows whether it runs in Electron or a browser.
 *
 * Who may import what: the renderer imports Vue, its own files and the types of `src/shared`. It never
 * imports main, preload, core, engine or Node modules: it runs in a sandboxed page. Nothing imports the
 * renderer; electron-vite builds it from index.html into out/renderer.
 */

import { createApp } from 'vue';
import App from './App.vue';

createApp(App).mount('#app');
