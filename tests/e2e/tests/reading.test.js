// End-to-end acceptance test of the reading workflow (issue 6), in the demo prefecture
// (`enkaku demo`): a clinic sends a small CT over DICOM (dcmtk storescu as SANUKI_CT); its
// physician dr.sanuki files a request to 県立中央病院 through the request form; in a second
// browser, 県立中央病院's radiologist rad.chuo finds it on /worklist, opens it, claims it if
// nobody has it, starts reading (「読影開始」 → the viewer draws the CT), marks a key image,
// writes findings and impression in the report editor (which shows the key image), reviews
// and confirms (確定). dr.sanuki sees the request confirmed and opens the report: findings,
// impression, confirmer, time and the key image. rad.chuo adds an addendum with a reason;
// the clinic's report then shows both versions, and dr.sanuki acknowledges (確認しました). A
// radiologist of the other supporting hospital (rad.shimin) gets 404 on the request and the
// report. Screenshots go to the artifacts directory (reading-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { startDemo } from '../lib/demo.js';
import {
  api,
  canvasPixels,
  clickAndWait,
  fileRequest,
  generateCt,
  imagesLoaded,
  painted,
  sendDicom,
  signIn,
  viewerReady,
} from '../lib/reading.js';

const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = resolve(process.env.ENKAKU_E2E_ARTIFACTS || join(E2E_DIR, '../../target/e2e-artifacts'));

const CHUO = '県立中央病院';
const CLINIC = 'さぬき内科クリニック';
const RAD_CHUO_NAME = '中央 読影医（放射線診断専門医）';
const PATIENT = { ideographic: '讃岐 三郎', phonetic: 'さぬき さぶろう', id: 'SNK-0606' };
const STUDY_UID = '1.2.392.200036.9.66.1';
const SLICES = 4;
const KEY_SLICE = 2; // 0-based: the third slice is marked

const FINDINGS = '右肺下葉に径約2cmの浸潤影を認める。\n縦隔・肺門リンパ節の腫大なし。胸水なし。';
const IMPRESSION = '右下葉肺炎を疑う。';
const ADDENDUM_REASON = '前回検査との比較を追記';
const ADDENDUM_FINDINGS = '右肺下葉に径約2cmの浸潤影を認める。前回（2025年）には認めず、新出病変。';
const ADDENDUM_IMPRESSION = '右下葉肺炎（新出）。治療後の再検を推奨。';

let demo;
let browser;
let folder;
let files;
// One browser context (cookie jar) per person.
const ctx = {};
const pages = {};
let current = null; // the page the last step worked on (for failure screenshots)
let failedStep = null;
let studyId;
let requestId;
let confirmWindow; // [before, after] the click on 確定する

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  folder = mkdtempSync(join(tmpdir(), 'enkaku-reading-'));
  files = generateCt(folder, {
    study: STUDY_UID,
    n: SLICES,
    size: 128,
    name: 'Sanuki^Saburo=讃岐^三郎=さぬき^さぶろう',
    patient_id: PATIENT.id,
    birth_date: '19520707',
    sex: 'M',
    date: '20261120',
    accession: 'SNK2026-0606',
    description: '胸部CT 単純',
    body_part: 'CHEST',
  });
  demo = await startDemo();
  browser = await launchBrowser();
  for (const who of ['clinic', 'chuo', 'shimin']) {
    ctx[who] = await browser.newContext({ baseURL: demo.url, locale: 'ja-JP', viewport: { width: 1400, height: 900 } });
    ctx[who].setDefaultTimeout(20_000);
    ctx[who].setDefaultNavigationTimeout(20_000);
    const p = await ctx[who].newPage();
    p.on('pageerror', (e) => console.log(`[${who} browser exception] ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) console.log(`[${who} browser error] ${m.text()}`);
    });
    p.on('response', (r) => {
      if (r.status() >= 400) console.log(`[${who} http ${r.status()}] ${new URL(r.url()).pathname}`);
    });
    pages[who] = p;
  }
});

after(async () => {
  for (const c of Object.values(ctx)) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await demo?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

// A failing step skips the ones after it, unless it is marked { blocking: false }.
function step(name, fn, { blocking = true } = {}) {
  test(name, { timeout: 120_000 }, async (t) => {
    if (failedStep) {
      t.skip(`an earlier step failed: ${failedStep}`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      if (blocking) failedStep = name;
      const file = `reading-failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
      await current?.screenshot({ path: join(ARTIFACTS, file), fullPage: true }).catch(() => {});
      const logs = demo?.logs().split('\n').slice(-30).join('\n');
      e.message += `\n  at ${current?.url()} (screenshot ${file})\n  last server output:\n${logs}`;
      throw e;
    }
  });
}

/** The page of one person, remembered for failure screenshots. */
function as(who) {
  current = pages[who];
  return current;
}

const shot = (page, name, fullPage = true) => page.screenshot({ path: join(ARTIFACTS, name), fullPage });
const pathOf = (page) => new URL(page.url()).pathname;
const text = async (locator) => (await locator.textContent()).replace(/\s+/g, ' ').trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `YYYY-MM-DD HH:MM` in Japan time, as the screens print times. */
function jstMinute(d) {
  return new Date(d.getTime() + 9 * 3600_000).toISOString().slice(0, 16).replace('T', ' ');
}

step('1. the clinic sends a 4-slice CT over DICOM (storescu as SANUKI_CT)', async () => {
  assert.deepEqual(demo.facility(CLINIC).ae_titles, ['SANUKI_CT']);
  assert.equal(demo.accounts.second_factor_required, false);
  sendDicom(demo, files, 'SANUKI_CT');
  const token = demo.user('dr.sanuki').token;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await api(demo.url, token, '/api/v1/studies');
    assert.equal(r.status, 200, r.text);
    const s = r.json.studies.find((x) => x.study_uid === STUDY_UID && x.num_instances === SLICES);
    if (s) {
      studyId = s.id;
      break;
    }
    assert.ok(Date.now() < deadline, `the study was indexed with ${SLICES} instances: ${r.text.slice(0, 400)}`);
    await sleep(250);
  }
});

step('2. dr.sanuki files a routine CT request to 県立中央病院 through the form', async () => {
  const page = as('clinic');
  await signIn(page, 'dr.sanuki', demo.accounts.password);
  requestId = await fileRequest(page, {
    studyId,
    targetId: demo.facility(CHUO).id,
    bodyPart: 'CHEST',
    purpose: 'diagnosis',
    clinicalInfo: 'pneumonia',
    note: '発熱・咳嗽 1週間。肺炎疑い。',
    phone: '0877-00-3999',
  });
  assert.equal(await text(page.locator('[data-testid="request-target"]')), CHUO);
  assert.equal(await page.locator('[data-testid="report-link"]').count(), 0, 'no report link before confirmation');
});

step("3. rad.chuo (another browser) finds the clinic's request on /worklist", async () => {
  const page = as('chuo');
  await signIn(page, 'rad.chuo', demo.accounts.password);
  await page.goto('/worklist');
  const row = page.locator(`[data-testid="worklist-row"][data-request-id="${requestId}"]`);
  await row.waitFor();
  const t = await text(row);
  for (const s of [CLINIC, PATIENT.ideographic, PATIENT.id, 'CT', '一般']) {
    assert.ok(t.includes(s), `the worklist row shows ${s}: ${t}`);
  }
  assert.match(await text(row.locator('[data-testid="countdown"]')), /\d/, 'a countdown');
  await shot(page, 'reading-worklist.png');
});

step('4. rad.chuo opens it, claims it if needed and starts reading: the viewer draws the CT', async () => {
  const page = as('chuo');
  const row = page.locator(`[data-testid="worklist-row"][data-request-id="${requestId}"]`);
  await clickAndWait(page, row.locator('[data-testid="item-link"]'));
  assert.equal(pathOf(page), `/worklist/${requestId}`);
  assert.equal(await text(page.locator('[data-testid="requesting"]')), CLINIC);
  assert.ok((await text(page.locator('[data-testid="clinical"]'))).includes('肺炎疑い'));
  const claim = page.locator('[data-testid="reader-box"] [data-testid="claim"]');
  if (await claim.count()) {
    await clickAndWait(page, claim);
    assert.equal(pathOf(page), `/worklist/${requestId}`);
  }
  // Either claimed just now or given to rad.chuo by the automatic assignment.
  const assignee = await text(page.locator('[data-testid="assignee"]'));
  assert.ok(assignee.startsWith(RAD_CHUO_NAME), `assigned to rad.chuo: ${assignee}`);
  await shot(page, 'reading-request.png');
  const start = page.locator('[data-testid="reader-box"] [data-testid="start"]');
  assert.equal(await text(start), '読影開始');
  await clickAndWait(page, start);
  assert.equal(pathOf(page), `/studies/${studyId}/view`, '「読影開始」 opens the viewer');
  await viewerReady(page);
  assert.equal(await page.locator('[data-testid="pane-main"]').getAttribute('data-slices'), String(SLICES));
  assert.equal(await text(page.locator('[data-testid="pane-main"] [data-testid="ov-ideographic"]')), PATIENT.ideographic);
  const px = await canvasPixels(page);
  assert.ok(px.w > 0 && px.lit > px.w * px.h * 0.1, `pixels are drawn: ${JSON.stringify(px)}`);
  assert.ok(px.levels >= 3, `more than a flat image: ${JSON.stringify(px)}`);
});

step('5. rad.chuo marks a key image (★)', async () => {
  const page = as('chuo');
  await page.locator('[data-testid="pane-main"] .vw-stage').click();
  await page.keyboard.press('Home');
  for (let i = 0; i < KEY_SLICE; i++) await page.keyboard.press('ArrowDown');
  await painted(page);
  assert.equal(await page.locator('[data-testid="pane-main"]').getAttribute('data-slice'), String(KEY_SLICE));
  assert.equal(await page.getAttribute('[data-testid="key-toggle"]', 'aria-pressed'), 'false');
  await page.click('[data-testid="key-toggle"]');
  await page.locator('[data-testid="key-list"] li').first().waitFor();
  assert.equal(await page.getAttribute('[data-testid="key-toggle"]', 'aria-pressed'), 'true');
  assert.equal(await page.locator('[data-testid="key-list"] li').count(), 1);
  await shot(page, 'reading-viewer-key.png', false);
  // The request is now being read.
  await page.goto(`/worklist/${requestId}`);
  assert.equal(await text(page.locator('[data-testid="request-status"]')), '読影中');
});

step('6. the report editor shows the key image; findings and impression are typed, reviewed and confirmed (確定)', async () => {
  const page = as('chuo');
  await clickAndWait(page, page.locator('[data-testid="report-link"]'));
  assert.equal(pathOf(page), `/worklist/${requestId}/report`);
  const thumbs = await imagesLoaded(page, '[data-testid="editor-key-images"] img[data-testid="key-image"]');
  assert.equal(thumbs.length, 1, `one key image thumbnail: ${JSON.stringify(thumbs)}`);
  assert.ok(thumbs[0].w > 0, `the thumbnail loaded: ${JSON.stringify(thumbs)}`);
  assert.ok(thumbs[0].src.includes(`${STUDY_UID}.1.${KEY_SLICE + 1}/`), `the marked slice: ${thumbs[0].src}`);
  await page.fill('#findings', FINDINGS);
  await page.fill('#impression', IMPRESSION);
  await shot(page, 'reading-editor.png');
  await clickAndWait(page, page.locator('[data-testid="to-confirm"]'));
  const preview = page.locator('[data-testid="confirm-preview"]');
  assert.equal(await preview.count(), 1, `the confirmation step: ${await page.locator('.field-error').allTextContents()}`);
  const pt = await preview.textContent();
  assert.ok(pt.includes('右肺下葉に径約2cmの浸潤影を認める。'), pt);
  assert.ok(pt.includes(IMPRESSION), pt);
  const previewThumbs = await imagesLoaded(page, '[data-testid="confirm-preview"] .key-images img');
  assert.equal(previewThumbs.length, 1);
  assert.ok(previewThumbs[0].w > 0, 'the key image in the preview loaded');
  await shot(page, 'reading-confirm.png');
  const confirm = page.locator('[data-testid="confirm"]');
  assert.equal(await text(confirm), '確定する');
  const before = new Date();
  await clickAndWait(page, confirm);
  confirmWindow = [before, new Date()];
  assert.equal(pathOf(page), `/worklist/${requestId}/report`);
  assert.ok((await text(page.locator('[data-testid="report-notice"]'))).includes('レポートを確定しました'));
  assert.equal(await text(page.locator('[data-testid="report-request"] [data-testid="request-status"]')), '確定');
  const versions = page.locator('[data-testid="report-version"]');
  assert.equal(await versions.count(), 1);
  assert.equal(await text(versions.first().locator('[data-testid="confirmer"]')), RAD_CHUO_NAME);
  assert.equal(await page.locator('[data-testid="addendum-form"]').count(), 1, 'the addendum form is offered');
  assert.equal(await page.locator('[data-testid="report-form"]').count(), 0, 'no editor after confirmation');
  await shot(page, 'reading-confirmed-editor.png');
});

/** Checks the confirmer and a JST time between the confirmation's start and now. */
function checkSignature(sig, label) {
  assert.ok(sig.includes(`確定医: ${RAD_CHUO_NAME}`), `${label}: confirmer in ${sig}`);
  const m = sig.match(/確定日時: (\d{4}-\d{2}-\d{2} \d{2}:\d{2})/);
  assert.ok(m, `${label}: a confirmation time in ${sig}`);
  return m[1];
}

step('7. dr.sanuki sees the request 確定, opens the report: findings, impression, confirmer, time, key image', async () => {
  const page = as('clinic');
  await page.goto('/requests');
  const row = page.locator(`[data-testid="request-table"] tbody tr[data-request-id="${requestId}"]`);
  assert.ok((await text(row)).includes('確定'), `the list row is 確定: ${await text(row)}`);
  await page.goto(`/requests/${requestId}`);
  assert.equal(await text(page.locator('[data-testid="request-status"]')), '確定');
  await clickAndWait(page, page.locator('[data-testid="report-link"] a'));
  assert.equal(pathOf(page), `/requests/${requestId}/report`);
  assert.equal(await text(page.locator('[data-testid="report-supporting"]')), CHUO);
  assert.equal(await text(page.locator('[data-testid="patient-box"] [data-testid="name-ideographic"]')), PATIENT.ideographic);
  const versions = page.locator('[data-testid="report-version"]');
  assert.equal(await versions.count(), 1);
  const v1 = versions.first();
  assert.equal(await v1.getAttribute('data-version'), '1');
  assert.equal(await v1.locator('[data-testid="version-findings"]').textContent(), FINDINGS);
  assert.equal(await v1.locator('[data-testid="version-impression"]').textContent(), IMPRESSION);
  const at = checkSignature(await text(v1.locator('[data-testid="version-signature"]')), 'version 1');
  const expected = confirmWindow.map(jstMinute);
  assert.ok(expected.includes(at), `confirmed at ${at}, expected ${expected.join(' or ')} (JST)`);
  const thumbs = await imagesLoaded(page, '[data-testid="report-version"] img[data-testid="key-image"]');
  assert.equal(thumbs.length, 1, `the key image: ${JSON.stringify(thumbs)}`);
  assert.ok(thumbs[0].w > 0, `the key image loaded for the clinic: ${JSON.stringify(thumbs)}`);
  assert.equal(await page.locator('[data-testid="print"]').count(), 1, 'a print button');
  await shot(page, 'reading-clinic-report.png');
  // As printed (print.css): no navigation or buttons, the report's footer.
  await page.emulateMedia({ media: 'print' });
  try {
    assert.equal(await page.locator('[data-testid="print"]').isVisible(), false, 'no print button on paper');
    assert.equal(await page.locator('nav').first().isVisible(), false, 'no navigation on paper');
    assert.equal(await page.locator('.print-footer').isVisible(), true, 'the print footer');
    assert.equal(await v1.locator('[data-testid="version-findings"]').isVisible(), true);
    await shot(page, 'reading-clinic-print.png');
  } finally {
    await page.emulateMedia({ media: null });
  }
});

step('8. rad.chuo adds an addendum with a reason', async () => {
  const page = as('chuo');
  await page.goto(`/worklist/${requestId}/report`);
  await page.fill('#addendum_reason', ADDENDUM_REASON);
  await page.fill('#findings', ADDENDUM_FINDINGS);
  await page.fill('#impression', ADDENDUM_IMPRESSION);
  await clickAndWait(page, page.locator('[data-testid="addendum-submit"]'));
  assert.equal(pathOf(page), `/worklist/${requestId}/report`);
  assert.ok((await text(page.locator('[data-testid="report-notice"]'))).includes('追記を確定しました'));
  assert.equal(await page.locator('[data-testid="report-version"]').count(), 2);
  await shot(page, 'reading-addendum-editor.png');
});

step('9. the clinic reloads the report: both versions, the addendum with its reason; acknowledges', async () => {
  const page = as('clinic');
  await page.reload();
  const versions = page.locator('[data-testid="report-version"]');
  assert.equal(await versions.count(), 2);
  const v1 = page.locator('[data-testid="report-version"][data-version="1"]');
  const v2 = page.locator('[data-testid="report-version"][data-version="2"]');
  // The initial version is unchanged.
  assert.equal(await v1.locator('[data-testid="version-findings"]').textContent(), FINDINGS);
  assert.equal(await v1.locator('[data-testid="version-impression"]').textContent(), IMPRESSION);
  assert.equal(await v1.locator('[data-testid="addendum-reason"]').count(), 0);
  assert.ok((await text(v1.locator('h3'))).includes('初回'), await text(v1.locator('h3')));
  // The addendum, with its reason.
  assert.ok((await v2.getAttribute('class')).includes('addendum'));
  assert.ok((await text(v2.locator('h3'))).includes('追記'), await text(v2.locator('h3')));
  assert.equal(await v2.locator('[data-testid="addendum-reason"]').textContent(), ADDENDUM_REASON);
  assert.equal(await v2.locator('[data-testid="version-findings"]').textContent(), ADDENDUM_FINDINGS);
  assert.equal(await v2.locator('[data-testid="version-impression"]').textContent(), ADDENDUM_IMPRESSION);
  checkSignature(await text(v2.locator('[data-testid="version-signature"]')), 'version 2');
  await imagesLoaded(page, '[data-testid="report-version"] img[data-testid="key-image"]');
  await shot(page, 'reading-clinic-addendum.png');

  const ack = page.locator('[data-testid="acknowledge"]');
  if (await ack.count()) {
    await clickAndWait(page, ack);
    assert.equal(pathOf(page), `/requests/${requestId}/report`);
    assert.equal(await text(page.locator('[data-testid="acknowledged"]')), '確認済み');
    assert.equal(await page.locator('[data-testid="acknowledge"]').count(), 0, 'acknowledged once');
    assert.equal(await text(page.locator('[data-testid="report-request"] [data-testid="request-status"]')), '確認済');
    assert.equal(await page.locator('[data-testid="report-version"]').count(), 2, 'still both versions');
    await shot(page, 'reading-clinic-acknowledged.png');
    await page.goto(`/requests/${requestId}`);
    assert.equal(await text(page.locator('[data-testid="request-status"]')), '確認済');
  } else {
    console.log('the clinic report offers no acknowledgement button');
  }
});

step('10. a radiologist of the other hospital (rad.shimin) gets 404 on the request and the report', async () => {
  const page = as('shimin');
  await signIn(page, 'rad.shimin', demo.accounts.password);
  for (const p of [`/worklist/${requestId}`, `/worklist/${requestId}/report`, `/requests/${requestId}/report`, `/requests/${requestId}`]) {
    const res = await page.goto(p);
    assert.equal(res.status(), 404, `${p} as rad.shimin: ${res.status()}`);
    const body = await text(page.locator('body'));
    assert.ok(body.includes('お探しのページは見つかりません'), `${p}: the 404 page: ${body.slice(0, 200)}`);
    assert.ok(!body.includes(PATIENT.ideographic) && !body.includes(PATIENT.id), `${p} shows no patient`);
  }
  await shot(page, 'reading-shimin-404.png');
  await page.goto('/worklist');
  assert.equal(await page.locator(`[data-testid="worklist-row"][data-request-id="${requestId}"]`).count(), 0,
    "not on 市民総合病院's worklist");
}, { blocking: false });

step('11. the artifacts directory holds the screenshots', async () => {
  const names = readdirSync(ARTIFACTS);
  for (const n of ['reading-worklist.png', 'reading-viewer-key.png', 'reading-editor.png', 'reading-confirm.png',
    'reading-clinic-report.png', 'reading-clinic-addendum.png']) {
    assert.ok(names.includes(n), `${n} in ${ARTIFACTS}`);
  }
});
