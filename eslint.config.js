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

// ------------------------------------------------------------------------------------ the import rule
// DESIGN.md section 3: core <- engine <- host/services <- cli/main (and the bench beside cli); the renderer
// and the preload see only src/shared, which may import types from core and nothing else of ours; the engine
// reaches core through src/core/index.ts, and everything outside the engine reaches it through
// src/engine/index.ts; plugins import Dumbo only as 'dumbo' and 'dumbo/engine'.
//
// Written as regular expressions on import specifiers, one list per folder below. Each list becomes
// @typescript-eslint/no-restricted-imports (imports and re-exports; it tells `import type` apart) and
// no-restricted-syntax for what that rule does not see: `import('...')` and `import('...').Type`. In flat
// config a later block replaces a rule's options, so the folders' `files` never overlap (but for one file
// with a stricter rule than its folder's). The test
// tests/lint/import-rule.test.ts lints a violation of each rule and expects the error.

/** A relative import that climbs (`../`, any number of times) into one of these folders of src/. */
const into = (...folders) => `^(\\.\\./)+(${folders.join('|')})/`;
const SRC = ['core', 'engine', 'shared', 'host', 'services', 'cli', 'main', 'bench', 'preload', 'renderer'];
const except = (...folders) => SRC.filter((f) => !folders.includes(f));

const VIA_ENGINE_INDEX = {
  regex: '^(\\.\\./)+engine/(?!index\\.js$)',
  message:
    'outside src/engine, import the engine through src/engine/index.ts (../engine/index.js): export what you ' +
    'need there',
};
const NO_SELF_PACKAGE = {
  regex: '^dumbo(/|$)',
  message:
    "inside src, import our modules by relative path: 'dumbo' and 'dumbo/engine' are the plugins' entries " +
    '(they resolve to the built dist/)',
};

/** @type {{ files: string[], restrictions: { regex: string, message: string, allowTypeImports?: boolean }[] }[]} */
const IMPORT_RULES = [
  {
    files: ['src/core/**'],
    restrictions: [
      {
        regex: into(...except('core')),
        message: 'src/core imports nothing of ours outside src/core (core <- engine <- host/services <- cli/main)',
      },
    ],
  },
  {
    // Later than src/core/** (so it replaces that block for these files), and stricter: src/shared takes values
    // from them, and the renderer's type check (no Node types) reads them alone.
    files: ['src/core/records.ts', 'src/core/suggest.ts'],
    restrictions: [
      {
        regex: '.',
        message:
          'src/core/records.ts imports nothing, not even types (nor does suggest.ts): src/shared, and so the ' +
          'renderer, imports them',
      },
    ],
  },
  {
    files: ['src/engine/**'],
    restrictions: [
      {
        regex: '^(\\.\\./)+core/(?!index\\.js$)',
        message: 'src/engine imports core only through src/core/index.ts (../core/index.js)',
      },
      {
        regex: into(...except('core', 'engine')),
        message:
          'src/engine imports only src/core: host, services, cli, main and the bench import the engine, never ' +
          'the other way (core <- engine <- host/services <- cli/main)',
      },
    ],
  },
  {
    files: ['src/shared/**'],
    restrictions: [
      {
        regex: '^(\\.\\./)+core/(?!(records|suggest)\\.js$)',
        allowTypeImports: true,
        message:
          'src/shared may import only types from src/core (import type ...), and values only from ' +
          'src/core/records.ts and src/core/suggest.ts (which import nothing): the renderer loads them',
      },
      {
        regex: into(...except('core', 'shared')),
        message: 'src/shared imports nothing of ours but types from src/core: main, preload and renderer import it',
      },
    ],
  },
  {
    files: ['src/host/**'],
    restrictions: [
      VIA_ENGINE_INDEX,
      {
        regex: into(...except('core', 'engine', 'shared', 'host')),
        message:
          'src/host imports only core, the engine and src/shared: services, cli and main start hosts, never ' +
          'the other way (core <- engine <- host/services <- cli/main)',
      },
    ],
  },
  {
    files: ['src/services/**'],
    restrictions: [
      VIA_ENGINE_INDEX,
      {
        regex: into(...except('core', 'engine', 'shared', 'host', 'services')),
        message:
          'src/services imports only core, the engine, src/host and src/shared: cli (serve) and main are its ' +
          'doors, never the other way (core <- engine <- host/services <- cli/main)',
      },
    ],
  },
  {
    files: ['src/cli/**'],
    restrictions: [
      VIA_ENGINE_INDEX,
      {
        regex: into('main', 'bench', 'preload', 'renderer'),
        message:
          'src/cli imports core, the engine, host, services and src/shared, never Electron main, the ' +
          'preload, the renderer or the bench',
      },
    ],
  },
  {
    files: ['src/main/**'],
    restrictions: [
      VIA_ENGINE_INDEX,
      {
        regex: into('cli', 'bench', 'preload', 'renderer'),
        message:
          'src/main imports core, the engine, host, services and src/shared, never the CLI, the bench, ' +
          'the preload or the renderer (it loads them as files, not as modules)',
      },
    ],
  },
  {
    files: ['src/bench/**'],
    restrictions: [
      VIA_ENGINE_INDEX,
      {
        regex: into(...except('core', 'engine', 'bench')),
        message: 'src/bench measures the engine: it imports only core and the engine (through src/engine/index.ts)',
      },
    ],
  },
  {
    files: ['src/preload/**'],
    restrictions: [
      {
        regex: into(...except('shared', 'preload')),
        message: 'src/preload imports only electron and src/shared: it is the typed bridge, with no logic of its own',
      },
    ],
  },
  {
    files: ['src/renderer/**'],
    restrictions: [
      {
        regex: into(...except('shared', 'renderer')),
        message:
          'src/renderer imports only src/shared and its own files (and npm packages): it reaches the app ' +
          'through window.dumbo, never through Node code',
      },
    ],
  },
  {
    files: ['plugins/**'],
    restrictions: [
      {
        regex: '^(\\.\\./)+(src|dist)/',
        message: "a plugin imports Dumbo only as 'dumbo' or 'dumbo/engine', never by a path into src/ or dist/",
      },
      {
        regex: '^dumbo/(?!engine$)',
        message: "'dumbo' and 'dumbo/engine' are the only entries of Dumbo a plugin may import",
      },
    ],
  },
];

/** One flat-config block per folder: the static imports, then import() and import('...').Type. */
function importRuleBlock({ files, restrictions }) {
  const all = files[0].startsWith('src/') ? [...restrictions, NO_SELF_PACKAGE] : restrictions;
  // esquery reads a regular expression between slashes: a slash inside it is escaped.
  const literal = (regex) => `/${regex.replaceAll('/', '\\/')}/`;
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: all.map(({ regex, message, allowTypeImports }) => ({
            regex,
            message,
            caseSensitive: true,
            ...(allowTypeImports ? { allowTypeImports } : {}),
          })),
        },
      ],
      'no-restricted-syntax': [
        'error',
        ...all.map(({ regex, message, allowTypeImports }) => ({
          selector: `${allowTypeImports ? 'ImportExpression' : ':matches(ImportExpression, TSImportType)'}[source.value=${literal(regex)}]`,
          message,
        })),
      ],
    },
  };
}

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
  ...IMPORT_RULES.map(importRuleBlock),
  prettier,
);
