/**
 * src/renderer — the Vue app (the UI of both doors: the Electron window and `dumbo serve` in a browser).
 *
 * What lives here: components (folders by feature, named by what the user sees), Pinia stores (one per
 * file, in stores/), pure helpers (lib/: YAML edits, metric series, formats), chart setup, and
 * `client.ts`, the one typed client through which the UI reaches the app. No component knows whether it
 * runs in Electron or a browser.
 *
 * Who may import what: the renderer imports Vue, Pinia, chart.js, CodeMirror, yaml, its own files and the
 * types and constants of `src/shared`. It never imports main, preload, core, engine or Node modules: it
 * runs in a sandboxed page. Nothing imports the renderer; electron-vite builds it from index.html into
 * out/renderer.
 */

import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { useClient } from './client.js';
import './styles.css';

// First of all: in a browser served by `dumbo serve`, this takes the session token out of the address bar.
useClient();
createApp(App).use(createPinia()).mount('#app');
