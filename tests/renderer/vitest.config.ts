// Runs only the renderer tests, with Vue's SFC compiler (the root vitest.config.ts has no Vue plugin):
//   npx vitest run --config tests/renderer/vitest.config.ts
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: resolve(import.meta.dirname, '../..'),
  plugins: [vue()],
  test: {
    include: ['tests/renderer/**/*.test.ts'],
    environment: 'happy-dom',
  },
});
