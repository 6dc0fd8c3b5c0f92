// The trl examples, run from the repository through the real run lifecycle (config, plugins, trainer, metrics
// collectors): DPO raises the reward accuracy above 0.9 and the margin, chat SFT lowers the loss; and their
// datasets are what scripts/make-trl-examples.mjs writes, byte for byte.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  getMetricsRegistry,
  MetricsCollector,
  prepareRun,
  runLifecycle,
  setConsoleLogLevel,
  type MetricEvent,
} from '../../src/core/index.js';
import { initBackend } from '../../src/engine/index.js';
import { repoRoot, tempDir } from '../helpers.js';

beforeAll(async () => {
  setConsoleLogLevel('off');
  await initBackend('cpu');
});

/** Runs resources/examples/NAME.yaml as `dumbo run` does (in this process) and returns every metric by name. */
async function runExample(name: string): Promise<Map<string, MetricEvent[]>> {
  const events: MetricEvent[] = [];
  const collector = new (class extends MetricsCollector {
    logMetric(e: MetricEvent) {
      events.push(e);
    }
  })();
  const prepared = await prepareRun(path.join(repoRoot, 'resources', 'examples', `${name}.yaml`), {
    userPluginDir: tempDir('dumbo-user-'),
  });
  getMetricsRegistry().register(collector);
  const outcome = await runLifecycle(prepared, { runFolder: tempDir() });
  expect(outcome.error).toBeUndefined();
  expect(outcome.status).toBe('completed');
  expect(outcome.failures).toEqual([]);
  const byName = new Map<string, MetricEvent[]>();
  for (const e of events) byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
  return byName;
}

const values = (m: Map<string, MetricEvent[]>, name: string) => (m.get(name) ?? []).map((e) => e.value);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('the trl examples train from the repository', () => {
  it('dpo.yaml: the reward accuracy rises above 0.9 and the margin rises, on the training and the eval pairs', async () => {
    const m = await runExample('dpo');
    const accuracies = values(m, 'rewards/accuracies');
    const margins = values(m, 'rewards/margins');
    expect(accuracies).toHaveLength(10);
    expect(accuracies.at(-1)).toBeGreaterThan(0.9);
    expect(margins[0]).toBeCloseTo(0, 6); // the policy starts as the reference
    expect(mean(margins.slice(-3))).toBeGreaterThan(mean(margins.slice(0, 3)) + 0.5);
    for (const name of ['rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected']) {
      expect(values(m, name)).toHaveLength(10);
    }
    expect(values(m, 'eval/rewards/accuracies').at(-1)).toBeGreaterThan(0.9);
    expect(values(m, 'eval/rewards/margins').at(-1)).toBeGreaterThan(0.5);
    expect(values(m, 'eval/loss').length).toBeGreaterThan(0);
    expect(values(m, 'eval/perplexity')).toEqual([]); // exp of a DPO loss means nothing
    const loss = values(m, 'loss');
    expect(loss.at(-1)).toBeLessThan(loss[0]! - 0.3);
  }, 180_000);

  it('chat-sft.yaml: the loss on the assistant turns falls', async () => {
    const m = await runExample('chat-sft');
    const loss = values(m, 'loss');
    expect(loss).toHaveLength(16);
    expect(mean(loss.slice(-3))).toBeLessThan(mean(loss.slice(0, 3)) - 1);
    expect(values(m, 'eval/loss').at(-1)).toBeLessThan(loss[0]!);
  }, 180_000);
});

describe('scripts/make-trl-examples.mjs', () => {
  it('rewrites every file of resources/trl byte for byte (into --out DIR)', () => {
    const out = tempDir('dumbo-trl-');
    const run = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'make-trl-examples.mjs'), '--out', out], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const shipped = path.join(repoRoot, 'resources', 'trl');
    const files = readdirSync(shipped).sort();
    expect(readdirSync(out).sort()).toEqual(files);
    for (const f of files)
      expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(shipped, f))), f).toBe(true);
  });

  it('makes disjoint training and eval rows, each a row of its kind', () => {
    const read = (f: string) =>
      readFileSync(path.join(repoRoot, 'resources', 'trl', f), 'utf8')
        .trimEnd()
        .split('\n');
    for (const [train, ev] of [
      ['chat.jsonl', 'chat-eval.jsonl'],
      ['dpo.jsonl', 'dpo-eval.jsonl'],
    ] as const) {
      const seen = new Set(read(train));
      expect(read(ev).filter((line) => seen.has(line))).toEqual([]);
    }
    for (const line of read('dpo.jsonl')) {
      const row = JSON.parse(line) as { prompt: string; chosen: string; rejected: string };
      const asker = row.prompt.split(':')[0];
      expect(row.chosen).toBe(` Yes, ${asker}!`);
      expect(row.rejected).not.toContain('Yes');
    }
    for (const line of read('chat.jsonl')) {
      const { messages } = JSON.parse(line) as { messages: { role: string }[] };
      expect(messages.at(-1)!.role).toBe('assistant');
    }
  });
});
