// The import rule of eslint.config.js (core <- engine <- host/services <- cli/main; the renderer and the
// preload see only src/shared; the engine through its index; plugins through 'dumbo'), linted on snippets
// placed, by their file path, in each folder: each restriction reports its own message, and the imports the
// rule allows pass. If a config change stopped a restriction from applying, these tests fail.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers.js';

const eslint = new ESLint({ cwd: repoRoot });
const IMPORT_RULES = new Set(['@typescript-eslint/no-restricted-imports', 'no-restricted-syntax']);

/** The import-rule messages ESLint reports for `code` as if it were the file `file` of the repository. */
async function importErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  return result!.messages.filter((m) => m.ruleId !== null && IMPORT_RULES.has(m.ruleId)).map((m) => m.message);
}

/** [file, code, the rule's message (a part of it)]: each must be reported, once. */
const VIOLATIONS: [string, string, string][] = [
  ['src/core/run.ts', "import { startHost } from '../host/run-host.js';", 'src/core imports nothing of ours'],
  ['src/core/run.ts', "export * from '../engine/index.js';", 'src/core imports nothing of ours'],
  ['src/core/run.ts', "const m = await import('../shared/api.js');", 'src/core imports nothing of ours'],
  ['src/core/records.ts', "import type { RunStatus } from './run.js';", 'src/core/records.ts imports nothing'],
  ['src/core/records.ts', "import { z } from 'zod';", 'src/core/records.ts imports nothing'],
  ['src/engine/webgpu.ts', "import { appRoot } from '../core/paths.js';", 'through src/core/index.ts'],
  ['src/engine/models/gpt2.ts', "import type { X } from '../../core/types.js';", 'through src/core/index.ts'],
  ['src/engine/trainer.ts', "import { STOP_FILE } from '../host/info.js';", 'src/engine imports only src/core'],
  ['src/engine/trainer.ts', "import type { AppEvent } from '../shared/api.js';", 'src/engine imports only src/core'],
  ['src/host/estimate.ts', "import { gpt2Config } from '../engine/models/gpt2.js';", 'through src/engine/index.ts'],
  ['src/host/worker/x.ts', "const { readConfig } = await import('../../engine/pretrained.js');", 'src/engine/index.ts'],
  ['src/host/worker-tasks.ts', "let lm: import('../engine/models/types.js').CausalLM;", 'src/engine/index.ts'],
  ['src/host/client.ts', "import { createServices } from '../services/index.js';", 'src/host imports only core'],
  ['src/services/library.ts', "import { listCachedModels } from '../engine/hub.js';", 'src/engine/index.ts'],
  ['src/services/runs.ts', "import { main } from '../cli/main.js';", 'src/services imports only core'],
  ['src/cli/main.ts', "import { webgpuDispatches } from '../engine/webgpu.js';", 'src/engine/index.ts'],
  ['src/cli/serve.ts', "import { registerIpc } from '../main/ipc.js';", 'src/cli imports core'],
  ['src/main/services.ts', "import { serveCommand } from '../cli/serve.js';", 'src/main imports core'],
  ['src/bench/index.ts', "import { createModel } from '../engine/models/index.js';", 'src/engine/index.ts'],
  ['src/bench/index.ts', "import { STOP_FILE } from '../host/info.js';", 'src/bench measures the engine'],
  ['src/shared/api.ts', "import { DumboError } from '../core/errors.js';", 'only types from src/core'],
  ['src/shared/api.ts', "const { loadConfig } = await import('../core/config.js');", 'only types from src/core'],
  ['src/shared/api.ts', "import type { Services } from '../services/index.js';", 'src/shared imports nothing'],
  ['src/preload/index.ts', "import { createServices } from '../services/index.js';", 'src/preload imports only'],
  ['src/renderer/src/client.ts', "import { Ok } from '../../core/index.js';", 'src/renderer imports only src/shared'],
  ['src/renderer/src/stores/runs.ts', "import type { X } from '../../../engine/index.js';", 'src/renderer imports'],
  [
    'src/renderer/src/components/run/RunPanel.vue',
    '<script setup lang="ts">\nimport { runHost } from \'../../../../host/run-host.js\';\n</script>\n',
    'src/renderer imports only src/shared',
  ],
  ['src/cli/run-command.ts', "import { Ok } from 'dumbo';", 'inside src, import our modules by relative path'],
  ['plugins/polars/index.ts', "import { Ok } from '../../src/core/index.js';", "only as 'dumbo' or 'dumbo/engine'"],
  ['plugins/polars/read.ts', "import { train } from '../../dist/engine/index.js';", "only as 'dumbo' or"],
  ['plugins/transformers/index.ts', "import { x } from 'dumbo/dist/core/fs.js';", 'are the only entries of Dumbo'],
];

/** [file, code]: imports the rule allows. */
const ALLOWED: [string, string][] = [
  ['src/core/run.ts', "import { Ok } from './result.js';"],
  ['src/engine/models/gpt2.ts', "import { getLogger } from '../../core/index.js';\nimport { x } from '../layers.js';"],
  ['src/engine/webgpu.ts', "import { appRoot } from '../core/index.js';"],
  ['src/host/worker-tasks.ts', "const { readTensor } = await import('../engine/index.js');"],
  ['src/host/worker/x.ts', "import { paths } from '../../core/paths.js';\nimport type { T } from '../protocol.js';"],
  ['src/services/library.ts', "import { listCachedModels } from '../engine/index.js';\nimport '../host/info.js';"],
  ['src/cli/main.ts', "import { dumboVersion } from '../host/info.js';\nimport '../services/index.js';"],
  ['src/main/ipc.ts', "import { CHANNELS } from '../shared/api.js';\nimport type { S } from '../services/index.js';"],
  ['src/bench/index.ts', "import { createModel, webgpuDispatches } from '../engine/index.js';"],
  ['src/shared/api.ts', "import type { TraceEntry } from '../core/bus.js';\nimport { MENU } from './desktop.js';"],
  ['src/shared/api.ts', "export type Info = import('../core/types.js').ModelInfo;"],
  ['src/shared/api.ts', "import { BACKEND_CHOICES } from '../core/records.js';"],
  ['src/preload/index.ts', "import { contextBridge } from 'electron';\nimport { CHANNELS } from '../shared/api.js';"],
  [
    'src/renderer/src/stores/runs.ts',
    "import type { RunDetail } from '../../../shared/api.js';\nimport '../lib/eta.js';",
  ],
  ['plugins/polars/index.ts', "import { Ok } from 'dumbo';\nimport { tf } from 'dumbo/engine';\nimport './read.js';"],
];

describe('the import rule', () => {
  it.each(VIOLATIONS)('%s: `%s` is an error that says the rule', async (file, code, message) => {
    const errors = await importErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  it.each(ALLOWED)('%s: `%s` passes', async (file, code) => {
    expect(await importErrors(file, code)).toEqual([]);
  });

  it('covers every folder of src/ (a new folder needs its own rule) and plugins/', async () => {
    const folders = readdirSync(path.join(repoRoot, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `src/${d.name}`);
    for (const folder of [...folders, 'plugins/polars']) {
      const config = (await eslint.calculateConfigForFile(path.join(repoRoot, folder, 'x.ts'))) as {
        rules: Record<string, unknown[]>;
      };
      expect(config.rules['@typescript-eslint/no-restricted-imports']?.[0], folder).toBe(2);
      expect(config.rules['no-restricted-syntax']?.[0], folder).toBe(2);
    }
  });
});
