// End-to-end: the CLI-created association administrator signs in (TOTP
// enrolment, recovery codes, forced password change), registers and admits a
// requesting clinic, adds a physician; a bad facility form is refused with 422;
// the physician signs in the same way and sees only their own navigation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { startServer } from '../lib/server.js';
import { totp } from '../lib/totp.js';

const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = resolve(process.env.ENKAKU_E2E_ARTIFACTS || join(E2E_DIR, '../../target/e2e-artifacts'));

const ADMIN_NEW_PASSWORD = 'Admin-changed-passw0rd-2024';
const FACILITY = {
  name: 'テスト眼科クリニック',
  kind: 'clinic',
  phone: '087-111-2222',
  emails: 'info@ganka.example.jp',
};
const PHYSICIAN = {
  username: 'dr.ganka',
  displayName: '眼科 太郎',
  email: 'dr.ganka@ganka.example.jp',
  password: 'initial-Ganka-passw0rd-2024',
  newPassword: 'Ganka-changed-passw0rd-2024',
};

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').BrowserContext} */
let context;
/** @type {import('playwright-core').Page} */
let page;
let facilityPath = null; // "/admin/facilities/{id}" once created
let failedStep = null; // later steps depend on earlier ones

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  context = await browser.newContext({
    baseURL: server.url,
    locale: 'ja-JP',
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  page = await context.newPage();
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** A test that is skipped once an earlier step has failed, with a screenshot on failure. */
function step(name, fn) {
  test(name, { timeout: 45_000 }, async (t) => {
    if (failedStep) {
      t.skip(`an earlier step failed: ${failedStep}`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      failedStep = name;
      const file = `failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
      await page?.screenshot({ path: join(ARTIFACTS, file), fullPage: true }).catch(() => {});
      const logs = server?.logs().split('\n').slice(-30).join('\n');
      e.message += `\n  at ${page?.url()} (screenshot ${file})\n  last server output:\n${logs}`;
      throw e;
    }
  });
}

const shot = (name) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
const path = () => new URL(page.url()).pathname;

/** Click something that navigates; returns the main response of the new page. */
async function clickAndWait(locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

/** The submit button of the form that holds the given field (not the header's forms). */
const submitOf = (fieldSelector) =>
  page.locator(`main form:has(${fieldSelector})`).locator('button[type="submit"], input[type="submit"]').first();

/** The text of the `.field-error` placed next to a form field, or null. */
function fieldError(selector) {
  return page.locator(selector).first().evaluate((field) => {
    const controls = 'input:not([type="hidden"]), select, textarea, label, button';
    const isControl = (el) => el.matches(controls) || el.querySelector(controls) !== null;
    let node = field;
    while (node && node.tagName !== 'FORM') {
      for (let sib = node.nextElementSibling; sib; sib = sib.nextElementSibling) {
        if (sib.matches('.field-error')) return sib.textContent.trim();
        const inner = sib.querySelector('.field-error');
        if (inner && !sib.querySelector(controls)) return inner.textContent.trim();
        if (isControl(sib)) break;
      }
      node = node.parentElement;
      if (node && node.querySelectorAll(controls).length > 2) break; // reached a shared container
    }
    return null;
  });
}

async function signIn(username, password) {
  await page.goto('/login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await clickAndWait(submitOf('#password'));
}

/** On /login/enrol: enrol the authenticator, check the 10 recovery codes, continue. */
async function enrolSecondFactor(screenshot) {
  assert.equal(path(), '/login/enrol');
  const secret = (await page.locator('[data-testid="totp-secret"]').textContent()).trim();
  assert.match(secret.replace(/\s/g, ''), /^[A-Z2-7]+=*$/, `secret looks like base32: ${secret}`);
  if (screenshot) await shot(screenshot);
  await page.fill('#code', totp(secret));
  const res = await clickAndWait(submitOf('#code'));
  assert.equal(res.status(), 200);
  const codes = page.locator('[data-testid="recovery-codes"] li');
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10, 'ten recovery codes');
  const texts = (await codes.allTextContents()).map((s) => s.trim());
  assert.equal(new Set(texts).size, 10, 'recovery codes are distinct');
  for (const c of texts) assert.ok(c.length >= 8, `recovery code ${c}`);
  return texts;
}

/** After the recovery codes: continue; a CLI/admin-set password must be changed first. */
async function continueAndChangePassword(current, next) {
  await clickAndWait(page.locator('main a[href="/"]'));
  assert.equal(path(), '/account/password', 'forced to change the initial password');
  await page.fill('#current_password', current);
  await page.fill('#new_password', next);
  await page.fill('#confirm_password', next);
  await clickAndWait(submitOf('#new_password'));
  assert.equal(path(), '/account');
}

/** The facility detail links on /admin/facilities. */
async function facilityLinks() {
  const res = await page.goto('/admin/facilities');
  assert.equal(res.status(), 200, 'GET /admin/facilities');
  const hrefs = await page
    .locator('main a[href^="/admin/facilities/"]')
    .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return [...new Set(hrefs.filter((h) => /^\/admin\/facilities\/\d+$/.test(h)))].sort();
}

step('1. administrator signs in, enrols TOTP, changes the initial password', async () => {
  await signIn(server.admin.username, server.admin.password);
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  await enrolSecondFactor('admin-enrol.png');
  await shot('admin-recovery-codes.png');
  await continueAndChangePassword(server.admin.password, ADMIN_NEW_PASSWORD);
  const who = await page.locator('[data-testid="whoami"]').textContent();
  assert.ok(who.includes(server.admin.displayName), `whoami: ${who}`);
});

let facilitiesBefore = [];

step('2. administrator registers a requesting clinic and admits it', async () => {
  facilitiesBefore = await facilityLinks();
  await clickAndWait(page.locator('[data-testid="new-facility"]'));
  assert.equal(path(), '/admin/facilities/new');
  await page.fill('input[name="name"]', FACILITY.name);
  await page.selectOption('select[name="kind"]', FACILITY.kind);
  await page.check('input[name="is_requesting"]');
  await page.fill('input[name="phone"]', FACILITY.phone);
  await page.fill('textarea[name="notification_emails"]', FACILITY.emails);
  const res = await clickAndWait(submitOf('input[name="name"]'));
  assert.equal(res.status(), 200);
  assert.match(path(), /^\/admin\/facilities\/\d+$/);
  facilityPath = path();
  const status = page.locator('[data-testid="facility-status"]');
  assert.match(await status.textContent(), /申請中/);
  assert.ok((await page.locator('main').textContent()).includes(FACILITY.name));

  await clickAndWait(page.locator('[data-testid="admit"]'));
  assert.equal(path(), facilityPath);
  assert.match(await page.locator('[data-testid="facility-status"]').textContent(), /有効/);
  await shot('facility-admitted.png');
});

step('3. administrator adds a physician to the clinic', async () => {
  await clickAndWait(page.locator('[data-testid="add-user"]'));
  await page.fill('input[name="username"]', PHYSICIAN.username);
  await page.fill('input[name="display_name"]', PHYSICIAN.displayName);
  await page.fill('input[name="email"]', PHYSICIAN.email);
  await page.check('input[name="roles"][value="physician"]');
  await page.fill('input[name="password"]', PHYSICIAN.password);
  const res = await clickAndWait(submitOf('input[name="username"]'));
  assert.equal(res.status(), 200);
  assert.equal(path(), facilityPath, 'back on the facility page');
  const main = await page.locator('main').textContent();
  assert.ok(main.includes(PHYSICIAN.username), 'the facility page lists dr.ganka');
  await shot('facility-with-user.png');
});

step('4. an invalid facility form is refused with 422 and field errors', async (t) => {
  const before = await facilityLinks();
  assert.ok(before.includes(facilityPath), `list ${before} includes ${facilityPath}`);
  assert.equal(before.length, facilitiesBefore.length + 1);
  await page.goto('/admin/facilities/new');
  await page.fill('input[name="name"]', '');
  await page.selectOption('select[name="kind"]', FACILITY.kind);
  await page.fill('textarea[name="notification_emails"]', 'not-an-email');
  // Let the server validate even if the form has HTML5 constraints (required, type=email).
  await page.locator('main form:has(input[name="name"])').evaluate((f) => {
    f.noValidate = true;
  });
  const res = await clickAndWait(submitOf('input[name="name"]'));
  assert.equal(res.status(), 422);
  assert.ok((await page.locator('.field-error').count()) >= 2, 'errors for the name and the e-mail');
  const nameErr = await fieldError('input[name="name"]');
  assert.ok(nameErr, 'a .field-error next to the name field');
  const mailErr = await fieldError('textarea[name="notification_emails"]');
  assert.ok(mailErr, 'a .field-error next to the notification e-mails field');
  t.diagnostic(`422 errors: name="${nameErr}", notification_emails="${mailErr}"`);
  await shot('facility-invalid.png');
  assert.deepEqual(await facilityLinks(), before, 'no facility created');
});

step('5. sign out; the physician signs in, enrols and changes the password', async () => {
  const signOut = page.locator('header form[action="/logout"] button');
  assert.equal((await signOut.textContent()).trim(), 'ログアウト');
  await clickAndWait(signOut);
  assert.equal(path(), '/login');
  await signIn(PHYSICIAN.username, PHYSICIAN.password);
  await enrolSecondFactor('physician-enrol.png');
  await continueAndChangePassword(PHYSICIAN.password, PHYSICIAN.newPassword);
  const who = await page.locator('[data-testid="whoami"]').textContent();
  assert.ok(who.includes(PHYSICIAN.displayName) && who.includes(FACILITY.name), `whoami: ${who}`);
});

step("6. the physician's navigation and a forbidden admin page", async () => {
  const res = await page.goto('/');
  assert.equal(res.status(), 200);
  assert.equal(path(), '/');
  const hrefs = await page.locator('header nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  for (const h of ['/directory', '/account']) assert.ok(hrefs.includes(h), `nav has ${h}: ${hrefs}`);
  for (const h of ['/admin/facilities', '/admin/contracts', '/audit', '/facility/users']) {
    assert.ok(!hrefs.some((x) => x === h || x.startsWith(`${h}/`)), `nav lacks ${h}: ${hrefs}`);
  }
  await shot('physician-home.png');
  const forbidden = await page.goto('/admin/facilities');
  assert.equal(forbidden.status(), 404);
  await shot('physician-admin-404.png');
});
