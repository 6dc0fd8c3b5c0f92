// History in Chromium through `dumbo serve` (issue 13, items 2 and 3): a run stopped before a page reload
// is resumed from History after it and goes on past the step it stopped at; runs of the CLI (another
// working folder, the same settings) are listed; two of them, with different learning rates, overlay their
// eval loss with two legend entries that say `lr=…`; their configs side by side; Clone puts a run's config
// into the editor untitled, Re-run starts it again; Delete asks, and removes the run and its folder.
//
// Needs /usr/bin/chromium and the built UI, as tests/e2e/workbench.e2e.test.ts. Screenshots:
// test-results/e2e/history-*.png.

import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it, onTestFailed } from 'vitest';
import type { RunSummary } from '../../src/shared/api.js';
import { runDumbo, tempDir } from '../helpers.js';
import {
  apiCall,
  fastConfig,
  haveChromium,
  browserSession,
  quickstart,
  screenshot,
  serve,
  showView,
  until,
  warnIfNoChromium,
  workspace,
  textOf,
} from './serve-browser.js';

warnIfNoChromium('tests/e2e/workbench-history.e2e.test.ts');

/** fastConfig at learning rate `lr`, evaluated every 4 steps on the quickstart's held-out stories. */
function evalConfig(name: string, lr: number, steps: number): string {
  return fastConfig(name, steps)
    .replace('learning_rate: 0.01', `learning_rate: ${lr}`)
    .replace('  limit: 100\n', `  limit: 100\n  eval_path: ${path.join(quickstart, 'data', 'eval.jsonl')}\n`)
    .replace('  sample_at_end: false\n', '  sample_at_end: false\n  eval_every: 4\n  eval_batches: 1\n');
}

/** A page at 1400x900 whose state is screenshotted (history-failed-NAME) if the test fails. */
async function newPage(browser: Browser, name: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  onTestFailed(() => screenshot(page, `history-failed-${name}`));
  return page;
}

describe.skipIf(!haveChromium)('run history in Chromium, served by dumbo serve', () => {
  const session = browserSession();

  it('a run stopped before a page reload is resumed from History after it, and goes on past its stop', async () => {
    const { cwd, config } = workspace('e2e-history-resume', 5000);
    const served = await serve(config, cwd);
    session.servers.push(served);
    const page = await newPage(session.browser, 'resume');
    await page.goto(served.url);
    const editor = page.getByTestId('config-editor').locator('.cm-content');
    await until(
      'the editor shows the config',
      () => editor.innerText(),
      (t) => t.includes('name: e2e-history-resume'),
      served,
      30_000,
    );

    await page.getByTestId('run-button').click();
    const progress = page.getByTestId('progress');
    const step = async () => Number((await progress.count()) > 0 ? await progress.getAttribute('data-step') : 0);
    // A run that fails instead (its error is in the run panel and the failure screenshot) ends the wait.
    const started = await until(
      'the run makes a few steps',
      async () => ({ step: await step(), status: await textOf(page, 'run-status') }),
      (r) => r.step >= 3 || r.status === 'failed' || r.status === 'crashed',
      served,
      90_000,
    );
    expect(started.status).toBe('running');
    await page.getByTestId('stop-button').click();
    await until(
      'the run stops',
      () => textOf(page, 'run-status'),
      (s) => s === 'stopped',
      served,
      60_000,
    );

    // After a reload, History lists the stopped run, with the step it stopped at.
    await page.reload();
    await until(
      'the editor is back',
      () => editor.innerText(),
      (t) => t.includes('name: e2e-history-resume'),
      served,
      30_000,
    );
    await showView(page, 'view-history');
    const row = page.locator('[data-testid="run-row"][data-status="stopped"]');
    await row.waitFor({ timeout: 30_000 });
    const stoppedAt = Number(await row.getByTestId('run-row-steps').innerText());
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    await screenshot(page, 'history-01-stopped');

    // Resume by keyboard; the workbench shows the run going on past the step it stopped at.
    await row.getByTestId('resume-run').focus();
    await page.keyboard.press('Enter');
    await until(
      'the run runs again',
      () => textOf(page, 'run-status'),
      (s) => s === 'running',
      served,
      60_000,
    );
    await until(`steps past ${stoppedAt}`, step, (n) => n > stoppedAt + 1, served, 90_000);
    // Its loss chart holds the steps from before the stop too (read from its folder), not only the new ones.
    const lossPoints = await page.getByTestId('loss-chart').getAttribute('data-points');
    expect(Number(lossPoints)).toBeGreaterThan(stoppedAt + 1);
    await screenshot(page, 'history-02-resumed');
    await page.getByTestId('stop-button').click();
    await until(
      'the run stops again',
      () => textOf(page, 'run-status'),
      (s) => s === 'stopped',
      served,
      60_000,
    );

    // One run, resumed once: the history still lists it once, and its time counts its two parts.
    const runs = await apiCall<RunSummary[]>(served, 'listRuns');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.steps).toBeGreaterThan(stoppedAt);
    await page.close();
  }, 300_000);

  it('lists runs of the CLI, compares two on eval loss by their learning rates, clones, re-runs and deletes', async () => {
    const home = tempDir('dumbo-e2e-home-');
    const { cwd, config } = workspace('e2e-history-serve', 4);
    // Two CLI runs in another working folder, with the server's settings: their runs folder is not serve's.
    const cli = tempDir('dumbo-e2e-cli-');
    writeFileSync(path.join(cli, 'slow.yaml'), evalConfig('e2e-h-slow', 0.005, 12));
    writeFileSync(path.join(cli, 'fast.yaml'), evalConfig('e2e-h-fast', 0.02, 12));
    const env = { XDG_CONFIG_HOME: path.join(home, 'config') };
    for (const file of ['slow.yaml', 'fast.yaml']) {
      const r = await runDumbo(['run', file], { cwd: cli, env });
      expect(r.code, r.stderr).toBe(0);
    }
    const served = await serve(config, cwd, { home });
    session.servers.push(served);
    const page = await newPage(session.browser, 'compare');
    await page.goto(served.url);
    await showView(page, 'view-history');
    const rowOf = (name: string) => page.getByTestId('run-row').filter({ hasText: name });
    await rowOf('e2e-h-slow').waitFor({ timeout: 30_000 });
    await rowOf('e2e-h-fast').waitFor({ timeout: 30_000 });
    expect(await rowOf('e2e-h-slow').getByTestId('run-row-status').innerText()).toBe('completed');
    expect(Number(await rowOf('e2e-h-slow').getByTestId('run-row-best-eval').innerText())).toBeGreaterThan(0);

    // Both compared: eval loss overlaid, one legend entry each, told apart by their learning rates.
    await rowOf('e2e-h-slow').getByTestId('compare-toggle').check();
    await rowOf('e2e-h-fast').getByTestId('compare-toggle').check();
    const legend = page.getByTestId('compare-legend-item');
    await until(
      'two legend entries',
      () => legend.count(),
      (n) => n === 2,
      served,
      30_000,
    );
    const entries = await legend.allInnerTexts();
    expect(entries[0]).toMatch(/e2e-h-slow[\s\S]*lr=5e-3/);
    expect(entries[1]).toMatch(/e2e-h-fast[\s\S]*lr=0\.02/);
    for (const n of await legend.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-points'))))) {
      expect(n).toBeGreaterThanOrEqual(2); // evaluated every 4 of 12 steps
    }
    expect(await page.getByTestId('compare-metric').inputValue()).toBe('eval/loss');
    const diffRows = await page.getByTestId('config-diff-row').allInnerTexts();
    expect(diffRows.some((r) => r.includes('training.learning_rate') && r.includes('5e-3') && r.includes('0.02'))).toBe(
      true,
    );
    await page.getByTestId('compare-x-time').check();
    await page.getByTestId('compare-metric').selectOption('loss');
    expect(await page.getByTestId('compare-chart').getAttribute('data-lines')).toBe('2');
    await page.getByTestId('compare-metric').selectOption('eval/loss');
    await page.getByTestId('compare-x-step').check();
    await page.getByTestId('compare').scrollIntoViewIfNeeded();
    await screenshot(page, 'history-03-compare');

    // An opened run shows its hyperparameters and its config as the run resolved it.
    await rowOf('e2e-h-fast').getByTestId('open-run').click();
    const params = page.getByTestId('run-hyperparameters');
    await params.waitFor({ timeout: 30_000 });
    expect(await params.innerText()).toMatch(/training\.learning_rate\s+0\.02/);
    expect(await page.getByTestId('run-config').textContent()).toMatch(/eval_every: 4/);
    await params.scrollIntoViewIfNeeded();
    await screenshot(page, 'history-04-opened');

    // Clone: the workbench shows the run's config in the editor, untitled, its learning rate kept.
    await rowOf('e2e-h-slow').getByTestId('clone-run').click();
    const editor = page.getByTestId('config-editor').locator('.cm-content');
    await editor.waitFor({ state: 'visible', timeout: 30_000 });
    await until(
      'the cloned config',
      () => editor.innerText(),
      (t) => t.includes('name: e2e-h-slow'),
      served,
      30_000,
    );
    expect(await editor.innerText()).toMatch(/learning_rate: 0\.005/);
    expect(await textOf(page, 'config-title')).toMatch(/^Untitled copy of .*slow\.yaml$/);
    await screenshot(page, 'history-05-cloned');

    // Re-run: a new run of the same config, shown in the run panel.
    await showView(page, 'view-history');
    await rowOf('e2e-h-fast').first().getByTestId('rerun-run').click();
    await until(
      'the re-run ends',
      () => textOf(page, 'run-status'),
      (s) => s === 'completed',
      served,
      120_000,
    );
    await showView(page, 'view-history');
    await until(
      'two runs named e2e-h-fast',
      () => rowOf('e2e-h-fast').count(),
      (n) => n === 2,
      served,
      30_000,
    );

    // Delete asks first (Escape says no), then removes the run and its folder.
    const slow = rowOf('e2e-h-slow');
    const folder = (await apiCall<RunSummary[]>(served, 'listRuns')).find((r) => r.name === 'e2e-h-slow')!.runFolder;
    await slow.getByTestId('delete-run').click();
    await expect
      .poll(() => slow.getByTestId('confirm-delete').evaluate((e) => e === document.activeElement))
      .toBe(true);
    await screenshot(page, 'history-06-delete-asks');
    await page.keyboard.press('Escape');
    await slow.getByTestId('delete-run').waitFor();
    expect(existsSync(folder)).toBe(true);
    await slow.getByTestId('delete-run').click();
    await slow.getByTestId('confirm-delete').click();
    await until(
      'the row is gone',
      () => rowOf('e2e-h-slow').count(),
      (n) => n === 0,
      served,
      30_000,
    );
    expect(existsSync(folder)).toBe(false);
    expect(await textOf(page, 'history-notice')).toMatch(/^Deleted run e2e-h-slow\./);
    await screenshot(page, 'history-07-deleted');
    await page.close();
  }, 300_000);
});
