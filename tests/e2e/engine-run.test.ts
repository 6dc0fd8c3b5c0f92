import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeLoggerJs } from '../fixtures/plugins.js';
import { engineConfig } from '../fixtures/configs.js';
import { loadAddon } from '../../src/engine/native-cpu/addon.js';
import { dumboBin, lastLine, repoRoot, runDumbo, tempDir, writeFiles } from '../helpers.js';

const quickstart = path.join(repoRoot, 'resources', 'quickstart');

// A real run with every plugin of the engine (transformers, polars, jinja_formatter,
// transformers_trainer, console_logger, file_logger) plus a third-party logging plugin, small enough for CI.
function config(extra: { steps?: number; saveEvery?: number; resume?: boolean } = {}): string {
  return engineConfig({ ...extra, plugins: ['./probe'], extra: 'probe:\n  record: calls.jsonl\n' });
}

function jsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The value of each step's metric, the last one written winning (a resumed run appends). */
function byStep(metrics: Record<string, unknown>[], name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of metrics) if (m.name === name) out.set(m.step as number, m.value as number);
  return out;
}

describe('a run with every engine plugin, end to end', () => {
  it('trains, evaluates, checkpoints, samples and saves a Hugging Face folder; every hook reaches a third-party plugin in order', async () => {
    const dir = writeFiles(tempDir(), { 'probe/index.js': probeLoggerJs(), 'run.yaml': config() });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(r.stderr).toContain('run completed, 12 steps');
    expect(r.code).toBe(0);
    const out = path.join(dir, 'out');
    expect(lastLine(r.stderr)).toMatch(/^sample: Once upon a time/);

    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    // auto: native-cpu where its addon built (CI), else the pure-JS cpu backend
    const backend = loadAddon().addon ? 'native-cpu' : 'cpu';
    expect(run).toMatchObject({ status: 'completed', exitCode: 0, steps: 12, backend });
    expect(run.backendReason).toContain('@tensorflow/tfjs-node');
    expect((run.versions as { tfjs: string }).tfjs).toBe('4.22.0');

    const metrics = jsonl(path.join(out, 'metrics.jsonl'));
    for (const name of ['loss', 'lr', 'grad_norm', 'tokens_per_s', 'step_time_s', 'tensor_bytes']) {
      expect([...byStep(metrics, name).keys()], name).toEqual([...Array(12).keys()].map((i) => i + 1));
    }
    expect([...byStep(metrics, 'eval/loss').keys()]).toEqual([4, 8, 12]);
    const evalLoss = byStep(metrics, 'eval/loss').get(12)!;
    expect(byStep(metrics, 'eval/perplexity').get(12)).toBeCloseTo(Math.exp(evalLoss), 6);
    const loss = [...byStep(metrics, 'loss').values()];
    expect(loss[11]!).toBeLessThan(loss[0]!);

    // Checkpoints: the last two kept, each complete; final/ is a Hugging Face folder.
    expect(readdirSync(path.join(out, 'checkpoints')).sort()).toEqual(['step-12', 'step-8']);
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'config.json']) {
      expect(existsSync(path.join(out, 'checkpoints', 'step-12', f)), f).toBe(true);
    }
    expect(readdirSync(path.join(out, 'final')).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(jsonl(path.join(out, 'samples.jsonl')).map((s) => s.step)).toEqual([6, 12]);
    expect(readFileSync(path.join(out, 'training.log'), 'utf8')).toMatch(
      / model_info \{"architecture":"GPT2LMHeadModel"/,
    );

    // The third-party plugin saw every hook of the table, in the order of DESIGN.md.
    const hooks = jsonl(path.join(out, 'calls.jsonl'))
      .map((c) => c.hook as string | undefined)
      .filter((h): h is string => h !== undefined);
    const steps = Array.from({ length: 12 }, () => ['log_step', 'log_metrics']).flat();
    expect(hooks).toEqual([
      'log_init',
      'metrics_collector',
      'log_model',
      'log_dataset',
      'log_hyperparameters',
      'log_training_start',
      ...steps,
      'log_training_end',
      'finish',
    ]);
    const trace = jsonl(path.join(out, 'trace.jsonl'));
    expect(trace.filter((t) => t.hook === 'trainer').map((t) => t.plugin)).toEqual(['transformers_trainer']);
    expect(trace.every((t) => t.ok === true)).toBe(true);

    // The trained model scores a text and generates, from the CLI.
    const score = await runDumbo(
      ['score', '--model', path.join(out, 'final'), '--text', path.join(quickstart, 'README.md'), '--json'],
      { cwd: dir },
    );
    expect(score.code).toBe(0);
    const s = JSON.parse(lastLine(score.stdout)) as { loss: number; tokens: number; perplexity: number };
    expect(s.tokens).toBeGreaterThan(100);
    expect(s.loss).toBeGreaterThan(0);
  });

  it('a run killed mid-training resumes from its last checkpoint with the same losses as an uninterrupted run', async () => {
    const probe = probeLoggerJs();
    const steps = 30;
    // Uninterrupted.
    const a = writeFiles(tempDir(), { 'probe/index.js': probe, 'run.yaml': config({ steps, saveEvery: 5 }) });
    const ra = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: a });
    expect(ra.code).toBe(0);
    const lossA = byStep(jsonl(path.join(a, 'out', 'metrics.jsonl')), 'loss');

    // Killed (SIGKILL to the CLI and its run host) a few steps after the step-10 checkpoint, so that the
    // resumed run repeats steps that metrics.jsonl already holds.
    const b = writeFiles(tempDir(), { 'probe/index.js': probe, 'run.yaml': config({ steps, saveEvery: 5 }) });
    const child = spawn(process.execPath, [dumboBin, 'run', 'run.yaml', '--output', 'out'], {
      cwd: b,
      detached: true,
      stdio: 'ignore',
    });
    const killedAt = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const metrics = path.join(b, 'out', 'metrics.jsonl');
        const logged = existsSync(metrics) ? byStep(jsonl(metrics), 'loss').size : 0;
        if (existsSync(path.join(b, 'out', 'checkpoints', 'step-10', 'trainer_state.json')) && logged >= 12) {
          clearInterval(timer);
          process.kill(-child.pid!, 'SIGKILL');
          resolve(byStep(jsonl(metrics), 'loss').size);
        }
      }, 10);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('the run ended before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    expect(killedAt).toBeLessThan(steps);
    const killed = JSON.parse(readFileSync(path.join(b, 'out', 'run.json'), 'utf8')) as {
      status: string;
      startedAt: string;
    };
    expect(killed.status).toBe('running');

    // Resumed in the same folder from the newest complete checkpoint.
    writeFiles(b, { 'run.yaml': config({ steps, saveEvery: 5, resume: true }) });
    const rb = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: b });
    expect(rb.stderr).toMatch(/resumed from .*checkpoints\/step-(10|15|20|25) at step (10|15|20|25)/);
    expect(rb.code).toBe(0);
    const metricsB = jsonl(path.join(b, 'out', 'metrics.jsonl'));
    const lossB = byStep(metricsB, 'loss');
    expect([...lossB.keys()].sort((x, y) => x - y)).toEqual([...lossA.keys()]);
    // The steps after the checkpoint ran twice; metrics.jsonl holds each once (cut back at the resume).
    expect(metricsB.filter((m) => m.name === 'loss')).toHaveLength(steps);
    for (const [step, value] of lossA) expect(lossB.get(step), `step ${step}`).toBeCloseTo(value, 6);
    const run = JSON.parse(readFileSync(path.join(b, 'out', 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(run).toMatchObject({ status: 'completed', steps, resumeFrom: 'latest', startedAt: killed.startedAt });
    const resumes = run.resumes as { step: number }[];
    expect(resumes).toEqual([
      { at: expect.any(String), checkpoint: expect.stringMatching(/step-(10|15|20|25)$/), step: expect.any(Number) },
    ]);
    expect(killedAt).toBeGreaterThan(resumes[0]!.step); // steps were repeated, and recorded once
  }, 300_000); // three runs of the engine: a budget of its own, not the suite's 60 s per test
});
