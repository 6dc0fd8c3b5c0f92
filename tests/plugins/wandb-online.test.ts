// The wandb plugin online, against a loopback stand-in for W&B's server (wandb-helpers.ts): a real `dumbo run`
// creates the run with its config in the backend's format, streams history lines equal to metrics.jsonl's
// rows, the summary, the files and the completion, and keeps the same run in its folder; failures answered
// 500, 429 or with a dropped connection are retried with nothing lost and no line sent twice; an answer a
// retry cannot change (401) is not retried; a server that is down leaves the run offline with one warning;
// the end of the run waits a bounded time and says what did not go. The training step never waits: the
// collector's calls return no promise.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricEvent } from '../../src/core/index.js';
import { parseJson } from '../../plugins/wandb/history.js';
import { engineConfig } from '../fixtures/configs.js';
import { runDumbo, tempDir, writeFiles } from '../helpers.js';
import { byHand, readWandbFile, serverPerTest, steps, until, wandbRecord } from './wandb-helpers.js';

const KEY = 'test-key-0123456789abcdef0123456789abcdef';
const fast = { timings: { paceMs: () => 20, heartbeatMs: 60_000 }, retry: { baseMs: 5, maxMs: 20, retries: 4 } };

const server = serverPerTest();

const env = () => ({ WANDB_BASE_URL: server().url, WANDB_API_KEY: KEY, WANDB_MODE: 'online' });

interface MetricLine {
  name: string;
  value: number;
  step: number;
  timestamp: number;
}

describe('wandb online', () => {
  it('streams a real run: the run with its config, history equal to metrics.jsonl, summary, files, completion', async () => {
    const dir = writeFiles(tempDir(), {
      'run.yaml': engineConfig({
        plugins: ['wandb'],
        extra: 'wandb:\n  project: proj\n  entity: ent\n  tags: [tiny]\n',
      }),
    });
    const out = path.join(dir, 'run');
    const result = await runDumbo(['run', path.join(dir, 'run.yaml'), '--output', out], { env: env() });
    expect(result.stderr).not.toMatch(/W&B.*(did not|offline)/);
    expect(result.code).toBe(0);

    // The run, created at the start and upserted again with the config, in W&B's backend format, when it came.
    const upserts = server().graphql('UpsertBucket');
    const id = upserts[0]!.variables!.name as string;
    expect(id).toMatch(/^[a-z0-9]{8}$/);
    expect(upserts.map((u) => [u.variables!.name, u.variables!.id])).toEqual(
      upserts.map((_, i) => [id, i === 0 ? undefined : 'UnVuOjE=']),
    );
    const upsert = upserts.at(-1)!;
    expect(upsert.variables).toMatchObject({ project: 'proj', entity: 'ent', tags: ['tiny'], displayName: 'run' });
    const config = JSON.parse(upsert.variables!.config as string) as Record<string, { desc: null; value: unknown }>;
    expect(config['training.learning_rate']).toEqual({ desc: null, value: 0.01 });
    expect(config.name).toEqual({ desc: null, value: 'e2e' });
    const auth = `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`;
    expect(
      server()
        .requests.filter((r) => !r.path.startsWith('/upload/'))
        .every((r) => r.headers.authorization === auth),
    ).toBe(true);
    expect(
      server()
        .requests.filter((r) => r.path.startsWith('/upload/'))
        .some((r) => r.headers.authorization),
    ).toBe(false);

    // History: one row per step of metrics.jsonl (each metric's last value at that step), in order, each once.
    const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as MetricLine);
    const rows = new Map<number, Record<string, number>>();
    for (const m of metrics) rows.set(m.step, { ...rows.get(m.step), [m.name]: m.value, _step: m.step });
    const lines = server().history.get(`ent/proj/${id}`)!;
    expect(lines.map((l) => parseJson(l))).toEqual([...rows.values()].map((r) => expect.objectContaining(r)));
    expect(server().accepted).toEqual(lines);
    for (const line of lines.map((l) => parseJson(l) as Record<string, number>)) {
      const at = metrics.filter((m) => m.step === line._step);
      expect(line._timestamp).toBe(Math.max(...at.map((m) => m.timestamp)));
      expect(line._runtime).toBeGreaterThanOrEqual(0);
    }
    expect(rows.size).toBe(12);
    expect(Object.keys(rows.get(4)!)).toContain('eval/loss');

    // The summary: every metric's latest value; its last version is the uploaded wandb-summary.json.
    const summary = parseJson(server().summaries.at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ ...Object.assign({}, ...rows.values()), _step: 12 });
    expect(server().uploads.get(`${id}/wandb-summary.json`)!.toString().trim()).toBe(server().summaries.at(-1));
    expect(server().uploads.get(`${id}/config.yaml`)!.toString()).toMatch(
      /^wandb_version: 1\n\n[^]*training\.learning_rate:\n {2}desc: null\n {2}value: 0\.01\n/,
    );
    expect([...server().uploads.keys()].sort()).toEqual(
      ['config.yaml', 'output.log', 'wandb-metadata.json', 'wandb-summary.json'].map((f) => `${id}/${f}`),
    );
    expect(
      server()
        .requests.filter((r) => r.path.startsWith('/upload/'))
        .every((r) => r.headers['x-upload-test'] === 'yes'),
    ).toBe(true);
    expect(server().streams().at(-1)).toEqual({ complete: true, exitcode: 0 });

    // The same run in the run folder, marked as uploaded; its page logged and published as the run's W&B link.
    const [folder] = readdirSync(path.join(out, 'wandb'));
    expect(folder).toMatch(new RegExp(`^run-\\d{8}_\\d{6}-${id}$`));
    const wandbDir = path.join(out, 'wandb', folder!);
    expect(existsSync(path.join(wandbDir, `run-${id}.wandb.synced`))).toBe(true);
    expect(readFileSync(path.join(wandbDir, 'history.jsonl'), 'utf8')).toBe(lines.join('\n') + '\n');
    const kinds = readWandbFile(readFileSync(path.join(wandbDir, `run-${id}.wandb`))).records.map(
      (r) => wandbRecord(r).kind,
    );
    expect(kinds.filter((k) => k === 'history')).toHaveLength(12);
    expect(kinds.slice(-3)).toEqual(['exit', 'final', 'footer']);
    const url = `${server().url}/ent/proj/runs/${id}`;
    expect(readFileSync(path.join(out, 'log.txt'), 'utf8')).toContain(`W&B run: ${url}`);
    const runJson = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { links?: unknown[] };
    expect(runJson.links).toContainEqual({ label: 'W&B', url });
  });

  it('retries 500, 429 and dropped connections with backoff: nothing lost, no line twice, the config upserted again', async () => {
    server().fail('/graphql', 500);
    server().fail('/file_stream', 429, 2);
    server().fail('/file_stream', 0);
    server().fail('/upload/', 503);
    const run = await byHand({ ...fast, env: env() }, { project: 'proj' });
    const id = path.basename(run.dir()).slice(-8);
    // No promise: the registry hands the events over and the step goes on, whatever the network does.
    expect(run.collector.logMetrics(steps(1, 5))).toBeUndefined();
    await until(() => server().accepted.length >= 4);
    run.collector.logHyperparameters({ lr: 0.5 });
    run.collector.logMetrics(steps(6, 9));
    await run.endTraining();
    await run.finish();

    const failed = server()
      .requests.filter((r) => r.status !== 200)
      .map((r) => [r.path.split('/')[1], r.status]);
    expect(failed).toEqual([
      ['graphql', 500],
      ['files', 429],
      ['files', 429],
      ['files', 0],
      ['upload', 503],
    ]);
    const lines = server().history.get(`ent/proj/${id}`)!;
    expect(lines.map((l) => (parseJson(l) as { _step: number })._step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(server().accepted).toEqual(lines);
    const upserts = server().graphql('UpsertBucket');
    expect(upserts.map((u) => [u.variables!.id, JSON.parse(u.variables!.config as string)])).toEqual([
      [undefined, {}],
      ['UnVuOjE=', { lr: { desc: null, value: 0.5 } }],
    ]);
    expect(server().uploads.size).toBe(4);
    expect(server().streams().at(-1)).toEqual({ complete: true, exitcode: 0 });
    expect(run.warnings()).toEqual([]);
    expect(run.links).toEqual([{ label: 'W&B', url: `${server().url}/ent/proj/runs/${id}` }]);
    expect(existsSync(`${path.join(run.dir(), `run-${id}.wandb`)}.synced`)).toBe(true);
  });

  it('sends a heartbeat when there is nothing to send', async () => {
    const run = await byHand({ ...fast, timings: { paceMs: () => 10, heartbeatMs: 30 }, env: env() });
    await until(() =>
      server()
        .streams()
        .some((s) => (s as { complete?: boolean }).complete === false),
    );
    expect(server().streams()[0]).toEqual({ complete: false, failed: false, dropped: 0 });
    await run.finish();
  });

  it('does not retry an answer a retry cannot change (401), warns once and goes on offline', async () => {
    server().fail('/graphql', 401);
    const run = await byHand({ ...fast, env: env() });
    run.collector.logMetrics(steps(1, 3));
    await until(() => run.warnings().length > 0);
    run.collector.logMetrics(steps(4, 6));
    await run.finish();
    expect(server().requests.map((r) => [r.path, r.status])).toEqual([['/graphql', 401]]);
    const dir = run.dir();
    expect(run.warnings()).toEqual([
      `W&B: UpsertBucket: HTTP 401: injected failure; the run goes on offline, written to ${dir} (upload it later ` +
        `with dumbo wandb-sync ${dir})`,
    ]);
    expect(run.links).toEqual([{ label: 'W&B', path: dir, hint: `dumbo wandb-sync ${dir}` }]);
    const records = readWandbFile(
      readFileSync(
        path.join(
          dir,
          readdirSync(dir).find((f) => f.endsWith('.wandb'))!,
        ),
      ),
    );
    expect(records.records.map((r) => wandbRecord(r).kind).filter((k) => k === 'history')).toHaveLength(6);
    expect(readdirSync(dir).some((f) => f.endsWith('.synced'))).toBe(false);
  });

  it('with the server down, warns once after the retries, and the run folder is complete', async () => {
    await server().close();
    const run = await byHand({ ...fast, env: env() });
    run.collector.logMetrics(steps(1, 4));
    await until(() => run.warnings().length > 0);
    run.collector.logMetrics([new MetricEvent('loss', 0.1, 5)]);
    await run.endTraining();
    await run.finish();
    expect(run.warnings()).toEqual([
      expect.stringMatching(/^W&B: UpsertBucket: .*ECONNREFUSED.* \(after 5 tries\); the run goes on offline/),
    ]);
    const dir = run.dir();
    const read = readWandbFile(
      readFileSync(
        path.join(
          dir,
          readdirSync(dir).find((f) => f.endsWith('.wandb'))!,
        ),
      ),
    );
    expect(read.records.map((r) => wandbRecord(r).kind).slice(-3)).toEqual(['exit', 'final', 'footer']);
    expect(readdirSync(path.join(dir, 'files')).sort()).toEqual([
      'config.yaml',
      'output.log',
      'wandb-metadata.json',
      'wandb-summary.json',
    ]);
  });

  it('waits a bounded time at the end, then says what did not go', async () => {
    server().fail('/file_stream', 503, Infinity);
    const slow = { timings: fast.timings, retry: { baseMs: 50, maxMs: 50, retries: 1000 }, finishTimeoutMs: 300 };
    const run = await byHand({ ...slow, env: env() });
    run.collector.logMetrics(steps(1, 3));
    const started = Date.now();
    await run.finish();
    expect(Date.now() - started).toBeLessThan(10_000);
    const dir = run.dir();
    expect(run.warnings()).toEqual([
      `W&B: 3 of 3 history lines, the files config.yaml, wandb-summary.json, wandb-metadata.json, output.log, the ` +
        `run end did not reach the server (not done after 0 s); the run folder ${dir} has everything: upload it ` +
        `with dumbo wandb-sync ${dir}`,
    ]);
    expect(run.links.at(-1)).toEqual({ label: 'W&B', path: dir, hint: `dumbo wandb-sync ${dir}` });
  });
});
