// The workbench end to end in a real browser: `dumbo serve` (the real command, services, run host and the
// built UI in out/renderer) driven in Debian's Chromium through playwright-core. The user's path: the URL
// with its token opens the config (the token leaves the address bar for the tab's sessionStorage, and no
// cookie is set), the plugin cards are listed, a YAML error typed into the editor is marked
// at its line and fixed, Run trains a tiny GPT-2 with the loss chart filling up to `completed`, the model
// info shows the exact parameter count, and the run is in the history. A second test stops a long run.
//
// Needs /usr/bin/chromium (.ci/run installs it; without it these tests skip, saying so) and the built UI
// (`npm ci` builds it through `prepare`; `npm run build:app` rebuilds it). Screenshots of each stage go to
// test-results/e2e/.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PluginCard } from '../../src/shared/api.js';
import { repoRoot } from '../helpers.js';
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
  runEnds,
} from './serve-browser.js';

warnIfNoChromium('tests/e2e/workbench.e2e.test.ts');

/** GPT-2's parameter count (tied LM head): embeddings, per layer ln1+attn+ln2+mlp, final ln. */
function gpt2Parameters(c: { vocab: number; positions: number; embd: number; layers: number }): number {
  const e = c.embd;
  const layer = 2 * e + (3 * e * e + 3 * e) + (e * e + e) + 2 * e + (4 * e * e + 4 * e) + (4 * e * e + e);
  return c.vocab * e + c.positions * e + c.layers * layer + 2 * e;
}

describe.skipIf(!haveChromium)('the workbench in Chromium, served by dumbo serve', () => {
  const session = browserSession();

  it('opens the config with the token, marks and clears a YAML error, runs to completed with the loss chart, model info and history', async () => {
    const { cwd, config } = workspace('e2e-workbench', 20, ['tensorboard']);
    const served = await serve(config, cwd);
    session.servers.push(served);

    // Without the token: 401 for pages outside the app path and the API alike; the token in a query (the
    // old way in, which set a cookie) opens nothing any more.
    expect((await fetch(`${served.origin}/`)).status).toBe(401);
    const call = await fetch(`${served.origin}/api/call/version`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"args":[]}',
    });
    expect(call.status).toBe(401);
    const query = await fetch(`${served.origin}/?token=${served.token}`, { redirect: 'manual' });
    expect(query.status).toBe(401);
    expect(query.headers.get('set-cookie')).toBeNull();

    const page = await session.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const consoleErrors: string[] = [];
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text().slice(0, 200));
    });
    await page.goto(served.url);

    // The config from the URL is in the editor.
    const editor = page.getByTestId('config-editor').locator('.cm-content');
    await editor.waitFor({ timeout: 30_000 });
    await until(
      'the editor shows the config',
      () => editor.innerText(),
      (t) => t.includes('name: e2e-workbench'),
      served,
      30_000,
    );
    await screenshot(page, '01-loaded');
    // The token left the address bar for this tab's sessionStorage; the config stayed in the URL. No cookie
    // was set: a cookie would go to every other server on 127.0.0.1, whatever its port.
    expect(page.url()).not.toContain('token');
    expect(new URL(page.url()).searchParams.get('config')).toBe(config);
    expect(await page.evaluate(() => sessionStorage.getItem('dumbo.serve.token'))).toBe(served.token);
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate(() => document.cookie)).toBe('');

    // Every built-in plugin folder has its cards (a folder may hold several plugins: one card each), and the
    // page shows every card the service lists (no user plugins here).
    const folders = readdirSync(path.join(repoRoot, 'plugins'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    const listed = await apiCall<{ cards: PluginCard[] }>(served, 'listPlugins');
    expect([...new Set(listed.cards.map((c) => c.folder))].sort()).toEqual(folders.sort());
    expect(listed.cards.filter((c) => c.error)).toEqual([]);
    await until(
      'plugin cards',
      () => page.getByTestId('plugin-card').count(),
      (n) => n === listed.cards.length,
      served,
      60_000,
    );
    await screenshot(page, '02-plugins');

    // A duplicate key typed on the last line is marked at that line.
    const errorLine = fastConfig('e2e-workbench', 20, ['tensorboard']).split('\n').length;
    await editor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('seed: 3');
    const firstError = page.getByTestId('config-error').first();
    const errorText = await until(
      'the YAML error is marked',
      async () => ((await firstError.count()) > 0 ? (await firstError.innerText()).trim() : ''),
      (t) => t !== '',
      served,
      30_000,
    );
    expect(errorText).toMatch(new RegExp(`^${errorLine}:\\d+`));
    // ...and underlined in the editor on that line (CodeMirror renders every line of a file this short).
    const marked = page
      .locator('.cm-line')
      .nth(errorLine - 1)
      .locator('.cm-lintRange-error, .cm-lintPoint-error');
    await expect.poll(() => marked.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await screenshot(page, '03-yaml-error');

    // Fixed: the line removed again, and the error goes away.
    await page.keyboard.press('Shift+Home');
    await page.keyboard.press('Backspace');
    await until(
      'the YAML error is cleared',
      () => page.getByTestId('config-error').count(),
      (n) => n === 0,
      served,
      30_000,
    );
    await screenshot(page, '04-fixed');

    // Run: the loss chart fills, the status reaches completed.
    await page.getByTestId('run-button').click();
    const chart = page.getByTestId('loss-chart');
    const points = async () => Number((await chart.count()) > 0 ? await chart.getAttribute('data-points') : 0);
    await until('loss points arrive', points, (n) => n > 0, served, 60_000);
    await screenshot(page, '05-running');
    const final = await runEnds(page, served, 90_000);
    expect(final).toBe('completed');
    expect(await points()).toBeGreaterThan(0);
    await screenshot(page, '06-completed');

    // The TensorBoard plugin published its folder: the run panel shows it with the command that opens it.
    const tbLink = page.getByTestId('run-link-TensorBoard');
    await tbLink.waitFor({ timeout: 30_000 });
    expect(await tbLink.innerText()).toMatch(/tensorboard --logdir \S+[/\\]tensorboard/);

    // Model info: the exact parameter count of the configured model.
    const model = JSON.parse(readFileSync(path.join(quickstart, 'model', 'config.json'), 'utf8')) as {
      vocab_size: number;
    };
    const expected = gpt2Parameters({ vocab: model.vocab_size, positions: 32, embd: 32, layers: 1 });
    expect(expected).toBe(30_176);
    const info = page.getByTestId('model-info');
    await info.first().waitFor({ timeout: 30_000 });
    expect(Number(await info.first().getAttribute('data-parameters'))).toBe(expected);

    // The run is in the history.
    await showView(page, 'view-history');
    const runs = page.getByTestId('runs-list');
    await until(
      'the run is listed',
      async () => ((await runs.count()) > 0 ? await runs.innerText() : ''),
      (t) => t.includes('e2e-workbench'),
      served,
      30_000,
    );
    await screenshot(page, '07-runs');
    expect(consoleErrors).toEqual([]);
    // CodeMirror's own styles apply (a CSP that blocks its <style> element leaves the YAML unindented, with
    // no gutter), and nothing else broke the page's CSP either.
    await showView(page, 'view-workbench');
    expect(await editor.evaluate((e) => getComputedStyle(e).whiteSpace)).toMatch(/^pre/);
    expect(cspViolations).toEqual([]);
    await page.close();
  }, 180_000);

  it('Stop ends a long run as stopped', async () => {
    const { cwd, config } = workspace('e2e-stop', 5000);
    const served = await serve(config, cwd);
    session.servers.push(served);
    const page = await session.browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(served.url);
    const editor = page.getByTestId('config-editor').locator('.cm-content');
    await until(
      'the editor shows the config',
      () => editor.innerText(),
      (t) => t.includes('name: e2e-stop'),
      served,
      30_000,
    );
    // A reload (the token is no longer in the URL) keeps the session: the tab kept the token.
    await page.reload();
    await until(
      'the editor shows the config after a reload',
      () => editor.innerText(),
      (t) => t.includes('name: e2e-stop'),
      served,
      30_000,
    );
    expect(await page.context().cookies()).toEqual([]);
    await page.getByTestId('run-button').click();
    const chart = page.getByTestId('loss-chart');
    await until(
      'loss points arrive',
      async () => Number((await chart.count()) > 0 ? await chart.getAttribute('data-points') : 0),
      (n) => n > 0,
      served,
      60_000,
    );
    await page.getByTestId('stop-button').click();
    const final = await runEnds(page, served, 60_000);
    await screenshot(page, '08-stopped');
    expect(final).toBe('stopped');
    await page.close();
  }, 120_000);
});
