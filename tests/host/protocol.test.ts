import { fork } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isParentMessage, type HostMessage } from '../../src/host/protocol.js';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { repoRoot, tempDir, writeFiles } from '../helpers.js';

const hostEntry = path.join(repoRoot, 'dist', 'host', 'entry.js');

/** Forks the run host like the CLI and the app do, and collects what it says until it exits. */
function host(configFile: string, cwd: string, onMessage?: (m: HostMessage, send: (x: unknown) => void) => void) {
  const child = fork(hostEntry, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const messages: HostMessage[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('message', (m: HostMessage) => {
    messages.push(m);
    onMessage?.(m, (x) => child.connected && child.send(x as object));
  });
  child.send({ type: 'start', configFile, cwd, outputDir: 'out', userPluginDir: tempDir() });
  return new Promise<{ messages: HostMessage[]; code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ messages, code, stderr })),
  );
}

describe('run host protocol', () => {
  it('validates what the parent sends', () => {
    expect(isParentMessage({ type: 'start', configFile: 'a.yaml' })).toBe(true);
    expect(isParentMessage({ type: 'stop' })).toBe(true);
    expect(isParentMessage({ type: 'start', configFile: 3 })).toBe(false);
    expect(isParentMessage({ type: 'start', configFile: 'a', outputDir: {} })).toBe(false);
    expect(isParentMessage('stop')).toBe(false);
    // The app's run of the editor's text, and where it came from.
    expect(isParentMessage({ type: 'start', configFile: 'a', configText: 'x: 1\n', configSource: 'edited' })).toBe(
      true,
    );
    expect(isParentMessage({ type: 'start', configFile: 'a', configText: 1 })).toBe(false);
    expect(isParentMessage({ type: 'start', configFile: 'a', configSource: 'saved' })).toBe(false);
  });

  it("start: streams status, trace and metrics events, then done, and exits with the run's code", async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'plugins: [./t]\ntoy_trainer: {steps: 3}\n',
    });
    const { messages, code } = await host(path.join(dir, 'run.yaml'), dir);
    expect(code).toBe(0);
    const statuses = messages.filter((m) => m.type === 'status').map((m) => (m as { status: string }).status);
    expect(statuses).toEqual(['pending', 'running', 'completed']);
    const losses = messages.flatMap((m) => (m.type === 'metrics' ? m.events.filter((e) => e.name === 'loss') : []));
    expect(losses.map((e) => e.step)).toEqual([1, 2, 3]);
    expect(messages.some((m) => m.type === 'trace' && m.entry.hook === 'trainer')).toBe(true);
    const done = messages[messages.length - 1]!;
    expect(done).toMatchObject({
      type: 'done',
      outcome: { status: 'completed', exitCode: 0, steps: 3, runFolder: path.join(dir, 'out') },
    });
  });

  it('stop: the host finishes the current step and ends with status stopped (exit 130)', async () => {
    const dir = writeFiles(tempDir(), {
      't/index.js': toyTrainerJs,
      'run.yaml': 'plugins: [./t]\ntoy_trainer: {steps: 500, busy_ms: 20}\n',
    });
    let asked = false;
    const { messages, code } = await host(path.join(dir, 'run.yaml'), dir, (m, send) => {
      if (!asked && m.type === 'metrics' && m.events.some((e) => e.name === 'loss' && e.step === 3)) {
        asked = true;
        send({ type: 'stop' });
      }
    });
    expect(code).toBe(130);
    const done = messages.find((m) => m.type === 'done');
    expect(done).toMatchObject({ outcome: { status: 'stopped', exitCode: 130 } });
    const steps = (done as { outcome: { steps: number } }).outcome.steps;
    expect(steps).toBeGreaterThanOrEqual(3);
    expect(steps).toBeLessThan(500);
  });

  it("a plugin's process.exit() fails the run naming the plugin and the hook, instead of ending the host", async () => {
    const dir = writeFiles(tempDir(), {
      'crash/index.js': `import { BasePlugin } from 'dumbo';\nexport class Crasher extends BasePlugin { static provides = ['trainer']; hooks() { return { trainer: () => process.exit(7) }; } }\nexport const AVAILABLE_PLUGINS = [Crasher];\n`,
      'run.yaml': 'plugins: [./crash]\n',
    });
    const { messages, code } = await host(path.join(dir, 'run.yaml'), dir);
    expect(code).toBe(1);
    const done = messages.find((m) => m.type === 'done') as { outcome: { status: string; error: { message: string } } };
    expect(done.outcome.status).toBe('failed');
    expect(done.outcome.error.message).toMatch(/plugin crasher, hook trainer: called process\.exit\(7\)/);
    const { readFileSync } = await import('node:fs');
    expect(JSON.parse(readFileSync(path.join(dir, 'out', 'run.json'), 'utf8'))).toMatchObject({
      status: 'failed',
      exitReason: expect.stringMatching(/plugin crasher, hook trainer: called process\.exit\(7\)/),
    });
  });

  it('crash: an error thrown where no hook catches it ends the host, saying which plugin was running', async () => {
    const dir = writeFiles(tempDir(), {
      'crash/index.js': `import { BasePlugin } from 'dumbo';\nexport class Crasher extends BasePlugin { static provides = ['trainer']; hooks() { return { trainer: () => new Promise(() => { setTimeout(() => { throw new Error('boom in a timer'); }, 10); }) }; } }\nexport const AVAILABLE_PLUGINS = [Crasher];\n`,
      'run.yaml': 'plugins: [./crash]\n',
    });
    const { messages, code } = await host(path.join(dir, 'run.yaml'), dir);
    expect(code).toBe(1);
    expect(messages.some((m) => m.type === 'done')).toBe(false);
    expect(messages.find((m) => m.type === 'exiting')).toEqual({
      type: 'exiting',
      reason: 'plugin crasher, hook trainer: boom in a timer',
    });
  });

  it('a config error comes back as data with its location and exit code 2, with no run folder', async () => {
    const dir = writeFiles(tempDir(), { 'run.yaml': 'plugins: [nope]\n' });
    const { messages, code } = await host(path.join(dir, 'run.yaml'), dir);
    expect(code).toBe(2);
    const done = messages.find((m) => m.type === 'done') as {
      outcome: { error: { kind: string; location: { line: number; column: number } } };
    };
    expect(done.outcome.error).toMatchObject({ kind: 'config', location: { line: 1, column: 11 } });
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });
});
