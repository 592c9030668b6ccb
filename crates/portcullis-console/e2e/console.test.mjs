// The console in a real headless Chromium: sign in (by keyboard only), find why a user may
// export from an app, find a download in the log, read a change in the history, sign out.
// Every page is checked with axe-core (no serious or critical violation) and photographed.
//
// Environment: PORTCULLIS_URL, PORTCULLIS_ADMIN_KEY, CHROMIUM (the browser's executable),
// SCREENSHOTS (a folder).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const url = process.env.PORTCULLIS_URL;
const adminKey = process.env.PORTCULLIS_ADMIN_KEY;
const shots = process.env.SCREENSHOTS;
mkdirSync(shots, { recursive: true });

let browser;
let page;
const checkedPages = new Set();

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  // axe-core is injected as a script; the console's policy allows none, so the check bypasses it.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
});

after(async () => {
  await browser?.close();
});

async function api(method, path, body) {
  const answer = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const text = await answer.text();
  assert.ok(answer.ok, `${method} ${path}: ${answer.status} ${text}`);
  return JSON.parse(text);
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(name) {
  await page.addScriptTag({ content: axeSource });
  const results = await page.evaluate(async () => await globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const said = bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(said, [], `axe-core on ${name}`);
  checkedPages.add(name);
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test('a wrong key is refused next to the field', async () => {
  await page.goto(url + '/');
  assert.match(page.url(), /\/console\/sign-in$/);
  await page.fill('#api-key', 'not-a-key');
  await page.press('#api-key', 'Enter');
  await page.waitForSelector('#api-key-error');
  assert.match(await page.textContent('#api-key-error'), /not accepted/);
  assert.equal(await page.getAttribute('#api-key', 'aria-invalid'), 'true');
  await accessible('sign-in (wrong key)');
});

test('sign in with the keyboard only', async () => {
  await page.goto(url + '/console/sign-in');
  await accessible('sign-in');
  await shot('sign-in');
  // From the top of the page: Tab until the key field has focus, type, Enter.
  await page.evaluate(() => document.activeElement?.blur());
  let focused = '';
  for (let n = 0; n < 5 && focused !== 'api-key'; n++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.id ?? '');
  }
  assert.equal(focused, 'api-key', 'the key field is reached by Tab');
  await page.keyboard.type(adminKey);
  await Promise.all([page.waitForURL(/\/console$/), page.keyboard.press('Enter')]);
  assert.equal(await page.textContent('h1'), 'Access explorer');
  assert.match(await page.textContent('.whoami'), /Signed in as admin/);
  // The session cookie is out of any script's reach.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'portcullis_console');
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '');
  await accessible('explorer home');
});

test('find why a user may export data from an app', async () => {
  await page.goto(url + '/console');
  await page.fill('#user-search', 'ann');
  await Promise.all([page.waitForURL(/q=ann/), page.press('#user-search', 'Enter')]);
  await Promise.all([page.waitForURL(/\/console\/users\/ann/), page.click('text=Ann Analyst')]);
  assert.match(await page.textContent('h1'), /Access of ann/);
  await accessible('user access');
  await shot('user-access');
  await Promise.all([page.waitForURL(/\/console\/apps\/budget/), page.click('article.resource h3 a:has-text("Budget 2026")')]);
  await Promise.all([page.waitForURL(/action=app%3Aexportdata/), page.click('nav.tabs a:has-text("Export data")')]);
  const row = page.locator('tbody tr', { has: page.locator('th a', { hasText: 'Ann Analyst' }) });
  assert.equal(await row.count(), 1, 'ann may export data from Budget 2026');
  const why = await row.locator('td').first().textContent();
  assert.match(why, /Exporters|in-app-content-download/, `the path that grants it: ${why}`);
  await accessible('app audience');
  await shot('app-export');
  await Promise.all([page.waitForURL(/\/console\/check\?/), row.locator('a:has-text("Explain ann")').click()]);
  assert.equal(await page.textContent('section.answer .badge'), 'Allowed');
  await accessible('explained decision');
});

test('find a download in the log and its explanation', async () => {
  // A gateway asks before serving a download: the decision is the log's event.
  const decided = await api('POST', '/v1/check', { user: 'ann', action: 'app:exportdata', resource: 'budget' });
  assert.equal(decided.decision, 'allow');
  await page.goto(url + '/console');
  await Promise.all([page.waitForURL(/\/console\/downloads$/), page.click('nav[aria-label="Console"] >> text=Download log')]);
  await page.fill('#f-user', 'ann');
  await page.fill('#f-app', 'budget');
  await Promise.all([page.waitForURL(/user=ann/), page.click('form.filters button')]);
  const rows = page.locator('table.log tbody tr');
  assert.ok((await rows.count()) >= 1, 'the download is listed');
  const first = rows.first();
  assert.match(await first.textContent(), /ann.*budget.*app:exportdata.*Allowed.*api-key/s);
  const csv = await page.getAttribute('a[download]', 'href');
  assert.match(csv, /^\/console\/downloads\.csv\?user=ann&app=budget/);
  await accessible('download log');
  await shot('download-log');
  await Promise.all([page.waitForURL(/\/console\/check\?/), first.locator('a:has-text("Why, now")').click()]);
  assert.equal(await page.textContent('section.answer .badge'), 'Allowed');
});

test('read a change in the history', async () => {
  await api('POST', '/api/v1/groups', { name: 'auditors' });
  await page.goto(url + '/console');
  await Promise.all([page.waitForURL(/\/console\/history$/), page.click('nav[aria-label="Console"] >> text=Change history')]);
  assert.match(await page.textContent('.chain'), /Chain verified/);
  const change = page.locator('ol.timeline li', { hasText: 'group created' }).first();
  await change.locator('summary').click();
  assert.match(await change.locator('pre').textContent(), /auditors/);
  await accessible('change history');
  await shot('change-history');
});

test('sign out, by keyboard', async () => {
  await page.goto(url + '/console');
  await page.focus('form.sign-out button');
  await Promise.all([page.waitForURL(/\/console\/sign-in$/), page.keyboard.press('Enter')]);
  await page.goto(url + '/console/history');
  assert.match(page.url(), /\/console\/sign-in$/);
  assert.ok(checkedPages.size >= 8, `axe-core checked ${[...checkedPages].join(', ')}`);
});
