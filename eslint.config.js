// ESLint flat config for the whole repository: @eslint/js and typescript-eslint recommended (not
// type-aware, so it stays fast and needs no tsconfig per file), eslint-plugin-vue for the renderer's
// .vue files, and eslint-config-prettier last, so formatting is Prettier's alone (`npm run lint` runs
// `eslint . && prettier --check .`).

import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import vue from 'eslint-plugin-vue';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    '**/node_modules/',
    'dist/',
    'out/',
    'coverage/',
    'runs/',
    'release/',
    'test-results/',
    'bench-results/',
    '.gpu-pack/',
    '.gpu-carry/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  vue.configs['flat/recommended'],
  {
    // <script lang="ts"> in .vue files is parsed by typescript-eslint.
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    // Everything outside the renderer runs in Node (CLI, run host, main, preload, scripts, tests).
    ignores: ['src/renderer/**'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: globals.browser },
  },
  {
    rules: {
      // A leading underscore marks a value as deliberately unused (a hook argument, a destructured rest).
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  prettier,
);
