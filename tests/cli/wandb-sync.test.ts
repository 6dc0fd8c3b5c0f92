// `dumbo wandb-sync RUN` against a loopback stand-in for W&B's server: a run whose server was down leaves its
// W&B run folder offline, and the command uploads it (found from the Dumbo run folder, the key from the netrc
// by host and port): the run with its config, the same history lines and summary, the files, the completion,
// then the `.synced` mark. A log cut by a crash uploads its records and ends the run as failed. A folder
// without a W&B run, or no key, is refused with what to do; `dumbo --help` lists the command.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../plugins/wandb/history.js';
import { runDumbo, tempDir } from '../helpers.js';
import { byHand, FakeWandb, readWandbFile, serverPerTest, steps, until } from '../plugins/wandb-helpers.js';

const KEY = 'netrc-key-0123456789abcdef0123456789abcdef';
const fast = { timings: { paceMs: () => 20, heartbeatMs: 60_000 }, retry: { baseMs: 5, maxMs: 10, retries: 2 } };

const server = serverPerTest();

/** The environment of `dumbo wandb-sync`: the server, and its key in a netrc file only. */
function syncEnv(): Record<string, string> {
  const netrc = path.join(tempDir(), 'netrc');
  writeFileSync(netrc, `machine ${new URL(server().url).host}\n  login user\n  password ${KEY}\n`);
  return { WANDB_BASE_URL: server().url, WANDB_API_KEY: '', NETRC: netrc };
}

/** A run by hand whose server is down: its W&B folder is left offline. */
async function runWithServerDown() {
  const down = await new FakeWandb().start();
  await down.close();
  const env = { WANDB_BASE_URL: down.url, WANDB_API_KEY: KEY, WANDB_MODE: 'online' };
  const run = await byHand({ ...fast, env, flushSecs: 0.05 }, { project: 'proj', entity: 'team' });
  run.collector.logHyperparameters({ 'training.learning_rate': 0.01, name: 'e2e' });
  run.collector.logMetrics(steps(1, 4));
  await until(() => run.warnings().length > 0);
  return run;
}

describe('dumbo wandb-sync', () => {
  it('uploads the run a run left offline when its server was down, and marks it synced', async () => {
    const run = await runWithServerDown();
    run.collector.logMetrics(steps(5, 5));
    await run.endTraining();
    await run.finish();
    const dir = run.dir();
    const id = path.basename(dir).slice(-8);
    expect(run.warnings()).toHaveLength(1);
    expect(run.warnings()[0]).toContain(`upload it later with dumbo wandb-sync ${dir}`);

    const result = await runDumbo(['wandb-sync', run.runFolder], { env: syncEnv() });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      `${dir}: 5 history lines and 4 files uploaded to ${server().url}/team/proj/runs/${id}\n`,
    );
    expect(result.code).toBe(0);

    const auth = `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`;
    expect(
      server()
        .requests.filter((r) => r.path === '/graphql')
        .every((r) => r.headers.authorization === auth),
    ).toBe(true);
    const [upsert] = server().graphql('UpsertBucket');
    expect(upsert!.variables).toMatchObject({ name: id, project: 'proj', entity: 'team' });
    expect(JSON.parse(upsert!.variables!.config as string)).toEqual({
      'training.learning_rate': { desc: null, value: 0.01 },
      name: { desc: null, value: 'e2e' },
    });
    const history = readFileSync(path.join(dir, 'history.jsonl'), 'utf8').trimEnd().split('\n');
    expect(server().history.get(`team/proj/${id}`)).toEqual(history);
    expect(server().accepted).toEqual(history);
    const summaryFile = readFileSync(path.join(dir, 'files', 'wandb-summary.json'), 'utf8');
    expect(parseJson(server().summaries.at(-1)!)).toEqual(parseJson(summaryFile));
    expect(server().uploads.get(`${id}/config.yaml`)!.toString()).toBe(
      readFileSync(path.join(dir, 'files', 'config.yaml'), 'utf8'),
    );
    expect(server().uploads.size).toBe(4);
    expect(server().streams().at(-1)).toEqual({ complete: true, exitcode: 0 });
    expect(existsSync(path.join(dir, `run-${id}.wandb.synced`))).toBe(true);
  });

  it("uploads a crashed run's log up to the crash, as a failed run", async () => {
    const run = await runWithServerDown();
    const dir = run.dir();
    const log = path.join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.wandb'))!,
    );
    await until(() => readWandbFile(readFileSync(log)).records.length === 8); // header, run, and steps 1-3 (history, summary)
    // The folder as a crash would leave it: no end records, no files but the metadata.
    const crashed = path.join(tempDir(), path.basename(dir));
    cpSync(dir, crashed, { recursive: true });
    await run.finish();

    const result = await runDumbo(['wandb-sync', crashed], { env: syncEnv() });
    expect(result.code).toBe(0);
    const logFile = path.join(crashed, path.basename(log));
    expect(result.stdout.split('\n')[0]).toBe(`${logFile}: no exit record (the run did not end): uploaded as failed`);
    expect(server().accepted.map((l) => (parseJson(l) as { _step: number })._step)).toEqual([1, 2, 3]);
    expect(server().streams().at(-1)).toEqual({ complete: true, exitcode: 1 });
    expect([...server().uploads.keys()].map((k) => k.split('/')[1])).toEqual(['wandb-metadata.json']);
    expect(existsSync(`${logFile}.synced`)).toBe(true);
  });

  it('refuses a folder without a W&B run, and a missing key, saying what to do', async () => {
    const empty = tempDir();
    const noRun = await runDumbo(['wandb-sync', empty], { env: syncEnv() });
    expect(noRun.code).toBe(2);
    expect(noRun.stderr.trim()).toBe(
      `${empty} holds no W&B run: expected a run-<id>.wandb in it, in its subfolders or in its wandb/ subfolder`,
    );
    const noKey = await runDumbo(['wandb-sync', empty], {
      env: { ...syncEnv(), NETRC: path.join(empty, 'no-netrc') },
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr.trim()).toBe(
      `no W&B API key for ${new URL(server().url).host}: set WANDB_API_KEY, or put it in ~/.netrc (or the file ` +
        `NETRC names) as the password of 'machine ${new URL(server().url).host}'`,
    );
    expect(server().requests).toEqual([]);
  });

  it('is listed by dumbo --help', async () => {
    const help = await runDumbo(['--help']);
    expect(help.stdout).toMatch(/^ {2}dumbo wandb-sync RUN {2,}upload the W&B runs/m);
  });
});
