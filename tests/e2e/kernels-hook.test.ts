// The kernels hook in a real `dumbo run`: the run host hands the engine's op table to the hook before the
// model is built, the models then call the plugin's op, and the next run starts from the defaults again.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineConfig } from '../fixtures/configs.js';
import { runDumbo, tempDir, writeFiles } from '../helpers.js';

// Replaces gelu_new by a counting copy of GPT-2's formula (same values), and reports the count at finish.
const countingGeluJs = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ok } from 'dumbo';
import { tf } from 'dumbo/engine';
let calls = 0;
const geluNew = (x) => {
  calls += 1;
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
};
export class CountingGelu {
  static configKey = 'counting_gelu';
  hooks() {
    return {
      kernels: (registry, ctx) => {
        registry.register('gelu_new', geluNew, { plugin: ctx.plugin });
        return Ok(registry);
      },
      finish: (ctx) => {
        writeFileSync(join(ctx.runFolder, 'gelu-calls.txt'), String(calls));
        return Ok(undefined);
      },
    };
  }
}
export const AVAILABLE_PLUGINS = [CountingGelu];
`;

describe('the kernels hook in a run', () => {
  it("replaces an op of the engine's models for the run", async () => {
    const yaml = engineConfig({ steps: 2, saveEvery: 0, plugins: ['./counting_gelu'] });
    const dir = writeFiles(tempDir(), { 'counting_gelu/index.js': countingGeluJs, 'run.yaml': yaml });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    // 1 layer: one gelu per forward; 2 steps x 2 micro-batches of training, evaluation and sampling add more.
    expect(Number(readFileSync(path.join(dir, 'out', 'gelu-calls.txt'), 'utf8'))).toBeGreaterThanOrEqual(4);
    const trace = readFileSync(path.join(dir, 'out', 'trace.jsonl'), 'utf8');
    const hooks = trace
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).hook as string);
    expect(hooks.indexOf('kernels')).toBeLessThan(hooks.indexOf('model_loader'));
  });
});
