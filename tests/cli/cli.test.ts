import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needyJs, probeLoggerJs, toyTrainerJs, failingLoaderJs } from '../fixtures/plugins.js';
import { lastLine, runDumbo, tempDir, writeFiles } from '../helpers.js';

function jsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('dumbo CLI', () => {
  it('--version and --help', async () => {
    const v = await runDumbo(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^dumbo \d+\.\d+\.\d+\n$/);
    const h = await runDumbo(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('dumbo run CONFIG [--output DIR]');
  });

  it('bad usage exits 2', async () => {
    const r = await runDumbo(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("dumbo: unknown command 'frobnicate'");
    expect((await runDumbo(['run', '--nope', 'x.yaml'])).code).toBe(2);
  });

  it('validate lists a plugin folder that lives outside the repo, named by path, with what it provides', async () => {
    const dir = writeFiles(tempDir(), {
      'ext/probe/index.js': probeLoggerJs(),
      'run.yaml': 'plugins:\n  - file_logger\n  - ./ext/probe\n',
    });
    const r = await runDumbo(['validate', 'run.yaml', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '1. file_logger FileLoggingPlugin [file_logger] (built-in) provides: logging, metrics_collector',
    );
    expect(r.stdout).toContain('2. ./ext/probe ProbeLogger [probe] (path) provides: logging, probe');
    const json = JSON.parse(lastLine(r.stdout)) as { valid: boolean; plugins: { name: string; location: string }[] };
    expect(json.valid).toBe(true);
    expect(json.plugins[1]).toMatchObject({ name: './ext/probe', location: path.join(dir, 'ext/probe') });
  });

  it('a missing capability fails validate and run with exit 2, naming plugin and capability, before any hook runs', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'hook-ran.txt');
    writeFiles(dir, {
      'needy/index.js': needyJs,
      'run.yaml': `plugins:\n  - ./needy\nprobe_needy:\n  record: ${marker}\n`,
    });
    for (const cmd of [['validate', 'run.yaml'], ['run', 'run.yaml'], ['run.yaml']]) {
      const r = await runDumbo(cmd, { cwd: dir });
      expect(r.code).toBe(2);
      expect(lastLine(r.stderr)).toBe("run.yaml:2:5: probe_needy requires 'x', which no loaded plugin provides");
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(path.join(dir, 'runs'))).toBe(false);
  });

  it('a YAML error is reported as FILE:LINE:COL with exit 2, and a stack only with --verbose', async () => {
    const dir = writeFiles(tempDir(), {
      'bad.yaml': 'plugins:\n  - file_logger\nfile_logger:\n  log_path: x\n  oops\n',
    });
    const r = await runDumbo(['run', 'bad.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe(
      'bad.yaml:5:3: YAML syntax error: Implicit map keys need to be followed by map values',
    );
    expect(r.stderr).not.toContain('    at ');
    const v = await runDumbo(['validate', 'bad.yaml', '--verbose'], { cwd: dir });
    expect(v.stderr).toContain('    at ');
    expect(lastLine(v.stderr)).toBe(
      'bad.yaml:5:3: YAML syntax error: Implicit map keys need to be followed by map values',
    );
  });

  it('a schema error is reported at its line and column with exit 2', async () => {
    const dir = writeFiles(tempDir(), { 'c.yaml': 'plugins: [file_logger]\nfile_logger:\n  log_path: 12\n' });
    const r = await runDumbo(['validate', 'c.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe('c.yaml:3:13: file_logger.log_path: expected string, got number 12');
  });

  it('an unknown plugin exits 2 naming it', async () => {
    const dir = writeFiles(tempDir(), { 'c.yaml': 'plugins: [not_a_plugin]\n' });
    const r = await runDumbo(['run', 'c.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(
      /^c\.yaml:1:11: unknown plugin 'not_a_plugin': not a built-in plugin \(console_logger, early_stopping, file_logger, /,
    );
  });

  it('run trains with a third-party trainer and writes the run folder', async () => {
    const dir = tempDir();
    const rec = path.join(dir, 'calls.jsonl');
    writeFiles(dir, {
      'probe/index.js': probeLoggerJs(),
      'trainer/index.js': toyTrainerJs,
      'run.yaml': `plugins: [file_logger, ./probe, ./trainer]\nprobe: {record: ${rec}}\ntoy_trainer: {steps: 4}\n`,
    });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(r.stderr).toContain('run completed, 4 steps, final loss 1.6384; run folder: ' + path.join(dir, 'out'));
    expect(r.code).toBe(0);
    const out = path.join(dir, 'out');
    for (const f of ['config.yaml', 'run.json', 'metrics.jsonl', 'trace.jsonl', 'log.txt', 'training.log']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(run).toMatchObject({ status: 'completed', exitCode: 0, exitReason: 'completed', steps: 4 });
    expect((run.versions as { plugins: { name: string; hash: string }[] }).plugins.map((p) => p.name)).toEqual([
      'file_logging_plugin',
      'probe_logger',
      'toy_trainer',
    ]);
    const metrics = jsonl(path.join(out, 'metrics.jsonl'));
    expect(metrics.filter((m) => m.name === 'loss').map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(Object.keys(metrics[0]!).sort()).toEqual(['name', 'step', 'tags', 'timestamp', 'value']);
    const trace = jsonl(path.join(out, 'trace.jsonl'));
    expect(trace.filter((t) => t.hook === 'log_step')).toHaveLength(4);
    expect(trace[0]).toMatchObject({ hook: 'log_init', plugin: 'file_logging_plugin', ok: true });
    expect(readFileSync(path.join(out, 'training.log'), 'utf8')).toMatch(/step=4 loss=1\.63840/);
    // Running into the same folder again never overwrites the earlier run.
    const again = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(lastLine(again.stderr)).toBe(
      `${out}: the run folder ${out} already holds a run (run.json): choose another --output or output_dir, or continue it with --resume`,
    );
    expect(JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'))).toEqual(run);
  });

  it('a failing loader exits 1 with the error last, and finish still ran', async () => {
    const dir = tempDir();
    const rec = path.join(dir, 'calls.jsonl');
    writeFiles(dir, {
      'probe/index.js': probeLoggerJs(),
      'broken/index.js': failingLoaderJs,
      'run.yaml': `plugins: [./probe, ./broken]\nprobe: {record: ${rec}}\nbroken: {}\n`,
    });
    const r = await runDumbo(['run', 'run.yaml', '-o', 'out'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe('run.yaml:3:1: model_loader failed: broken_loader: no model folder at ./nowhere');
    expect(
      jsonl(rec)
        .map((x) => x.hook)
        .filter(Boolean),
    ).toEqual(['log_init', 'metrics_collector', 'finish']);
    expect(JSON.parse(readFileSync(path.join(dir, 'out', 'run.json'), 'utf8'))).toMatchObject({
      status: 'failed',
      exitCode: 1,
    });
  });

  it('observer failures are summarized and do not change the exit code', async () => {
    const dir = writeFiles(tempDir(), {
      'probe/index.js': probeLoggerJs({ throwIn: 'log_metrics' }),
      'trainer/index.js': toyTrainerJs,
      'run.yaml': 'plugins: [./probe, ./trainer]\ntoy_trainer: {steps: 2}\n',
    });
    const r = await runDumbo(['run', 'run.yaml'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('2 observer hook call(s) failed; the run went on:');
    expect(r.stderr).toContain('probe_logger.log_metrics: probe exploded in log_metrics');
    expect(existsSync(path.join(dir, 'runs'))).toBe(true);
  });

  it('Ctrl-C stops a run whose steps block the event loop: exit 130, status stopped, files kept', async () => {
    const dir = writeFiles(tempDir(), {
      'trainer/index.js': toyTrainerJs,
      'run.yaml': 'plugins: [./trainer]\ntoy_trainer: {steps: 1000, busy_ms: 200}\n',
    });
    let sent = false;
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], {
      cwd: dir,
      onStderr: (text, child) => {
        if (!sent && text.includes('run folder:')) {
          sent = true;
          // Let a few steps run, then interrupt like a terminal does (the CLI's process only).
          setTimeout(() => child.kill('SIGINT'), 700);
        }
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('stopping (SIGINT): finishing the current step and saving');
    const run = JSON.parse(readFileSync(path.join(dir, 'out', 'run.json'), 'utf8')) as {
      status: string;
      steps: number;
    };
    expect(run.status).toBe('stopped');
    expect(run.steps).toBeGreaterThan(0);
    expect(run.steps).toBeLessThan(1000);
    expect(jsonl(path.join(dir, 'out', 'metrics.jsonl')).filter((m) => m.name === 'loss')).toHaveLength(run.steps);
  });

  it("plugins lists the catalog with the config's plugins marked, and load errors", async () => {
    const user = writeFiles(tempDir(), {
      'broken/index.js': 'export const AVAILABLE_PLUGINS = 3;\n',
      'probe/index.js': probeLoggerJs(),
    });
    const dir = writeFiles(tempDir(), { 'run.yaml': 'plugins: [file_logger, probe]\n' });
    const r = await runDumbo(['plugins', 'run.yaml', '--plugin-path', user, '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('* file_logger FileLoggingPlugin [file_logger] (builtin: ');
    expect(r.stdout).toContain('    provides: logging, metrics_collector; requires: -; conflicts: -');
    expect(r.stdout).toContain('  console_logger ConsoleLoggerPlugin [console_logger]');
    expect(r.stdout).toContain('* probe ProbeLogger [probe] (user: ');
    expect(r.stdout).toContain(
      `    load error: ${path.join(user, 'broken/index.js')}: exports no AVAILABLE_PLUGINS array`,
    );
    const json = JSON.parse(lastLine(r.stdout)) as { plugins: { name: string; used: boolean }[] };
    expect(json.plugins.filter((p) => p.used).map((p) => p.name)).toEqual(['file_logger', 'probe']);
  });
});
