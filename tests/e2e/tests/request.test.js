// End-to-end acceptance test of the read request (読影依頼), in the demo prefecture
// (`enkaku demo`): a clinic sends a CT over DICOM (dcmtk storescu as SANUKI_CT); its physician
// dr.sanuki opens the study, sees exactly the contracted supporting facilities that read CT
// (県立中央病院, 市民総合病院) with their prices for the current choices (routine and emergency),
// files a request to 県立中央病院 through the confirmation step and finds it on the request
// list; the radiologist of 県立中央病院 sees it through the API, 市民総合病院's does not; a
// tampered confirmed total is refused and files nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { startDemo } from '../lib/demo.js';

const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(E2E_DIR, '../..');
const ARTIFACTS = resolve(process.env.ENKAKU_E2E_ARTIFACTS || join(E2E_DIR, '../../target/e2e-artifacts'));
// dcmtk's storescu by absolute path: pynetdicom installs a `storescu` script that can shadow
// it on PATH.
const STORESCU = process.env.ENKAKU_STORESCU || '/usr/bin/storescu';

const CHUO = '県立中央病院';
const SHIMIN = '市民総合病院';
const CLINIC = 'さぬき内科クリニック';
const PATIENT = {
  dicomName: 'Sanuki^Hanako=讃岐^花子=さぬき^はなこ',
  ideographic: '讃岐 花子',
  phonetic: 'さぬき はなこ',
  alphabetic: 'Sanuki Hanako',
  id: 'SNK-0001',
};
const STUDY_UID = '1.2.392.200036.9.77.1';
const PHONE = '0877-00-3999';

let demo;
let browser;
let context;
let page;
let folder;
let files = [];
let failedStep = null;
// Shared between steps.
let studyId;
let requestId;
let chuoTotal; // the total 県立中央病院 showed in the dropdown for the filed request (e.g. "3,300")

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // A small CT study: one series of three instances, a Japanese patient (UTF-8, ISO_IR 192),
  // body part CHEST.
  folder = mkdtempSync(join(tmpdir(), 'enkaku-request-'));
  files = [1, 2, 3].map((i) => join(folder, `CT00${i}.dcm`));
  const specs = files.map((out, i) => ({
    out,
    sop: `${STUDY_UID}.1.${i + 1}`,
    study: STUDY_UID,
    series: `${STUDY_UID}.1`,
    series_number: 1,
    instance_number: i + 1,
    modality: 'CT',
    name: PATIENT.dicomName,
    patient_id: PATIENT.id,
    birth_date: '19580312',
    sex: 'F',
    accession: 'SNK2026-0001',
    description: '胸部CT 単純',
    body_part: 'CHEST',
    date: '20261120',
  }));
  writeFileSync(join(folder, 'spec.json'), JSON.stringify(specs));
  execFileSync('python3', [join(REPO, 'tests/python/stow_client.py'), 'gen', join(folder, 'spec.json')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  demo = await startDemo();
  browser = await launchBrowser();
  context = await browser.newContext({ baseURL: demo.url, locale: 'ja-JP', viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  page = await context.newPage();
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await demo?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

// A failing step skips the ones after it, unless it is marked { blocking: false } (nothing
// later depends on it).
function step(name, fn, { blocking = true } = {}) {
  test(name, { timeout: 90_000 }, async (t) => {
    if (failedStep) {
      t.skip(`an earlier step failed: ${failedStep}`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      if (blocking) failedStep = name;
      const file = `request-failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
      await page?.screenshot({ path: join(ARTIFACTS, file), fullPage: true }).catch(() => {});
      const logs = demo?.logs().split('\n').slice(-30).join('\n');
      e.message += `\n  at ${page?.url()} (screenshot ${file})\n  last server output:\n${logs}`;
      throw e;
    }
  });
}

const shot = (name) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
const path = () => new URL(page.url()).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function clickAndWait(locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

async function api(token, urlPath) {
  const res = await fetch(`${demo.url}${urlPath}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text };
}

// --- Japan time: 県立中央病院's K-MIX table adds 1,100 after hours (17:30–08:30 JST, and all
// day on Saturdays, Sundays, national holidays and the year-end break Dec 29 – Jan 3, as
// radvision::core::calendar::is_day_off). The national holidays are listed for 2026–2027
// only; outside those years either price is accepted.
const HOLIDAYS = new Set([
  // 2026
  '2026-01-01', '2026-01-12', '2026-02-11', '2026-02-23', '2026-03-20', '2026-04-29',
  '2026-05-03', '2026-05-04', '2026-05-05', '2026-05-06', '2026-07-20', '2026-08-11',
  '2026-09-21', '2026-09-22', '2026-09-23', '2026-10-12', '2026-11-03', '2026-11-23',
  // 2027
  '2027-01-01', '2027-01-11', '2027-02-11', '2027-02-23', '2027-03-21', '2027-03-22',
  '2027-04-29', '2027-05-03', '2027-05-04', '2027-05-05', '2027-07-19', '2027-08-11',
  '2027-09-20', '2027-09-23', '2027-10-11', '2027-11-03', '2027-11-23',
]);

function jst(at = new Date()) {
  const j = new Date(at.getTime() + 9 * 3600_000);
  const ymd = j.toISOString().slice(0, 10);
  return {
    year: j.getUTCFullYear(),
    ymd,
    md: ymd.slice(5),
    weekday: j.getUTCDay(),
    minutes: j.getUTCHours() * 60 + j.getUTCMinutes(),
  };
}

/** true / false, or null when the calendar above does not know the year. */
function chuoAfterHours(at = new Date()) {
  const t = jst(at);
  if (t.minutes >= 17 * 60 + 30 || t.minutes < 8 * 60 + 30) return true;
  if (t.weekday === 0 || t.weekday === 6) return true;
  if (t.md >= '12-29' || t.md <= '01-03') return true;
  if (t.year < 2026 || t.year > 2027) return null;
  return HOLIDAYS.has(t.ymd);
}

/**
 * The totals 県立中央病院 may show for a quote computed between `from` and now: `daytime` or
 * `daytime + 1,100`. Both when the clock crossed 08:30/17:30 meanwhile or the year is unknown.
 */
function chuoExpected(from, daytime) {
  const yen = (n) => n.toLocaleString('en-US');
  const out = new Set();
  for (const ah of [chuoAfterHours(from), chuoAfterHours(new Date())]) {
    if (ah === null) {
      out.add(yen(daytime));
      out.add(yen(daytime + 1_100));
    } else {
      out.add(yen(ah ? daytime + 1_100 : daytime));
    }
  }
  return [...out];
}

/** 県立中央病院 takes emergencies 08:30–22:00 JST (every day); null when the clock crossed a bound. */
function chuoTakesEmergency(from) {
  const inWindow = (at) => {
    const m = jst(at).minutes;
    return m >= 8 * 60 + 30 && m < 22 * 60;
  };
  const a = inWindow(from);
  return a === inWindow(new Date()) ? a : null;
}

/**
 * The target dropdown: [{ value, label, name, total, tax }], parsing labels like
 * `県立中央病院 — 3,300円（税込）· 未読 0 · 期限 2026-11-25 12:00`.
 */
async function targets() {
  const opts = await page
    .locator('#supporting_facility_id option')
    .evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent.trim(), selected: o.selected })));
  return opts.map((o) => {
    const m = o.label.match(/^(.+?) — ([\d,]+)円（(税込|税別)）· 未読 (\d+) · 期限 (.+)$/);
    return { ...o, name: m?.[1] ?? null, total: m?.[2] ?? null, tax: m?.[3] ?? null, backlog: m?.[4] ?? null };
  });
}

const byName = (list, name) => list.find((o) => o.name === name);

async function checkArrivingIfAsked() {
  const box = page.locator('[data-testid="confirm-arriving"]');
  if (await box.count()) await box.check();
}

async function fillRequest({ targetId, purpose, clinicalInfo, note }) {
  await page.check('[data-testid="urgency-routine"]');
  await page.check('input[name="category"][value="clinical"]');
  await page.selectOption('#modality', 'CT');
  await page.selectOption('#body_parts', ['CHEST']);
  await page.selectOption('#purpose', purpose);
  await page.selectOption('#clinical_info', clinicalInfo);
  await page.fill('textarea[name="clinical_note"]', note);
  await page.fill('#contact_phone', PHONE);
  await page.selectOption('#supporting_facility_id', String(targetId));
  await checkArrivingIfAsked();
}

async function patientBoxShowsName() {
  const box = page.locator('[data-testid="patient-box"]');
  await box.waitFor();
  assert.equal((await box.locator('[data-testid="name-ideographic"]').textContent()).trim(), PATIENT.ideographic);
  assert.equal((await box.locator('[data-testid="name-phonetic"]').textContent()).trim(), PATIENT.phonetic);
  assert.equal((await box.locator('[data-testid="patient-id"]').textContent()).trim(), PATIENT.id);
}

step('1. the clinic sends a CT study over DICOM (storescu as SANUKI_CT)', async () => {
  const clinic = demo.facility(CLINIC);
  assert.deepEqual(clinic.ae_titles, ['SANUKI_CT']);
  assert.equal(demo.accounts.dicom.port, demo.dicomPort);
  assert.equal(demo.accounts.second_factor_required, false);
  const calledAe = demo.accounts.dicom.called_ae_title;
  try {
    execFileSync(STORESCU, ['-aet', 'SANUKI_CT', '-aec', calledAe, '127.0.0.1', String(demo.dicomPort), ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (e) {
    throw new Error(`storescu failed (${e.status}): ${e.stdout}${e.stderr}`);
  }
  // The study is indexed with its three instances (the physician's own API token).
  const token = demo.user('dr.sanuki').token;
  let study = null;
  const deadline = Date.now() + 20_000;
  while (!study && Date.now() < deadline) {
    const r = await api(token, '/api/v1/studies');
    assert.equal(r.status, 200, r.text);
    study = r.json.studies.find((s) => s.study_uid === STUDY_UID && s.num_instances === 3) ?? null;
    if (!study) await sleep(250);
  }
  assert.ok(study, 'the study was indexed with 3 instances');
  assert.deepEqual(study.modalities, ['CT']);
  assert.equal(study.patient.name.ideographic, '讃岐^花子');
  studyId = study.id;
});

step('2. dr.sanuki signs in (no second factor in the demo) and opens the request form', async () => {
  await page.goto('/login');
  await page.fill('#username', 'dr.sanuki');
  await page.fill('#password', demo.accounts.password);
  await clickAndWait(page.locator('main form:has(#password)').locator('button[type="submit"], input[type="submit"]').first());
  assert.equal(path(), '/', 'signed in straight to the home page (no TOTP step)');
  await page.goto('/studies');
  const row = page.locator('[data-testid="study-table"] tbody tr', { hasText: PATIENT.ideographic });
  await row.waitFor();
  assert.equal(await page.locator('[data-testid="study-table"] tbody tr').count(), 1);
  await clickAndWait(row.locator('a').first());
  assert.equal(path(), `/studies/${studyId}`);
  await clickAndWait(page.locator('[data-testid="request-link"]'));
  assert.equal(path(), `/studies/${studyId}/request`);
  await patientBoxShowsName();
});

step('3. the dropdown offers exactly auto + 県立中央病院 + 市民総合病院 with routine CT prices', async () => {
  const from = new Date();
  await page.reload();
  // Routine, clinical, CT, the study's body part (CHEST) preselected.
  assert.equal(await page.isChecked('[data-testid="urgency-routine"]'), true);
  assert.equal(await page.isChecked('input[name="category"][value="clinical"]'), true);
  assert.equal(await page.inputValue('#modality'), 'CT');
  const parts = await page.locator('#body_parts option:checked').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(parts, ['CHEST']);

  const list = await targets();
  assert.equal(list.length, 3, `options: ${JSON.stringify(list)}`);
  assert.equal(list[0].value, 'auto');
  assert.match(list[0].label, /^指定なし/);
  const names = list.slice(1).map((o) => o.name).sort();
  assert.deepEqual(names, [CHUO, SHIMIN].sort(), `options: ${JSON.stringify(list)}`);
  for (const other of ['高松整形外科医院', '丸亀ファミリークリニック', CLINIC, '香川県医師会 遠隔画像診断ネットワーク事務局']) {
    assert.ok(!list.some((o) => o.label.includes(other)), `${other} is not offered`);
  }
  const chuo = byName(list, CHUO);
  const shimin = byName(list, SHIMIN);
  assert.equal(chuo.value, String(demo.facility(CHUO).id));
  assert.equal(shimin.value, String(demo.facility(SHIMIN).id));
  // K-MIX R 2022: CT up to 2 body parts and 500 images 3,300 tax included (+1,100 after hours).
  assert.equal(chuo.tax, '税込');
  const expected = chuoExpected(from, 3_300);
  assert.ok(expected.includes(chuo.total), `県立中央病院 ${chuo.total}, expected one of ${expected} (JST ${jst().ymd} ${jst().minutes} min)`);
  // 3,000 + 10 % tax, shown as the tax-excluded table's total.
  assert.equal(shimin.tax, '税別');
  assert.equal(shimin.total, '3,300');
});

step('4. emergency: 料金を再計算 shows 4,400 at 市民総合病院; back to routine', async () => {
  const from = new Date();
  await page.check('[data-testid="urgency-emergency"]');
  await clickAndWait(page.locator('[data-testid="refresh"]'));
  assert.equal(path(), `/studies/${studyId}/request`);
  assert.equal(await page.isChecked('[data-testid="urgency-emergency"]'), true, 'the choice survives the refresh');
  let list = await targets();
  assert.equal(byName(list, SHIMIN)?.total, '4,400', `options: ${JSON.stringify(list)}`);
  assert.equal(byName(list, SHIMIN).tax, '税別');
  // 県立中央病院 takes emergencies 08:30–22:00 only; then at 3,300 + 1,100 (+ 1,100 after hours).
  const open = chuoTakesEmergency(from);
  const chuo = byName(list, CHUO);
  if (open !== null) assert.equal(Boolean(chuo), open, `県立中央病院 offered for an emergency at JST minute ${jst().minutes}`);
  if (chuo) {
    const expected = chuoExpected(from, 4_400);
    assert.ok(expected.includes(chuo.total), `県立中央病院 emergency ${chuo.total}, expected one of ${expected}`);
  }
  assert.ok(!list.some((o) => o.name && o.name !== CHUO && o.name !== SHIMIN), JSON.stringify(list));
  await shot('request-emergency-prices.png');

  await page.check('[data-testid="urgency-routine"]');
  await clickAndWait(page.locator('[data-testid="refresh"]'));
  list = await targets();
  assert.equal(byName(list, SHIMIN)?.total, '3,300');
  assert.ok(byName(list, CHUO), '県立中央病院 is back for a routine read');
});

step('4b. without the button: the page script re-prices the dropdown as choices change', async () => {
  const quoted = () => page.waitForResponse((r) => r.url().endsWith('/api/v1/requests/quote') && r.status() === 200);
  let done = quoted();
  await page.check('[data-testid="urgency-emergency"]');
  await done;
  await page.waitForFunction(() => [...document.querySelectorAll('#supporting_facility_id option')]
    .some((o) => o.textContent.startsWith('市民総合病院 — 4,400円')));
  let list = await targets();
  assert.equal(byName(list, SHIMIN)?.total, '4,400', `options: ${JSON.stringify(list)}`);
  done = quoted();
  await page.check('[data-testid="urgency-routine"]');
  await done;
  await page.waitForFunction(() => [...document.querySelectorAll('#supporting_facility_id option')]
    .some((o) => o.textContent.startsWith('市民総合病院 — 3,300円')));
  list = await targets();
  assert.equal(byName(list, SHIMIN)?.total, '3,300');
  assert.ok(byName(list, CHUO), '県立中央病院 is offered for a routine read');
});

step('5. files a routine request to 県立中央病院 through the confirmation', async () => {
  const chuoId = demo.facility(CHUO).id;
  await fillRequest({ targetId: chuoId, purpose: 'diagnosis', clinicalInfo: 'pneumonia', note: '発熱・咳嗽 1週間。肺炎疑い。' });
  chuoTotal = byName(await targets(), CHUO).total;
  await clickAndWait(page.locator('[data-testid="review"]'));
  assert.equal(path(), `/studies/${studyId}/request`);
  assert.equal(
    await page.locator('[data-testid="confirm-summary"]').count(),
    1,
    `confirmation page expected; errors: ${await page.locator('.field-error').allTextContents()}`,
  );
  await patientBoxShowsName();
  const target = (await page.locator('[data-testid="confirm-target"]').textContent()).trim();
  assert.equal(target, CHUO);
  const total = (await page.locator('[data-testid="quote-total"]').textContent()).trim();
  assert.equal(total, `${chuoTotal}円`, 'the confirmation shows the total offered in the dropdown');
  assert.equal(await page.inputValue('input[name="expected_total"]'), chuoTotal.replace(/,/g, ''));
  const summary = await page.locator('[data-testid="confirm-summary"]').textContent();
  for (const s of ['一般', '臨床', 'CT', '胸部（CHEST）', '精査', '肺炎', PHONE]) {
    assert.ok(summary.includes(s), `confirmation shows ${s}: ${summary}`);
  }
  await shot('request-confirm.png');

  await clickAndWait(page.locator('[data-testid="submit"]'));
  const m = path().match(/^\/requests\/(\d+)$/);
  assert.ok(m, `redirected to the request, at ${page.url()}`);
  requestId = Number(m[1]);
  // 県立中央病院 assigns automatically in the demo, so the request is accepted (受付済) at once.
  assert.equal((await page.locator('[data-testid="request-status"]').textContent()).trim(), '受付済');
  assert.equal((await page.locator('[data-testid="request-target"]').textContent()).trim(), CHUO);
  assert.equal((await page.locator('[data-testid="request-price"] [data-testid="quote-total"]').textContent()).trim(), `${chuoTotal}円`);
  assert.ok((await page.textContent('main')).includes('読影を依頼しました'), 'flash notice');
  await patientBoxShowsName();
  await shot('request-filed.png');

  await page.goto('/requests');
  assert.equal((await page.locator('[data-testid="request-total"]').textContent()).trim(), '1');
  const row = page.locator(`[data-testid="request-table"] tbody tr[data-request-id="${requestId}"]`);
  const text = await row.textContent();
  for (const s of ['受付済', '一般', PATIENT.ideographic, PATIENT.id, 'CT', CHUO, `${chuoTotal}円`]) {
    assert.ok(text.includes(s), `the list row shows ${s}: ${text}`);
  }
  await shot('request-list.png');
});

step("6. 県立中央病院's radiologist sees the request through the API; 市民総合病院's does not", async () => {
  /** Any object with this id, anywhere in the answer (list shapes vary: [...], {requests: [...]}, ...). */
  const holds = (json, id) => {
    if (Array.isArray(json)) return json.some((x) => holds(x, id));
    if (json && typeof json === 'object') {
      if (json.id === id) return true;
      return Object.values(json).some((v) => holds(v, id));
    }
    return false;
  };
  const chuo = await api(demo.user('rad.chuo').token, '/api/v1/requests');
  assert.equal(chuo.status, 200, `GET /api/v1/requests as rad.chuo: ${chuo.status} ${chuo.text.slice(0, 300)}`);
  assert.ok(holds(chuo.json, requestId), `rad.chuo sees request ${requestId}: ${chuo.text.slice(0, 500)}`);
  assert.ok(chuo.text.includes(PATIENT.id), 'with the patient');
  const shimin = await api(demo.user('rad.shimin').token, '/api/v1/requests');
  assert.equal(shimin.status, 200, `GET /api/v1/requests as rad.shimin: ${shimin.status} ${shimin.text.slice(0, 300)}`);
  assert.ok(!holds(shimin.json, requestId), `rad.shimin does not see request ${requestId}: ${shimin.text.slice(0, 500)}`);
  assert.ok(!shimin.text.includes(PATIENT.id), 'nor the patient');
}, { blocking: false });

step('7. a tampered confirmed total is refused and files nothing', async () => {
  const shiminId = demo.facility(SHIMIN).id;
  await page.goto(`/studies/${studyId}/request`);
  await fillRequest({ targetId: shiminId, purpose: 'follow_up', clinicalInfo: 'other', note: '改ざんテスト' });
  await clickAndWait(page.locator('[data-testid="review"]'));
  assert.equal(
    await page.locator('[data-testid="confirm-summary"]').count(),
    1,
    `confirmation page expected; errors: ${await page.locator('.field-error').allTextContents()}`,
  );
  assert.equal((await page.locator('[data-testid="confirm-target"]').textContent()).trim(), SHIMIN);
  assert.equal((await page.locator('[data-testid="quote-total"]').textContent()).trim(), '3,300円');
  await page.evaluate(() => {
    document.querySelector('input[name="expected_total"]').value = '1';
  });
  const res = await clickAndWait(page.locator('[data-testid="submit"]'));
  assert.equal(res.status(), 422);
  assert.equal(path(), `/studies/${studyId}/request/submit`);
  const err = page.locator('[data-testid="price-error"]');
  assert.match(await err.textContent(), /料金が確認時と異なります/);
  await shot('request-tampered.png');

  await page.goto('/requests');
  assert.equal((await page.locator('[data-testid="request-total"]').textContent()).trim(), '1');
  assert.equal(await page.locator('[data-testid="request-table"] tbody tr').count(), 1);
});
