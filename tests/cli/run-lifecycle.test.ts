// How `dumbo run` ends, through the real CLI: each test is a way a run once lost work or lied — a SIGTERM
// that did not checkpoint, a parent killed under a running host, two hosts in one folder, `--output .` over
// the user's files, resuming by hand, silent progress in a log file, a hook that hangs. Waits are on
// events (files, output), never on the machine's speed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineConfig } from '../fixtures/configs.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { dumboBin, runDumbo, tempDir, writeFiles } from '../helpers.js';

interface Record {
  status: string;
  exitCode?: number;
  exitReason?: string;
  steps?: number;
  startedAt: string;
  resumes?: { step?: number }[];
}

const runJson = (folder: string) => JSON.parse(readFileSync(path.join(folder, 'run.json'), 'utf8')) as Record;

/** Resolves once `test()` holds, checking every 20 ms (a test's own timeout bounds it). */
async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((r) => setTimeout(r, 20));
}

/** Steps in metrics.jsonl so far. */
function stepsLogged(folder: string): number {
  try {
    return readFileSync(path.join(folder, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"name":"loss"')).length;
  } catch {
    return 0;
  }
}

// A pseudo-terminal for the hangup test: Python's pty module (python3 is installed with PyTorch in CI).
const havePty = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;
if (!havePty) console.warn('skipping the terminal hangup test: python3 with its pty module is not installed');

describe('dumbo run: signals', () => {
  it('SIGTERM stops like Ctrl-C: the step finishes, a checkpoint is saved, status stopped, exit 143', async () => {
    const dir = writeFiles(tempDir(), { 'run.yaml': engineConfig({ steps: 400, saveEvery: 50 }) });
    const out = path.join(dir, 'out');
    let sent = false;
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], {
      cwd: dir,
      onStderr: (_text, child) => {
        if (!sent && stepsLogged(out) >= 3) {
          sent = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('stopping (SIGTERM): finishing the current step and saving');
    const run = runJson(out);
    expect(run).toMatchObject({ status: 'stopped', exitCode: 143, exitReason: 'stopped by SIGTERM' });
    // Stopped at step N (< save_every): step N is saved all the same.
    expect(readdirSync(path.join(out, 'checkpoints'))).toEqual([`step-${run.steps}`]);
    expect(r.stderr).toContain('to continue it: dumbo resume out');
  }, 120_000);

  it('SIGHUP (a closed terminal) stops it too, with exit 129', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'plugins: [./t]\ntoy_trainer: {steps: 1000, busy_ms: 20}\n',
    });
    let sent = false;
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], {
      cwd: dir,
      onStderr: (_text, child) => {
        if (!sent && stepsLogged(path.join(dir, 'out')) >= 2) {
          sent = true;
          child.kill('SIGHUP');
        }
      },
    });
    expect(r.code).toBe(129);
    expect(runJson(path.join(dir, 'out'))).toMatchObject({ status: 'stopped', exitReason: 'stopped by SIGHUP' });
  }, 60_000);

  it.skipIf(!havePty)(
    'a terminal that closes under the run (a real hangup): checkpoint, stopped, ended by SIGHUP, no abort',
    async () => {
      // In a pseudo-terminal, as in an SSH session: closing it sends SIGHUP, and the terminal is gone for
      // both processes' writes (EIO) and for Node's restoring of its settings at exit (an abort before).
      const dir = writeFiles(tempDir(), {
        'run.yaml': engineConfig({ steps: 400, saveEvery: 1000 }),
        'hangup.py': `import json, os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while '"name":"loss"' not in (open('out/metrics.jsonl').read() if os.path.exists('out/metrics.jsonl') else ''):
    if select.select([fd], [], [], 0.05)[0]:
        try:
            os.read(fd, 65536)
        except OSError:
            break
os.close(fd)
_, status = os.waitpid(pid, 0)
print(json.dumps({'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, 'code': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}))
`,
      });
      const out = path.join(dir, 'out');
      const py = spawnSync('python3', ['hangup.py', process.execPath, dumboBin, 'run', 'run.yaml', '--output', 'out'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(py.status, py.stderr).toBe(0);
      // Killed by SIGHUP (1), which a shell reports as 129; not SIGABRT (6).
      expect(JSON.parse(py.stdout)).toEqual({ signal: 1, code: null });
      await until(() => existsSync(path.join(out, 'run.json')) && runJson(out).status !== 'running');
      const run = runJson(out);
      expect(run).toMatchObject({ status: 'stopped', exitReason: 'stopped by SIGHUP', exitCode: 129 });
      expect(readdirSync(path.join(out, 'checkpoints'))).toEqual([`step-${run.steps}`]);
      await until(() => !existsSync(path.join(out, '.lock')));
    },
    120_000,
  );

  it('when `dumbo run` is killed (SIGKILL), its run host checkpoints and records why it stopped', async () => {
    const dir = writeFiles(tempDir(), { 'run.yaml': engineConfig({ steps: 400, saveEvery: 50 }) });
    const out = path.join(dir, 'out');
    const child = spawn(process.execPath, [dumboBin, 'run', 'run.yaml', '--output', 'out'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.resume();
    await until(() => stepsLogged(out) >= 3);
    child.kill('SIGKILL'); // the CLI only: its run host lives on, orphaned
    await until(() => existsSync(path.join(out, 'run.json')) && runJson(out).status !== 'running');
    const run = runJson(out);
    expect(run.status).toBe('stopped');
    // The pid of the `dumbo` that was killed (not of whoever adopted the orphan).
    expect(run.exitReason).toBe(`stopped: the process that started the run (pid ${child.pid}) went away`);
    expect(readdirSync(path.join(out, 'checkpoints'))).toEqual([`step-${run.steps}`]);
    await until(() => !existsSync(path.join(out, '.lock'))); // and it has let the folder go
  }, 120_000);
});

describe("dumbo run: one host per folder, never over the user's files", () => {
  it('refuses a second run host in a folder whose run is live, naming the owner', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'name: busy\nplugins: [./t]\ntoy_trainer: {steps: 100000, busy_ms: 5}\n',
    });
    const out = path.join(dir, 'out');
    const first = spawn(process.execPath, [dumboBin, 'run', 'run.yaml', '--output', 'out'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    first.stderr.resume();
    await until(() => stepsLogged(out) >= 2);
    const second = await runDumbo(['run', 'run.yaml', '--resume', 'out'], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/the run folder .*out is in use by another run \(pid \d+ on .*, started .*\)/);
    const exited = new Promise((r) => first.on('exit', r));
    first.kill('SIGINT');
    await exited;
    expect(runJson(out).status).toBe('stopped'); // the first run was not disturbed
  }, 60_000);

  it('takes over the lock of a run host that died, and says so', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'name: again\nplugins: [./t]\ntoy_trainer: {steps: 3}\n',
    });
    const first = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(first.code).toBe(0);
    const dead = { pid: 2 ** 22 + 4321, host: (await import('node:os')).hostname(), startedAt: '2026-01-01T00:00:00Z' };
    writeFileSync(path.join(dir, 'out', '.lock'), JSON.stringify(dead));
    const again = await runDumbo(['run', 'run.yaml', '--resume', 'out'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(readFileSync(path.join(dir, 'out', 'log.txt'), 'utf8')).toContain(
      `took over the run folder from pid ${dead.pid} (started 2026-01-01T00:00:00Z), which is no longer running`,
    );
  }, 60_000);

  it("`--output .` in the config's own folder is refused, and the config file keeps its comments", async () => {
    const yaml = '# my config, with comments\nplugins: [./t]\ntoy_trainer: {steps: 2}\n';
    const dir = writeFiles(tempDir(), { 't/index.js': toyTrainerJs, 'config.yaml': yaml });
    const r = await runDumbo(['run', 'config.yaml', '--output', '.'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `${dir}: the run folder ${dir} is not empty and holds no run (config.yaml, t): a run goes in a new or empty folder, so that none of your files is overwritten`,
    );
    expect(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).toBe(yaml);
    expect(existsSync(path.join(dir, 'run.json'))).toBe(false);
  });
});

describe('resuming from the command line', () => {
  it('dumbo resume RUN continues a stopped run from anywhere, with the paths of the config it came from', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      // A relative plugin path: relative to this config's folder, not to the run folder or the cwd.
      'project/run.yaml': 'name: toy\nplugins: [../t]\ntoy_trainer: {steps: 40, busy_ms: 20}\n',
    });
    const out = path.join(dir, 'project', 'runs', 'first');
    let sent = false;
    const stopped = await runDumbo(['run', 'project/run.yaml', '--output', out], {
      cwd: dir,
      onStderr: (_t, child) => {
        if (!sent && stepsLogged(out) >= 3) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(stopped.code).toBe(130);
    const before = runJson(out);
    const elsewhere = tempDir();
    const resumed = await runDumbo(['resume', out], { cwd: elsewhere });
    expect(resumed.stderr).toContain('run completed, 40 steps');
    expect(resumed.code).toBe(0);
    const after = runJson(out);
    expect(after).toMatchObject({ status: 'completed', steps: 40, startedAt: before.startedAt });
    expect(after.resumes).toHaveLength(1);
  }, 60_000);

  it('`resume_from: latest` with no folder continues the newest run of that name', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'name: toy\nplugins: [./t]\ntoy_trainer: {steps: 3}\n',
    });
    const first = await runDumbo(['run', 'run.yaml'], { cwd: dir });
    expect(first.code).toBe(0);
    const [folder] = readdirSync(path.join(dir, 'runs'));
    writeFileSync(
      path.join(dir, 'run.yaml'),
      'name: toy\nresume_from: latest\nplugins: [./t]\ntoy_trainer: {steps: 3}\n',
    );
    const again = await runDumbo(['run', 'run.yaml'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(readdirSync(path.join(dir, 'runs'))).toEqual([folder]);
    expect(runJson(path.join(dir, 'runs', folder!)).resumes).toHaveLength(1);

    writeFileSync(path.join(dir, 'other.yaml'), 'name: other\nresume_from: latest\nplugins: [./t]\n');
    const none = await runDumbo(['run', 'other.yaml'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/resume_from: latest, but .*runs holds no earlier run named 'other' to continue/);
  }, 60_000);
});

describe('what a run says while it runs', () => {
  it('prints a progress line every N steps when stderr is not a terminal (CI logs, nohup)', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'plugins: [./t]\ntoy_trainer: {steps: 30}\n',
    });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir, env: { DUMBO_PROGRESS_EVERY: '10' } });
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => /^step \d+\/30/.test(l));
    expect(lines.map((l) => Number(/^step (\d+)/.exec(l)![1]))).toEqual(expect.arrayContaining([10, 20, 30]));
    expect(lines.at(-1)).toMatch(/^step 30\/30 loss 0\.\d{4}( .* tokens\/s)?( ETA \S+)?$/);
  });

  it('names a hook that has not returned for the watch period (60 s by default)', async () => {
    const slowJs = `import { LoggingPlugin, Ok } from 'dumbo';
export class SlowLogger extends LoggingPlugin {
  static configKey = 'slow_logger';
  static provides = ['logging'];
  logMetrics(metrics, step) {
    if (step === 2) { const until = Date.now() + 2500; while (Date.now() < until) {} }
    return Ok(undefined);
  }
}
export const AVAILABLE_PLUGINS = [SlowLogger];
`;
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      's/index.js': slowJs,
      'run.yaml': 'plugins: [./t, ./s]\ntoy_trainer: {steps: 3}\n',
    });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], {
      cwd: dir,
      env: { DUMBO_HOOK_WATCH_MS: '1000' },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: plugin slow_logger: hook log_metrics has not returned for [12] s/);
    // The trainer hook runs the whole training (here > 2.5 s): it is not a hung hook.
    expect(r.stderr).not.toMatch(/hook trainer has not returned/);
  });
});
