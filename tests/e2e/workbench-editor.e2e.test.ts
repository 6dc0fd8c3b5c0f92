// The schema-driven editor end to end in Chromium through `dumbo serve` (issue 13, item 5): completion
// offers `learning_rate` under `training:` with its doc, hovering a key shows its doc, a misspelt field is
// marked with "did you mean" and its fix, and the form view edits the learning rate and LoRA's rank in the
// YAML text in place, comments kept, with the schema's bounds checked as the user types. None of it writes
// the file. Screenshots: test-results/e2e/editor-*.png.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import * as e2e from './serve-browser.js';

e2e.warnIfNoChromium('tests/e2e/workbench-editor.e2e.test.ts');

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!e2e.haveChromium)('the schema-driven editor in Chromium', () => {
  const session = e2e.browserSession();

  /** The editor's text as CodeMirror shows it (every line of a config this short is rendered). */
  const editorText = (page: Page) => page.getByTestId('config-editor').locator('.cm-content').innerText();

  it('completes, documents and corrects fields from the plugins’ schemas, and the form edits the text in place', async () => {
    const { cwd, config } = e2e.workspace('e2e-editor', 20, ['lora']);
    const text = e2e
      .fastConfig('e2e-editor', 20, ['lora'])
      .replace('  learning_rate: 0.01\n', '  learning_rate: 0.01 # tuned by hand\n');
    writeFileSync(config, text);
    const onDisk = sha256(config);
    const s = await e2e.serve(config, cwd);
    session.servers.push(s);
    const page = await session.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(s.url);

    // The form view appears once the catalog says which trainer (and that LoRA) the config uses.
    const lr = page.getByTestId('form-field-learning_rate');
    await lr.waitFor({ timeout: 60_000 });
    expect(await lr.inputValue()).toBe('0.01');
    expect(await page.getByTestId('form-field-r').count()).toBe(1);
    await e2e.screenshot(page, 'editor-01-form');

    // Hover on the key: its description, type and default.
    const lrText = 'learning_rate: 0.01 # tuned by hand';
    const lrLine = page.locator('.cm-line', { hasText: lrText });
    await lrLine.hover({ position: { x: 40, y: 6 } });
    const hover = page.getByTestId('yaml-hover');
    await hover.waitFor({ timeout: 10_000 });
    expect(await hover.innerText()).toContain('learning_rate: number, default 0.0005, > 0, < 1');
    expect(await hover.innerText()).toContain('Above 0 and below 1 (typical: 1e-5 to 1e-3).');
    await e2e.screenshot(page, 'editor-02-hover');
    await page.mouse.move(0, 0);
    await hover.waitFor({ state: 'detached', timeout: 10_000 });
    // By keyboard: Ctrl+K Ctrl+I shows the doc of the key at the cursor; Escape closes it.
    await lrLine.click({ position: { x: 40, y: 6 } });
    await page.keyboard.press('Control+k');
    await page.keyboard.press('Control+i');
    await hover.waitFor({ timeout: 10_000 });
    expect(await hover.innerText()).toContain('learning_rate: number, default 0.0005');
    await page.keyboard.press('Escape');
    await hover.waitFor({ state: 'detached', timeout: 10_000 });

    // Renaming the key under training:, the completion offers learning_rate with its type, default and doc;
    // taking it puts the name back, the value and comment stay.
    const key = () => page.locator('.cm-line', { hasText: /learn\w*: 0\.01/ }).getByText(/^learn\w*$/);
    await key().dblclick();
    await page.keyboard.type('lear');
    const offer = page.locator('.cm-tooltip-autocomplete li', { hasText: 'learning_rate' });
    await offer.waitFor({ timeout: 10_000 });
    expect(await offer.innerText()).toContain('number, default 0.0005');
    const info = page.locator('.cm-completionInfo');
    await info.waitFor({ timeout: 10_000 });
    expect(await info.innerText()).toContain('Above 0 and below 1');
    await e2e.screenshot(page, 'editor-03-completion');
    // Taken by keyboard (the list may open below the fold): the first offer is selected.
    expect(await offer.getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('Enter');
    await e2e.until(
      'the completion is taken',
      () => editorText(page),
      (t) => t.includes(lrText),
      s,
      10_000,
    );

    // A misspelt field: marked at its key with "did you mean", and the fix puts the right name back.
    await key().dblclick();
    await page.keyboard.type('learnin_rate');
    await page.keyboard.press('Escape');
    const marked = page.locator('.cm-line', { hasText: 'learnin_rate' }).locator('.cm-lintRange-error');
    await marked.first().waitFor({ timeout: 30_000 });
    // Once the validator has answered too (its problem and the editor's hint are one mark then, not redrawn).
    await e2e.until(
      'the validator reports the field',
      async () => (await page.getByTestId('config-error').allInnerTexts()).join('\n'),
      (t) => t.includes("unknown field 'learnin_rate'"),
      s,
      30_000,
    );
    await page.mouse.move(0, 0); // the pointer may rest on that key already: a hover needs a move onto it
    await marked.first().hover();
    const lint = page.locator('.cm-tooltip-lint');
    await lint.waitFor({ timeout: 10_000 });
    expect(await lint.innerText()).toContain("training: unknown field 'learnin_rate' (did you mean 'learning_rate'?)");
    await e2e.screenshot(page, 'editor-04-did-you-mean');
    await lint.getByText('Change to learning_rate').click();
    await e2e.until(
      'the fix is applied',
      () => editorText(page),
      (t) => t.includes(lrText),
      s,
      10_000,
    );
    const problems = () => page.getByTestId('config-error').count();
    await e2e.until('the fixed config is valid again', problems, (n) => n === 0, s, 30_000);

    // The form: a value out of the schema's bounds is refused inline; a good one changes only that value.
    await lr.fill('2');
    expect(await page.getByTestId('form-error-learning_rate').innerText()).toBe('must be below 1');
    await e2e.screenshot(page, 'editor-05-form-error');
    await lr.fill('0.002');
    await lr.press('Enter');
    await e2e.until(
      'the form edits the text in place',
      () => editorText(page),
      (t) => t.includes('  learning_rate: 0.002 # tuned by hand\n  warmup_steps: 2'),
      s,
      10_000,
    );
    const rank = page.getByTestId('form-field-r');
    await rank.fill('4');
    await rank.press('Tab');
    await e2e.until(
      'LoRA rank is added',
      () => editorText(page),
      (t) => t.trimEnd().endsWith('lora:\n  r: 4'),
      s,
      10_000,
    );
    await e2e.until('the edited config is valid', problems, (n) => n === 0, s, 30_000);
    await e2e.screenshot(page, 'editor-06-form-applied');

    // Only Save writes the file.
    expect(sha256(config)).toBe(onDisk);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 180_000);
});
