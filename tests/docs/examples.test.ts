import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareRun, runLifecycle, setConsoleLogLevel } from '../../src/core/index.js';
import { listCheckpoints, readSafetensors } from '../../src/engine/index.js';
import { listExamples } from '../../src/services/library.js';
import { engineConfig } from '../fixtures/configs.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { lastLine, repoRoot, runDumbo, tempDir, writeFiles } from '../helpers.js';

// The example plugins of docs/plugins.md, loaded by path from a config outside the repository.
describe('docs/plugins.md examples', () => {
  it('loss_alarm (TS) and csv_metrics (JS) take part in a real run', async () => {
    const examples = path.join(repoRoot, 'docs', 'examples');
    const dir = writeFiles(tempDir(), {
      'trainer/index.js': toyTrainerJs,
      'run.yaml': [
        'plugins:',
        `  - ${path.join(examples, 'loss_alarm')}`,
        `  - ${path.join(examples, 'csv_metrics')}`,
        '  - ./trainer',
        'loss_alarm:',
        '  max_loss: 2.0',
        'toy_trainer:',
        '  steps: 5',
        '',
      ].join('\n'),
    });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(r.code).toBe(0);
    // toy loss: 3.2, 2.56, 2.048, 1.6384, 1.31072 -> three steps above 2.0
    expect(r.stderr).toContain('[loss_alarm] warning: step 1: loss 3.2000 is above 2');
    expect(readFileSync(path.join(dir, 'out', 'loss_alarm.txt'), 'utf8')).toBe('3 of 5 steps above 2\n');
    const csv = readFileSync(path.join(dir, 'out', 'metrics.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('step,name,value,timestamp');
    expect(csv.filter((l) => l.includes(',loss,'))).toHaveLength(5);
  });

  it("loss_alarm's schema requires max_loss", async () => {
    const dir = writeFiles(tempDir(), {
      'run.yaml': `plugins:\n  - ${path.join(repoRoot, 'docs', 'examples', 'loss_alarm')}\nloss_alarm:\n  report: x.txt\n`,
    });
    const r = await runDumbo(['validate', 'run.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe("run.yaml:4:3: loss_alarm: missing required field 'max_loss'");
  });
});

// The Plugin API v2 examples: a trainer callback and a compute_loss override, with the built-in trainer.
describe('docs/plugins.md examples with the built-in trainer', () => {
  const examples = path.join(repoRoot, 'docs', 'examples');

  /** Runs an engine config (quickstart data, tiny GPT-2) with extra plugins; the losses by step and the folder. */
  async function run(plugins: string[], extra: string, steps = 12) {
    const dir = tempDir();
    const yaml = engineConfig({ steps, saveEvery: 0, plugins, extra }).replace(/\s+- console_logger\n/, '\n');
    writeFileSync(path.join(dir, 'run.yaml'), yaml);
    const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    const losses: number[] = [];
    const outcome = await runLifecycle(prepared, { runFolder: dir, onStep: (s) => void losses.push(s.loss!) });
    expect(outcome.error).toBeUndefined();
    return { dir, losses, outcome };
  }

  it('loss_target (a trainer callback) saves when the loss first reaches its target and then stops the run', async () => {
    setConsoleLogLevel('off');
    // Every loss is below 100: saved at step 1 (asked), stopped after 3 steps below, saved again at the end.
    const { dir, losses, outcome } = await run(
      [path.join(examples, 'loss_target')],
      'loss_target:\n  target: 100\n  steps_below: 3\n',
    );
    expect(outcome.summary).toMatchObject({ steps: 3, earlyStopped: true });
    expect(losses).toHaveLength(3);
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([1, 3]);
  });

  it('z_loss (a compute_loss override) trains on the cross-entropy plus coefficient x mean(logsumexp²)', async () => {
    setConsoleLogLevel('off');
    const plain = await run([], '', 1);
    const zero = await run([path.join(examples, 'z_loss')], 'z_loss:\n  coefficient: 0\n', 1);
    const z = await run([path.join(examples, 'z_loss')], 'z_loss:\n  coefficient: 0.01\n', 1);
    // Same seed, same first batch: coefficient 0 is the plain loss exactly; a positive one adds log Z² > 0.
    expect(zero.losses[0]).toBe(plain.losses[0]);
    expect(z.losses[0]!).toBeGreaterThan(plain.losses[0]!);
    // log Z of a fresh model over 512 tokens is about log(512) = 6.2: z-loss adds about 0.01 * 6.2².
    expect(z.losses[0]! - plain.losses[0]!).toBeCloseTo(0.01 * Math.log(512) ** 2, 0);
  });
});

// The example configs of resources/examples: the gallery's index describes each (what it shows, how long it
// takes), and the full fine-tune of the quickstart model trains every weight.
describe('resources/examples', () => {
  const examples = path.join(repoRoot, 'resources', 'examples');

  it('every example has a card in index.json (a description and a measured duration), the quickstart first', () => {
    const files = readdirSync(examples).filter((n) => n.endsWith('.yaml'));
    const index = JSON.parse(readFileSync(path.join(examples, 'index.json'), 'utf8')) as { file: string }[];
    expect(index.map((e) => e.file).sort()).toEqual(files.sort());
    const listed = listExamples(examples);
    expect(listed.map((e) => e.name)).toEqual(index.map((e) => e.file.replace(/\.yaml$/, '')));
    expect(listed[0]!.name).toBe('quickstart');
    for (const e of listed) {
      expect(e.description.length, e.name).toBeGreaterThan(40);
      expect(e.duration, e.name).toMatch(/\d|few/);
      expect(e.text).toBe(readFileSync(e.path, 'utf8'));
    }
    // The examples that fine-tune the quickstart's model say so, and point where it is made.
    for (const name of ['full-sft', 'lora-sft']) {
      expect(listed.find((e) => e.name === name)!.needs).toMatch(/quickstart.*--output runs\/quickstart/);
      expect(readFileSync(path.join(examples, `${name}.yaml`), 'utf8')).toContain(
        'base_model: ../../runs/quickstart/final',
      );
    }
  });

  it('full-sft.yaml fine-tunes every weight of a trained model on prompt/response rows: the eval loss falls', async () => {
    setConsoleLogLevel('off');
    // A small trained base stands in for the quickstart's (which takes minutes): 1 layer, 64 positions.
    const baseDir = tempDir();
    const baseYaml = engineConfig({ steps: 20, saveEvery: 0 })
      .replace('learning_rate: 0.01', 'learning_rate: 0.03')
      .replace('n_positions: 32', 'n_positions: 64'); // the example's max_length is 48
    writeFileSync(path.join(baseDir, 'run.yaml'), baseYaml);
    const base = await prepareRun(path.join(baseDir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    expect((await runLifecycle(base, { runFolder: baseDir })).error).toBeUndefined();
    const baseModel = path.join(baseDir, 'final');

    // The example as shipped, on that base, for 20 steps; its data paths made absolute.
    const yaml = readFileSync(path.join(examples, 'full-sft.yaml'), 'utf8')
      .replace(/base_model: .*/, `base_model: ${baseModel}`)
      .replace(/max_steps: \d+/, 'max_steps: 20')
      .replace(/eval_every: \d+/, 'eval_every: 10')
      .replaceAll('../lora-sft/', path.join(repoRoot, 'resources', 'lora-sft') + '/');
    expect(yaml).toContain('init: pretrained');
    const dir = tempDir();
    writeFileSync(path.join(dir, 'run.yaml'), yaml);
    const prepared = await prepareRun(path.join(dir, 'run.yaml'), { userPluginDir: tempDir('dumbo-user-') });
    const outcome = await runLifecycle(prepared, { runFolder: dir });
    expect(outcome.error).toBeUndefined();
    const log = readFileSync(path.join(dir, 'training.log'), 'utf8');
    const evals = [...log.matchAll(/ eval\/loss=([\d.]+)/g)].map((m) => Number(m[1]));
    expect(evals).toHaveLength(2);
    expect(evals[1]!).toBeLessThan(evals[0]! - 0.05);

    // A whole model, not adapters, and every tensor moved from the base's.
    expect(existsSync(path.join(dir, 'final', 'adapter_model.safetensors'))).toBe(false);
    const before = (await readSafetensors(path.join(baseModel, 'model.safetensors'))).tensors;
    const after = (await readSafetensors(path.join(dir, 'final', 'model.safetensors'))).tensors;
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const unchanged = [...after].filter(([name, t]) => t.data.every((v, i) => v === before.get(name)!.data[i]));
    expect(unchanged.map(([name]) => name)).toEqual([]);
  }, 240_000);
});
