import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // .vue single-file components, for the renderer's component tests (tests/renderer).
  plugins: [vue()],
  test: {
    include: ['tests/**/*.test.ts'],
    // Plugins are loaded by Node itself with module hooks (src/core/loader-hooks.mjs); child processes keep
    // each test file's hooks and shared SDK state apart.
    pool: 'forks',
    reporters: ['default', './tests/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['tests/global-setup.ts'],
    // Loaded by Node, not by Vite, so that its import() is Node's own (see the file).
    server: { deps: { external: [/native-import\.mjs$/] } },
  },
});
