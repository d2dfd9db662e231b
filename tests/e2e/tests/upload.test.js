// End-to-end: the administrator registers a requesting clinic and a physician (through the
// screens); the physician signs in, uploads a folder of three DICOM files (pydicom's
// Japanese test patient 山田^太郎, ISO 2022 IR 87) and a non-DICOM file through the upload
// page, sees 3 stored, then finds the study with its Japanese name on the study list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { totp } from '../lib/totp.js';

const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(E2E_DIR, '../..');
const ARTIFACTS = resolve(process.env.ENKAKU_E2E_ARTIFACTS || join(E2E_DIR, '../../target/e2e-artifacts'));

const ADMIN_NEW_PASSWORD = 'Admin-changed-passw0rd-2024';
const CLINIC = { name: 'やまだ内科クリニック', phone: '087-333-4444', emails: 'info@yamada.example.jp' };
const DR = {
  username: 'dr.upload',
  displayName: '内科 花子',
  email: 'dr.upload@yamada.example.jp',
  password: 'initial-Upload-passw0rd-2024',
  newPassword: 'Upload-changed-passw0rd-2024',
};

let server;
let browser;
let context;
let page;
let folder;
let failedStep = null;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // A "CD" folder: three instances of one study (two series) and a text file.
  folder = mkdtempSync(join(tmpdir(), 'enkaku-upload-'));
  const dicom = join(folder, 'DICOM');
  mkdirSync(dicom);
  const specs = [1, 2, 3].map((i) => ({
    out: join(dicom, `IM000${i}`),
    base: 'chrH31',
    sop: `1.2.392.200036.9.1.${i}`,
    study: '1.2.392.200036.9',
    series: `1.2.392.200036.9.${i < 3 ? 1 : 2}`,
    series_number: i < 3 ? 1 : 2,
    instance_number: i,
    modality: 'CT',
    date: '20250110',
  }));
  writeFileSync(join(folder, 'spec.json.txt'), JSON.stringify(specs));
  execFileSync('python3', [join(REPO, 'tests/python/stow_client.py'), 'gen', join(folder, 'spec.json.txt')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  writeFileSync(join(folder, 'README.TXT'), 'not a DICOM file\n');

  server = await startServer();
  browser = await launchBrowser();
  context = await browser.newContext({ baseURL: server.url, locale: 'ja-JP', viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  page = await context.newPage();
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

function step(name, fn) {
  test(name, { timeout: 60_000 }, async (t) => {
    if (failedStep) {
      t.skip(`an earlier step failed: ${failedStep}`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      failedStep = name;
      const file = `upload-failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
      await page?.screenshot({ path: join(ARTIFACTS, file), fullPage: true }).catch(() => {});
      const logs = server?.logs().split('\n').slice(-30).join('\n');
      e.message += `\n  at ${page?.url()} (screenshot ${file})\n  last server output:\n${logs}`;
      throw e;
    }
  });
}

const shot = (name) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
const path = () => new URL(page.url()).pathname;

async function clickAndWait(locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

const submitOf = (fieldSelector) =>
  page.locator(`main form:has(${fieldSelector})`).locator('button[type="submit"], input[type="submit"]').first();

async function signIn(username, password) {
  await page.goto('/login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await clickAndWait(submitOf('#password'));
}

async function enrolAndChangePassword(current, next) {
  assert.equal(path(), '/login/enrol');
  const secret = (await page.locator('[data-testid="totp-secret"]').textContent()).trim();
  await page.fill('#code', totp(secret));
  await clickAndWait(submitOf('#code'));
  await page.locator('[data-testid="recovery-codes"] li').first().waitFor();
  await clickAndWait(page.locator('main a[href="/"]'));
  assert.equal(path(), '/account/password');
  await page.fill('#current_password', current);
  await page.fill('#new_password', next);
  await page.fill('#confirm_password', next);
  await clickAndWait(submitOf('#new_password'));
  assert.equal(path(), '/account');
}

step('1. the administrator registers a clinic and a physician', async () => {
  await signIn(server.admin.username, server.admin.password);
  await enrolAndChangePassword(server.admin.password, ADMIN_NEW_PASSWORD);
  await page.goto('/admin/facilities');
  await clickAndWait(page.locator('[data-testid="new-facility"]'));
  await page.fill('input[name="name"]', CLINIC.name);
  await page.selectOption('select[name="kind"]', 'clinic');
  await page.check('input[name="is_requesting"]');
  await page.fill('input[name="phone"]', CLINIC.phone);
  await page.fill('textarea[name="notification_emails"]', CLINIC.emails);
  await clickAndWait(submitOf('input[name="name"]'));
  assert.match(path(), /^\/admin\/facilities\/\d+$/);
  await clickAndWait(page.locator('[data-testid="admit"]'));
  await clickAndWait(page.locator('[data-testid="add-user"]'));
  await page.fill('input[name="username"]', DR.username);
  await page.fill('input[name="display_name"]', DR.displayName);
  await page.fill('input[name="email"]', DR.email);
  await page.check('input[name="roles"][value="physician"]');
  await page.fill('input[name="password"]', DR.password);
  const res = await clickAndWait(submitOf('input[name="username"]'));
  assert.equal(res.status(), 200);
  await clickAndWait(page.locator('header form[action="/logout"] button'));
});

step('2. the physician signs in and finds an empty study list', async () => {
  await signIn(DR.username, DR.password);
  await enrolAndChangePassword(DR.password, DR.newPassword);
  const nav = await page.locator('header nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(nav.indexOf('/studies') >= 0 && nav.indexOf('/studies') < nav.indexOf('/directory'), `nav: ${nav}`);
  const res = await page.goto('/studies');
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['cache-control'], 'no-store');
  await page.locator('[data-testid="study-empty"]').waitFor();
});

step('3. the physician uploads a folder: 3 stored, the text file left out', async () => {
  await clickAndWait(page.locator('[data-testid="upload-link"]'));
  assert.equal(path(), '/studies/upload');
  await page.setInputFiles('[data-testid="upload-folder"]', folder);
  await page.click('[data-testid="upload-start"]');
  const summary = page.locator('[data-testid="upload-summary"][data-done="true"]');
  await summary.waitFor();
  assert.equal(await summary.getAttribute('data-stored'), '3', await summary.textContent());
  assert.equal(await summary.getAttribute('data-refused'), '0');
  assert.equal(await summary.getAttribute('data-skipped'), '2', 'README.TXT and spec.json.txt are not sent');
  assert.match(await summary.textContent(), /保存 3 件/);
  const progress = page.locator('[data-testid="upload-progress"]');
  assert.equal(await progress.evaluate((p) => p.value === p.max), true, 'progress complete');
  assert.equal(await page.locator('[data-testid="upload-results"] li[data-status="stored"]').count(), 3);
  await shot('upload-done.png');
});

step('4. the study is on the list with its Japanese name, counts and the arriving badge', async () => {
  await clickAndWait(page.locator('[data-testid="upload-to-list"]'));
  const row = page.locator('[data-testid="study-table"] tbody tr').first();
  await row.waitFor();
  const text = await row.textContent();
  for (const s of ['山田 太郎', 'やまだ たろう', 'Yamada Tarou', 'H31EXAMPLE', '2025-01-10', 'CT']) {
    assert.ok(text.includes(s), `row shows ${s}: ${text}`);
  }
  assert.equal((await row.locator('[data-field="num_series"]').textContent()).trim(), '2');
  assert.equal((await row.locator('[data-field="num_instances"]').textContent()).trim(), '3');
  assert.equal(await row.locator('[data-testid="arriving"]').isVisible(), true, 'arriving badge');
  // Search by kana finds it; by another name not.
  await page.fill('#name', 'ヤマダ');
  await clickAndWait(page.locator('[data-testid="study-search"] button[type="submit"]'));
  assert.equal(await page.locator('[data-testid="study-table"] tbody tr').count(), 1);
  await shot('studies-list.png');
  await page.fill('#name', 'たなか');
  await clickAndWait(page.locator('[data-testid="study-search"] button[type="submit"]'));
  await page.locator('[data-testid="study-empty"]').waitFor();
  // The study screen with its two series.
  await page.goto('/studies');
  await clickAndWait(page.locator('[data-testid="study-table"] tbody tr a').first());
  assert.match(path(), /^\/studies\/\d+$/);
  assert.equal(await page.locator('[data-testid="series-table"] tbody tr').count(), 2);
  await shot('study-detail.png');
});
