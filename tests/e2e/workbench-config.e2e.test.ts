// The config column end to end in Chromium through `dumbo serve` (issue 13, items 1, 6, 8 and 9): Run sends the
// editor's text and never writes the file (checked by hash), it is disabled with the reason while the YAML
// is broken (and the plugin cards keep their state meanwhile); the run panel says which config a run came from,
// also after reopening the URL on another config; the file header shows the path with its slashes in place;
// no request of a page load ends in a 404; the examples gallery opens untitled copies; picking a trained model
// asks before dropping model.config, and validation flags `init: from_config` on a folder of trained weights.
//
// Needs /usr/bin/chromium and the built UI (out/renderer), as workbench.e2e.test.ts. Screenshots of each
// stage go to test-results/e2e/config-*.png.

import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { RunSummary, Settings } from '../../src/shared/api.js';
import { repoRoot } from '../helpers.js';
import {
  apiCall,
  fastConfig,
  haveChromium,
  browserSession,
  quickstart,
  screenshot,
  serve,
  until,
  warnIfNoChromium,
  workspace,
  type Served,
  runEnds,
  textOf,
} from './serve-browser.js';

warnIfNoChromium('tests/e2e/workbench-config.e2e.test.ts');

const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A page at 1400x900 that records every response with status 404 and every page error. */
async function openPage(browser: Browser, url: string) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const notFound: string[] = [];
  const errors: string[] = [];
  page.on('response', (r) => {
    if (r.status() === 404) notFound.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, notFound, errors };
}

async function editorShows(page: Page, served: Served, text: string): Promise<void> {
  const editor = page.getByTestId('config-editor').locator('.cm-content');
  await editor.waitFor({ timeout: 30_000 });
  await until(
    `the editor shows ${text}`,
    () => editor.innerText(),
    (t) => t.includes(text),
    served,
    30_000,
  );
}

describe.skipIf(!haveChromium)('the config column in Chromium, served by dumbo serve', () => {
  const session = browserSession();

  it("Run runs the edited text and leaves the file as it was; a YAML error disables Run and keeps the plugin cards; the panel names the run's config", async () => {
    const { cwd, config } = workspace('e2e-config', 12);
    const before = hash(config);
    const served = await serve(config, cwd);
    session.servers.push(served);
    const { page, notFound, errors } = await openPage(session.browser, served.url);
    await editorShows(page, served, 'name: e2e-config');
    await until(
      'plugin cards',
      () => page.getByTestId('plugin-card').count(),
      (n) => n > 0,
      served,
      60_000,
    );

    // The header shows the path as it is: the leading slash on the left of the first folder, none at the end.
    const title = page.getByTestId('config-title');
    expect((await title.innerText()).trim()).toBe(config);
    const [first, last] = await title.evaluate((el) => {
      const node = el.querySelector('bdi')!.firstChild!;
      const at = (i: number) => {
        const r = document.createRange();
        r.setStart(node, i);
        r.setEnd(node, i + 1);
        return r.getBoundingClientRect().left;
      };
      return [at(0), at(node.textContent!.length - 1)];
    });
    expect(first).toBeLessThan(last);
    await screenshot(page, 'config-01-loaded');

    // An edit: a top-level key typed on the empty last line.
    const editor = page.getByTestId('config-editor').locator('.cm-content');
    await editor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('backend: cpu');
    expect(await textOf(page, 'config-dirty')).toContain('unsaved');
    await page.waitForTimeout(1000); // the validator's answer to the edit (it follows 300 ms after typing)
    await until(
      'the edit is valid',
      () => textOf(page, 'config-valid'),
      (t) => t !== '',
      served,
      30_000,
    );

    // A YAML syntax error: Run is disabled with the reason; every plugin card keeps its "In this config".
    const listedCards = () => page.locator('[data-testid="plugin-toggle"]:checked').count();
    const listedBefore = await listedCards();
    expect(listedBefore).toBeGreaterThanOrEqual(4);
    await page.keyboard.type('\nbroken: a: b');
    await until(
      'Run says why it is disabled',
      () => textOf(page, 'run-blocked'),
      (t) => t !== '',
      served,
      30_000,
    );
    expect(await textOf(page, 'run-blocked')).toMatch(/^Fix the config first: \d+:\d+ YAML syntax error/);
    expect(await page.getByTestId('run-button').isDisabled()).toBe(true);
    expect(await listedCards()).toBe(listedBefore);
    await page.getByTestId('plugin-drawer-button').click();
    await page.getByTestId('plugin-drawer').waitFor();
    await screenshot(page, 'config-02-yaml-error');
    await page.getByTestId('plugin-drawer-close').click();
    expect(hash(config)).toBe(before);

    // Fixed, then Run (by keyboard): the run uses the edited text, the file is unchanged.
    await editor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Shift+Home');
    await page.keyboard.press('Backspace'); // the broken line's text
    await page.keyboard.press('Backspace'); // and its line
    await until(
      'Run is enabled again',
      () => page.getByTestId('run-button').isEnabled(),
      (ok) => ok,
      served,
      30_000,
    );
    await page.getByTestId('run-button').focus();
    await page.keyboard.press('Enter');
    expect(await runEnds(page, served)).toBe('completed');
    expect(await textOf(page, 'run-config-source')).toBe('Config: e2e-config.yaml (edited, unsaved)');
    await screenshot(page, 'config-03-edited-run');
    expect(hash(config)).toBe(before);
    expect(await textOf(page, 'config-dirty')).toContain('unsaved');
    const runs = await apiCall<RunSummary[]>(served, 'listRuns');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ configFile: config, configSource: 'edited', status: 'completed' });
    const ran = parse(readFileSync(path.join(runs[0]!.runFolder, 'config.yaml'), 'utf8')) as { backend?: string };
    expect(ran.backend).toBe('cpu');
    expect(JSON.parse(readFileSync(path.join(runs[0]!.runFolder, 'run.json'), 'utf8')).configSource).toBe('edited');

    // Another config, saved, runs long; reopening the page on the first URL: the editor shows the first
    // file, the panel the live run of the other, and says so.
    const other = path.join(cwd, 'other.yaml');
    writeFileSync(other, fastConfig('other', 5000));
    await page.getByTestId('config-path').fill(other);
    await page.getByTestId('open-button').click();
    // The editor holds unsaved edits: opening asks first.
    await page.getByTestId('discard-and-open').click();
    await editorShows(page, served, 'name: other');
    await page.getByTestId('run-button').click();
    await until(
      'the long run runs',
      async () =>
        `${await textOf(page, 'run-status')} ${await textOf(page, 'run-error')} ${await textOf(page, 'run-blocked')}`,
      (s) => s.startsWith('running'),
      served,
      60_000,
    );
    expect(await textOf(page, 'run-config-source')).toBe('Config: other.yaml');
    const second = await openPage(session.browser, served.url);
    await editorShows(second.page, served, 'name: e2e-config');
    const source = second.page.getByTestId('run-config-source');
    await until(
      'the panel follows the live run',
      () => textOf(second.page, 'run-config-source'),
      (t) => t !== '',
      served,
      30_000,
    );
    expect(await textOf(second.page, 'run-config-source')).toBe('Config: other.yaml — not the one in the editor');
    expect(await source.getAttribute('data-differs')).toBe('true');
    await screenshot(second.page, 'config-04-other-run');
    await second.page.getByTestId('stop-button').click();
    expect(await runEnds(second.page, served, 60_000)).toBe('stopped');

    // No request of these page loads was answered 404. The page names its icon (an empty data: URL), so that a
    // browser does not ask the server for /favicon.ico on each load, which it refuses (Chromium does not report
    // that request to the page, hence the check of the link).
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('data:,');
    expect((await fetch(`${served.origin}/favicon.ico`)).ok).toBe(false);
    expect([...notFound, ...second.notFound]).toEqual([]);
    expect([...errors, ...second.errors]).toEqual([]);
    await second.page.close();
    await page.close();
  }, 240_000);

  it('opens examples as untitled copies from their cards; a trained model asks before dropping model.config; from_config on one is flagged', async () => {
    const { cwd, config } = workspace('e2e-examples', 12);
    // A finished run whose final/ holds weights (the picker lists it as trained; nothing loads it here).
    const fake = path.join(cwd, 'runs', 'trained-run');
    mkdirSync(path.join(fake, 'final'), { recursive: true });
    cpSync(path.join(quickstart, 'model', 'config.json'), path.join(fake, 'final', 'config.json'));
    writeFileSync(path.join(fake, 'final', 'model.safetensors'), 'weights');
    writeFileSync(
      path.join(fake, 'run.json'),
      JSON.stringify({
        name: 'trained',
        status: 'completed',
        configFile: config,
        runFolder: fake,
        startedAt: '2026-11-30T08:00:00.000Z',
        endedAt: '2026-11-30T08:01:00.000Z',
        versions: { dumbo: '0', node: '0', plugins: [] },
        observerFailures: [],
      }),
    );
    const served = await serve(config, cwd);
    session.servers.push(served);
    const { page, errors } = await openPage(session.browser, served.url);
    await editorShows(page, served, 'name: e2e-examples');

    // The gallery: a card per example, with what it shows and how long it takes.
    await page.getByTestId('examples').locator('summary').click();
    const cards = page.getByTestId('example-card');
    await until(
      'example cards',
      () => cards.count(),
      (n) => n >= 6,
      served,
      30_000,
    );
    const names = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-example')));
    expect(names.slice(0, 2)).toEqual(['quickstart', 'full-sft']);
    expect(names).toEqual(expect.arrayContaining(['lora-sft', 'chat-sft', 'dpo']));
    for (let i = 0; i < (await cards.count()); i++) {
      expect(await cards.nth(i).getByTestId('example-description').innerText()).not.toBe('');
      expect(await cards.nth(i).getByTestId('example-duration').innerText()).toMatch(/\d|few/);
    }
    await page.getByTestId('examples').scrollIntoViewIfNeeded();
    await screenshot(page, 'config-05-examples');

    // Open the quickstart: an untitled copy, validated where the example lives; the shipped file is neither
    // the file Save writes nor in the recent configs.
    const shipped = path.join(repoRoot, 'resources', 'examples', 'quickstart.yaml');
    const shippedHash = hash(shipped);
    await cards.first().getByTestId('example-open').click();
    await editorShows(page, served, 'name: quickstart');
    expect(await textOf(page, 'config-title')).toBe('Untitled copy of quickstart.yaml');
    expect(await page.getByTestId('config-path').inputValue()).toBe('');
    await until(
      'the copy is valid',
      () => textOf(page, 'config-valid'),
      (t) => t !== '',
      served,
      60_000,
    );
    const settings = await apiCall<Settings>(served, 'getSettings');
    expect(settings.recentConfigs).not.toContain(shipped);

    // Pick the trained run's model: the copy has model.config overrides, so the picker asks first.
    const picker = page.getByTestId('model-picker');
    await picker.focus();
    const trained = path.join(fake, 'final');
    await until(
      'the trained model is listed',
      () => picker.locator('option').allInnerTexts(),
      (o) => o.some((t) => t.includes('trained (run trained-run)')),
      served,
      30_000,
    );
    await picker.selectOption(trained);
    await page.getByTestId('model-confirm').waitFor();
    expect(await textOf(page, 'model-confirm')).toMatch(/n_layer/);
    await screenshot(page, 'config-06-model-confirm');
    // The answer has the focus: Enter takes it.
    await page.keyboard.press('Enter');
    const editor = page.getByTestId('config-editor').locator('.cm-content');
    await until(
      'init: pretrained',
      () => editor.innerText(),
      (t) => t.includes('init: pretrained'),
      served,
      10_000,
    );
    const edited = await editor.innerText();
    expect(edited).toContain(`base_model: ${trained}`);
    expect(edited).not.toMatch(/^\s*config:/m);
    expect(edited).not.toContain('n_layer');
    expect(hash(shipped)).toBe(shippedHash);

    // A config that builds a fresh model from a folder of trained weights is flagged at init:, and Run says why.
    const trap = path.join(cwd, 'trap.yaml');
    writeFileSync(trap, fastConfig('trap', 5).replace(/base_model: .*/, `base_model: ${trained}`));
    await page.getByTestId('config-path').fill(trap);
    await page.getByTestId('open-button').click();
    await page.getByTestId('discard-and-open').click();
    await editorShows(page, served, 'name: trap');
    const flagged = await until(
      'the init problem is listed',
      async () => (await page.getByTestId('config-error').allInnerTexts()).join('\n'),
      (t) => t.includes('model.init'),
      served,
      30_000,
    );
    expect(flagged).toMatch(/\d+:\d+ model\.init: from_config builds a new model .* set init: pretrained/);
    expect(await textOf(page, 'run-blocked')).toMatch(/^Fix the config first: \d+:\d+ model\.init/);
    await screenshot(page, 'config-07-init-flagged');
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
