import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { safeEnv, utilityForkHost, type UtilityChild, type UtilityForkOptions } from '../../src/main/fork-host.js';

/** A stand-in for Electron's UtilityProcess: an emitter with a pid, a stderr stream and postMessage. */
class FakeUtilityProcess extends EventEmitter {
  pid: number | undefined = 4242;
  stderr = new PassThrough();
  posted: unknown[] = [];
  postMessage = vi.fn((message: unknown) => {
    this.posted.push(message);
  });
  kill = vi.fn(() => true);
}

function setup(options: Parameters<typeof utilityForkHost>[1] = {}) {
  const children: FakeUtilityProcess[] = [];
  const fork = vi.fn((_modulePath: string, _args: string[], _options: UtilityForkOptions) => {
    const child = new FakeUtilityProcess();
    children.push(child);
    return child as unknown as UtilityChild;
  });
  const killPid = vi.fn(() => true);
  const host = utilityForkHost(fork, { killPid, ...options });
  return { host, fork, children, killPid };
}

describe('main: the run host and worker in Electron utility processes', () => {
  it('forks the entry with its arguments, piped stderr and a stripped environment', () => {
    const { host, fork } = setup({
      env: { PATH: '/bin', NODE_OPTIONS: '--require /tmp/evil.js', ELECTRON_RUN_AS_NODE: '1', DUMBO_X: 'y' },
    });
    host('/app/dist/host/worker.js', ['--flag']);
    const [modulePath, args, options] = fork.mock.calls[0]!;
    expect(modulePath).toBe('/app/dist/host/worker.js');
    expect(args).toEqual(['--flag']);
    expect(options.env).toEqual({ PATH: '/bin', DUMBO_X: 'y' });
    expect(options.stdio).toEqual(['ignore', 'ignore', 'pipe']);
    expect(options.serviceName).toBe('dumbo worker');
  });

  it('strips the variables that change what a child runs, whatever their case', () => {
    expect(
      safeEnv({ node_options: '--inspect', NODE_REPL_EXTERNAL_MODULE: 'x', HOME: '/h', UNSET: undefined }),
    ).toEqual({ HOME: '/h' });
  });

  it("maps the child's messages and exit to the HostProcess interface", () => {
    const { host, children } = setup();
    const proc = host('/app/dist/host/entry.js');
    const child = children[0]!;
    expect(proc.pid).toBe(4242);
    const messages: unknown[] = [];
    const exits: unknown[][] = [];
    proc.on('message', (m) => messages.push(m));
    proc.on('exit', (code, signal) => exits.push([code, signal]));
    proc.send({ type: 'start', configFile: '/c.yaml' });
    expect(child.posted).toEqual([{ type: 'start', configFile: '/c.yaml' }]);
    child.emit('message', { type: 'status', status: 'running' });
    expect(messages).toEqual([{ type: 'status', status: 'running' }]);
    child.emit('exit', 3);
    expect(exits).toEqual([[3, null]]);
    // Once it has exited, messages are dropped (not thrown) and kill does nothing.
    proc.send({ type: 'stop' });
    expect(child.posted).toHaveLength(1);
    proc.kill();
    expect(child.kill).not.toHaveBeenCalled();
  });

  it('a message the child can no longer take is dropped, not thrown', () => {
    const { host, children } = setup();
    const proc = host('/app/dist/host/entry.js');
    children[0]!.postMessage.mockImplementation(() => {
      throw new Error('Child process is not running');
    });
    expect(() => proc.send({ type: 'stop' })).not.toThrow();
  });

  it('kill() ends the process at once (SIGKILL by pid) and the exit says so', () => {
    const { host, children, killPid } = setup();
    const proc = host('/app/dist/host/entry.js');
    const exits: unknown[][] = [];
    proc.on('exit', (code, signal) => exits.push([code, signal]));
    proc.kill();
    expect(killPid).toHaveBeenCalledWith(4242);
    expect(children[0]!.kill).not.toHaveBeenCalled();
    children[0]!.emit('exit', 9);
    expect(exits).toEqual([[null, 'SIGKILL']]);
  });

  it('falls back to UtilityProcess.kill() where there is no pid or no signal', () => {
    const { host, children } = setup({ killPid: () => false });
    const proc = host('/app/dist/host/entry.js');
    proc.kill();
    expect(children[0]!.kill).toHaveBeenCalledOnce();
  });

  it('keeps the last stderr output for crash reports and echoes lines with name and pid', async () => {
    const lines: string[] = [];
    const { host, children } = setup({ echoStderr: (l) => lines.push(l) });
    const proc = host('/app/dist/host/entry.js');
    children[0]!.stderr.write('loading plugins\nout of mem');
    children[0]!.stderr.write('ory\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(proc.stderrTail?.()).toBe('loading plugins\nout of memory\n');
    expect(lines).toEqual(['[entry 4242] loading plugins', '[entry 4242] out of memory']);
  });
});
