// The run panel and what surrounds it, end to end in Chromium through `dumbo serve` (issue 13, items 4, 7 and
// part of 8): the plugin column is a summary in the header that opens a drawer (by keyboard too, with the
// drop zone and trust dialog working inside it); the settings popover stays off the run panel and closes on
// Escape; the data preview wraps its rows, colours masked and trained tokens with a legend, counts the cut
// examples and shows the loaded rows beside the formatted ones; after a run the charts are large, a single
// eval point is a marker, and the hook trace filters by hook and plugin and folds repeated log_step calls;
// generation with a seed repeats itself and top-k 1 is greedy; a config that fails at load shows its error
// instead of empty charts. Screenshots: test-results/e2e/panel-*.png.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { RunDetail, RunSummary } from '../../src/shared/api.js';
import { tempDir } from '../helpers.js';
import {
  apiCall,
  haveChromium,
  browserSession,
  quickstart,
  screenshot,
  serve,
  showView,
  until,
  warnIfNoChromium,
  type Served,
  runEnds,
} from './serve-browser.js';

warnIfNoChromium('tests/e2e/workbench-panel.e2e.test.ts');

const STEPS = 12;

/**
 * A prompt/response fine-tune of a tiny GPT-2 on the quickstart's stories: the prompt is masked, examples are
 * not packed and are cut at 32 tokens (every story is longer), and it evaluates once, at its last step.
 */
function promptResponseWorkspace(name: string): { cwd: string; config: string } {
  const cwd = tempDir('dumbo-e2e-panel-');
  const stories = readFileSync(path.join(quickstart, 'data', 'stories.jsonl'), 'utf8')
    .trim()
    .split('\n');
  const rows = stories.slice(0, 50).map((line, i) => {
    const { text } = JSON.parse(line) as { text: string };
    return JSON.stringify({ prompt: `Tell story number ${i}.`, response: ` ${text}` });
  });
  mkdirSync(path.join(cwd, 'data'));
  writeFileSync(path.join(cwd, 'data', 'train.jsonl'), rows.slice(0, 40).join('\n') + '\n');
  writeFileSync(path.join(cwd, 'data', 'eval.jsonl'), rows.slice(40).join('\n') + '\n');
  const config = path.join(cwd, `${name}.yaml`);
  writeFileSync(
    config,
    `name: ${name}
seed: 7
plugins:
  - transformers
  - polars
  - jinja_formatter
  - transformers_trainer
  - console_logger
  - file_logger
model:
  base_model: ${path.join(quickstart, 'model')}
  init: from_config
  config:
    n_layer: 1
    n_embd: 32
    n_positions: 32
dataset:
  path: data/train.jsonl
  eval_path: data/eval.jsonl
  prompt_field: prompt
  response_field: response
formatter:
  template: "Q: {{ prompt }}\\nA:"
  mask_prompt: true
  max_length: 32
  packing: false
training:
  learning_rate: 0.01
  warmup_steps: 2
  batch_size: 4
  max_steps: ${STEPS}
  max_length: 32
  eval_every: ${STEPS}
  eval_batches: 1
  sample_at_end: false
`,
  );
  return { cwd, config };
}

type Box = { x: number; y: number; width: number; height: number };
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

async function box(locator: Locator): Promise<Box> {
  const b = await locator.boundingBox();
  if (!b) throw new Error('the element is not shown');
  return b;
}

/** Whether the page's focused element is inside the element with this test id. */
const focusInside = (page: Page, testId: string) =>
  page.evaluate(
    (id) => document.querySelector(`[data-testid="${id}"]`)?.contains(document.activeElement) ?? false,
    testId,
  );

async function openPage(browser: Browser, served: Served, name: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(served.url);
  const editor = page.getByTestId('config-editor').locator('.cm-content');
  await until(
    'the editor shows the config',
    () => editor.innerText(),
    (t) => t.includes(`name: ${name}`),
    served,
    30_000,
  );
  return page;
}

describe.skipIf(!haveChromium)('the run panel in Chromium, served by dumbo serve', () => {
  const session = browserSession();

  it('sums up the plugins in a drawer that opens by keyboard, keeps the settings off the run panel, previews the data, charts a run large with its eval marker, filters the trace, and generates repeatably', async () => {
    const { cwd, config } = promptResponseWorkspace('e2e-panel');
    const served = await serve(config, cwd);
    session.servers.push(served);
    const page = await openPage(session.browser, served, 'e2e-panel');
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    // The header sums up the plugins the config uses; the list itself is in the closed drawer.
    const used = page.getByTestId('plugin-summary-used');
    await until(
      'the plugin summary',
      () => used.allInnerTexts(),
      (t) => t.length === 6,
      served,
      60_000,
    );
    expect(await used.allInnerTexts()).toEqual(
      expect.arrayContaining(['transformers', 'polars', 'jinja_formatter', 'transformers_trainer', 'file_logger']),
    );
    const drawer = page.getByTestId('plugin-drawer');
    expect(await drawer.isVisible()).toBe(false);
    await screenshot(page, 'panel-01-summary');

    // By keyboard: Enter on the summary's button opens the drawer with focus inside; Escape closes it and
    // focus goes back to the button.
    const opener = page.getByTestId('plugin-drawer-button');
    await opener.focus();
    await page.keyboard.press('Enter');
    await drawer.waitFor({ state: 'visible' });
    expect(await opener.getAttribute('aria-expanded')).toBe('true');
    expect(await focusInside(page, 'plugin-drawer')).toBe(true);
    expect(await drawer.getByTestId('plugin-card').first().isVisible()).toBe(true);
    // Tab stays inside the open drawer.
    for (let i = 0; i < 40; i++) await page.keyboard.press('Tab');
    expect(await focusInside(page, 'plugin-drawer')).toBe(true);
    await screenshot(page, 'panel-02-drawer');

    // The drop zone works inside the drawer: a folder's path opens the trust dialog, whose Escape cancels it
    // and leaves the drawer open.
    const folder = path.join(cwd, 'my-plugin');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name: 'my-plugin', version: '1.0.0' }));
    writeFileSync(path.join(folder, 'index.js'), 'export const AVAILABLE_PLUGINS = [];\n');
    await drawer.getByTestId('plugin-folder-input').fill(folder);
    await drawer.getByTestId('inspect-button').click();
    const trust = page.getByTestId('trust-dialog');
    await trust.waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.getByTestId('trust-package-json').innerText()).toContain('"my-plugin"');
    expect(await focusInside(page, 'trust-dialog')).toBe(true);
    await screenshot(page, 'panel-03-trust-in-drawer');
    await page.keyboard.press('Escape');
    await trust.waitFor({ state: 'detached' });
    expect(await drawer.isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'hidden' });
    expect(await opener.getAttribute('aria-expanded')).toBe('false');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('plugin-drawer-button');
    // A press beside the drawer closes it too.
    await opener.click();
    await drawer.waitFor({ state: 'visible' });
    await page.mouse.click(1300, 600);
    await drawer.waitFor({ state: 'hidden' });

    // The settings popover opens clear of the run panel and its Run button, and Escape closes it.
    await page.getByTestId('settings-button').click();
    const settings = page.getByTestId('settings-panel');
    await settings.waitFor({ state: 'visible' });
    expect(overlaps(await box(settings), await box(page.getByTestId('run-button')))).toBe(false);
    expect(overlaps(await box(settings), await box(page.getByTestId('run-panel')))).toBe(false);
    await screenshot(page, 'panel-04-settings');
    await page.keyboard.press('Escape');
    await settings.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('settings-button');

    // The data preview: the loaded rows beside the formatted ones, the legend, the cut examples (every story
    // is longer than 32 tokens), masked prompt and trained response tokens, and rows that wrap in the panel.
    await page.getByTestId('dataset-preview-button').click();
    const preview = page.getByTestId('dataset-preview');
    await preview.waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('preview-legend').innerText()).toMatch(/trained on\s+masked/);
    expect(await page.getByTestId('preview-counts').getAttribute('data-truncated')).toBe('40');
    expect(await page.getByTestId('preview-truncated').innerText()).toBe('40 examples cut to the sequence length');
    const raw = page.getByTestId('dataset-raw-row');
    const formatted = page.getByTestId('dataset-row');
    expect(await raw.count()).toBe(4);
    expect(await formatted.count()).toBe(4);
    expect(await raw.first().innerText()).toMatch(/prompt\s+Tell story number \d+\./);
    const rawBox = await box(page.getByTestId('dataset-raw'));
    const formattedBox = await box(page.getByTestId('dataset-formatted'));
    expect(rawBox.x + rawBox.width).toBeLessThanOrEqual(formattedBox.x);
    expect(Math.abs(rawBox.y - formattedBox.y)).toBeLessThan(5);
    const first = formatted.first();
    expect(await first.locator('[data-masked="true"]').count()).toBeGreaterThan(0);
    expect(await first.locator('[data-masked="false"]').count()).toBeGreaterThan(0);
    const colour = (masked: boolean) =>
      first
        .locator(`[data-masked="${masked}"]`)
        .first()
        .evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(await colour(true)).not.toBe(await colour(false));
    // 32 tokens do not fit on one line of the formatted column: the row wraps instead of overflowing.
    const rowBox = await box(first);
    expect(rowBox.height).toBeGreaterThan(40);
    expect(await first.evaluate((e) => e.scrollWidth <= e.clientWidth + 1)).toBe(true);
    await preview.scrollIntoViewIfNeeded();
    await screenshot(page, 'panel-05-preview');

    // Run: the charts are large at 1400x900, and the single eval point is a marker.
    await page.getByTestId('run-button').click();
    const final = await runEnds(page, served, 120_000);
    expect(final).toBe('completed');
    const evalChart = page.getByTestId('eval-loss-chart');
    await until(
      'the eval point',
      () => evalChart.getAttribute('data-points'),
      (n) => n === '1',
      served,
      30_000,
    );
    expect(Number(await evalChart.getAttribute('data-point-radius'))).toBeGreaterThan(0);
    expect(Number(await page.getByTestId('loss-chart').getAttribute('data-point-radius'))).toBeGreaterThan(0);
    const lossCanvas = await box(page.getByTestId('loss-chart').locator('canvas'));
    expect(lossCanvas.height).toBeGreaterThanOrEqual(220);
    expect(lossCanvas.width).toBeGreaterThanOrEqual(600);
    const evalCanvas = await box(evalChart.locator('canvas'));
    expect(evalCanvas.height).toBeGreaterThanOrEqual(180);
    expect(evalCanvas.width).toBeGreaterThanOrEqual(280);
    await page.getByTestId('loss-chart').scrollIntoViewIfNeeded();
    await screenshot(page, 'panel-06-charts');

    // The hook trace: log_step's calls (one per step) fold into one row with their count; filtering by hook
    // leaves only that hook's rows, and by plugin only that plugin's.
    const runs = await apiCall<RunSummary[]>(served, 'listRuns');
    const detail = await apiCall<RunDetail>(served, 'getRun', [runs[0]!.id]);
    const logSteps = detail.trace.filter((r) => r.hook === 'log_step' && r.plugin === 'console_logger_plugin');
    expect(logSteps.length).toBe(STEPS);
    await page.getByText(/^Hook trace/).click();
    const rows = page.getByTestId('trace-row');
    await until(
      'trace rows',
      () => rows.count(),
      (n) => n > 0,
      served,
      10_000,
    );
    const allRows = await rows.count();
    expect(allRows).toBeLessThan(detail.trace.length);
    await page.getByTestId('trace-filter-hook').selectOption('log_step');
    const hooks = await rows.locator('td:first-child').allInnerTexts();
    expect(hooks.length).toBeLessThan(allRows);
    expect(hooks.every((h) => h.startsWith('log_step'))).toBe(true);
    const folded = rows.filter({ hasText: 'console_logger_plugin' });
    expect(await folded.count()).toBe(1);
    expect(await folded.getAttribute('data-count')).toBe(String(STEPS));
    expect((await folded.getByTestId('trace-count').innerText()).trim()).toBe(`×${STEPS}`);
    await page.getByTestId('trace-filter-hook').selectOption('');
    await page.getByTestId('trace-filter-plugin').selectOption('jinja_formatter');
    expect(await rows.locator('td:nth-child(2)').allInnerTexts()).toEqual(['jinja_formatter']);
    await page.getByTestId('trace-filter-plugin').selectOption('');
    await page.getByTestId('trace-filter-hook').selectOption('log_step');
    await page.getByTestId('hook-trace').scrollIntoViewIfNeeded();
    await screenshot(page, 'panel-07-trace');

    // Generation from the finished run: a seed gives the same text twice, and top-k 1 is greedy.
    await showView(page, 'view-history');
    const row = page.getByTestId('run-row').filter({ hasText: 'e2e-panel' });
    await until(
      'the run is listed',
      () => row.count(),
      (n) => n > 0,
      served,
      30_000,
    );
    await row.first().getByTestId('open-run').click();
    const generate = page.getByTestId('generate');
    await generate.waitFor({ timeout: 30_000 });
    const generated = page.getByTestId('generated-text');
    const temperature = page.getByTestId('generate-temperature');
    const shown = async () => ((await generated.count()) > 0 ? await generated.innerText() : '');
    // Generates with the form as it is, until the text shown satisfies `ok` (an answer equal to the last one
    // cannot be told from no answer yet: the steps below alternate so that each awaited text is news).
    const generateUntil = async (what: string, ok: (text: string) => boolean): Promise<string> => {
      await page.getByTestId('generate-button').click();
      return until(what, shown, ok, served, 60_000);
    };
    await page.getByTestId('generate-prompt').fill('Once upon a time');
    await temperature.fill('1.5');
    await page.getByTestId('generate-seed').fill('5');
    const seeded = await generateUntil('a seeded sample', (t) => t.startsWith('Once upon a time'));
    await page.getByTestId('generate-seed').fill('6');
    await generateUntil('another seed', (t) => t !== seeded);
    await page.getByTestId('generate-seed').fill('5');
    await generateUntil('the first seed again gives the first text', (t) => t === seeded);
    await page.getByTestId('generate-seed').fill('');
    await temperature.fill('0');
    const greedy = await generateUntil('a greedy sample', (t) => t !== seeded);
    await temperature.fill('1.5');
    await page.getByTestId('generate-seed').fill('6');
    await generateUntil('a sample that is not greedy', (t) => t !== greedy);
    await page.getByTestId('generate-top-k').fill('1');
    await generateUntil('top-k 1 gives the greedy text', (t) => t === greedy);
    await generated.scrollIntoViewIfNeeded();
    await screenshot(page, 'panel-08-generate');
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 300_000);

  it('shows why a config failed at load instead of empty charts', async () => {
    const { cwd, config } = promptResponseWorkspace('e2e-panel-fails');
    // The quickstart's model folder has no weights: the config is valid (the tokenizer loads, the data
    // formats), and the run fails when it loads the pretrained model.
    const text = readFileSync(config, 'utf8').replace('init: from_config', 'init: pretrained');
    writeFileSync(config, text);
    const served = await serve(config, cwd);
    session.servers.push(served);
    const page = await openPage(session.browser, served, 'e2e-panel-fails');
    await page.getByTestId('run-button').click();
    const final = await runEnds(page, served, 60_000);
    expect(final).toBe('failed');
    const failure = page.getByTestId('run-failure');
    await failure.waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('run-failure-reason').innerText()).toMatch(/model_loader failed: .*no weights/);
    expect(await page.getByTestId('loss-chart').count()).toBe(0);
    expect(await page.getByTestId('eval-loss-chart').count()).toBe(0);
    await screenshot(page, 'panel-09-failed');
    await page.close();
  }, 120_000);
});
