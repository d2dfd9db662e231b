// End-to-end test of the web viewer (ビューア), in the demo prefecture (`enkaku demo`): the
// clinic sends synthetic CT studies (a 20-slice 256×256 series with a known pattern and
// Pixel Spacing 0.5\0.5, a 10-slice prior of the same patient) and pydicom's MR_small in
// two series (uncompressed and JPEG 2000 lossless) with dcmtk storescu; dr.sanuki opens the
// viewer from the study page and the test checks that pixels are drawn, that window/level
// and scrolling change them, that the distance tool reads 50.0 mm over 100 px at 1:1, that
// a key image survives a reload, that a prior opens side by side with synchronised
// scrolling, and that the JPEG 2000 series shows exactly the uncompressed pixels. A larger
// series (ENKAKU_VIEWER_PERF_SLICES, default 200 slices of 512×512) measures the time to the
// first image and to the whole series against fetching its raw bytes (printed, not asserted).
// Screenshots go to the artifacts directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { startDemo } from '../lib/demo.js';

const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = resolve(process.env.ENKAKU_E2E_ARTIFACTS || join(E2E_DIR, '../../target/e2e-artifacts'));
const STORESCU = process.env.ENKAKU_STORESCU || '/usr/bin/storescu';
const PERF_SLICES = Number(process.env.ENKAKU_VIEWER_PERF_SLICES || 200);

const CT_UID = '1.2.392.200036.9.88.1';
const PRIOR_UID = '1.2.392.200036.9.88.2';
const MR_UID = '1.2.392.200036.9.88.3';
const PERF_UID = '1.2.392.200036.9.88.4';
const PATIENT = { id: 'SNK-0088', ideographic: '讃岐 次郎', phonetic: 'さぬき じろう', alphabetic: 'Sanuki Jiro' };

// Synthetic studies with pydicom. Slice k of the CT: background -1000 HU (air), a body disc
// of 40 HU, a bone ring of 700 HU, a lung-like square of -700 HU, and a bright marker whose
// column moves with the slice, so every slice differs. Positions z = 2.5·k mm.
const GENERATOR = String.raw`
import json, os, sys
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

out, spec = sys.argv[1], json.loads(sys.argv[2])
P = spec["patient"]

def ct(study, series, n, size, date, desc, k):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = f"{series}.{k + 1}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = P["name"]
    ds.PatientID = P["id"]
    ds.PatientBirthDate = "19500505"
    ds.PatientSex = "M"
    ds.StudyDate = date
    ds.StudyTime = "093000"
    ds.AccessionNumber = "V" + date
    ds.StudyDescription = desc
    ds.SeriesDescription = "axial"
    ds.BodyPartExamined = "CHEST"
    ds.Modality = "CT"
    ds.SeriesNumber = 2
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [-64.0, -64.0, 2.5 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = 2.5 * k
    ds.SliceThickness = 2.5
    ds.PixelSpacing = [0.5, 0.5]
    ds.Rows = size
    ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    y, x = np.mgrid[0:size, 0:size]
    c = size / 2
    r = np.hypot(x - c, y - c)
    img = np.full((size, size), -1000, dtype=np.int16)
    img[r < size * 0.45] = 700
    img[r < size * 0.40] = 40
    img[(abs(x - c * 0.7) < size * 0.08) & (abs(y - c) < size * 0.15)] = -700
    col = int(size * 0.2 + (size * 0.6) * k / max(1, n - 1))
    img[int(c + size * 0.2):int(c + size * 0.28), col:col + size // 32] = 1500
    ds.PixelData = img.tobytes()
    path = os.path.join(out, f"{series}.{k + 1}.dcm")
    ds.save_as(path, enforce_file_format=True)
    return path

files = {}
for s in spec["ct"]:
    files[s["key"]] = [ct(s["study"], s["study"] + ".2", s["n"], s["size"], s["date"], s["desc"], k) for k in range(s["n"])]

# pydicom's MR_small (Explicit VR Little Endian) and the same image as JPEG 2000 lossless,
# in one study as two series with new UIDs (they share their SOP Instance UID).
mr = []
for i, name in enumerate(["MR_small.dcm", "MR_small_jp2klossless.dcm"]):
    ds = pydicom.dcmread(get_testdata_file(name))
    series = spec["mr"] + f".{i + 1}"
    ds.StudyInstanceUID = spec["mr"]
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = i + 1
    ds.SeriesDescription = "raw" if i == 0 else "jpeg2000"
    ds.SOPInstanceUID = series + ".1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID = P["id"]
    ds.PatientName = P["name"]
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.StudyDate = "20261001"
    ds.StudyDescription = "MR test"
    path = os.path.join(out, f"mr{i + 1}.dcm")
    ds.save_as(path)
    mr.append(path)
files["mr"] = mr
print(json.dumps(files))
`;

let demo;
let browser;
let context;
let page;
let folder;
let files;
let failedStep = null;
const ids = {};

function step(name, fn, { blocking = true } = {}) {
  test(name, { timeout: 180_000 }, async (t) => {
    if (failedStep) {
      t.skip(`an earlier step failed: ${failedStep}`);
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      if (blocking) failedStep = name;
      const file = `viewer-failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
      await page?.screenshot({ path: join(ARTIFACTS, file) }).catch(() => {});
      const logs = demo?.logs().split('\n').slice(-30).join('\n');
      e.message += `\n  at ${page?.url()} (screenshot ${file})\n  last server output:\n${logs}`;
      throw e;
    }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shot = (name) => page.screenshot({ path: join(ARTIFACTS, name) });
const pane = (role = 'main') => page.locator(`[data-testid="pane-${role}"]`);
const data = (role, key) => pane(role).getAttribute(`data-${key}`);

/** Two display frames: whatever was invalidated has been drawn. */
const painted = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** The canvas's pixels: a checksum, the number of non-black pixels, and a few samples. */
function pixels(role = 'main') {
  return page.evaluate((role) => {
    const c = document.querySelector(`[data-testid="canvas-${role}"]`);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let lit = 0;
    let h = 0;
    for (let i = 0; i < d.length; i += 4) {
      const v = d[i] + d[i + 1] + d[i + 2];
      sum += v;
      if (v > 0) lit++;
      h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
    }
    return { w: c.width, h: c.height, sum, lit, hash: h };
  }, role);
}

async function api(token, urlPath) {
  const res = await fetch(`${demo.url}${urlPath}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
  return { status: res.status, json: await res.json().catch(() => null) };
}

async function waitReady(role = 'main', timeout = 60_000) {
  await page.waitForFunction(
    (role) => {
      const p = document.querySelector(`[data-testid="pane-${role}"]`);
      return p && (p.dataset.state === 'ready' || p.dataset.state === 'error');
    },
    role,
    { timeout },
  );
  assert.equal(await data(role, 'state'), 'ready', `pane ${role} loaded without errors`);
  await painted();
}

async function openViewer(studyId, query = '') {
  await page.goto(`/studies/${studyId}/view${query}`);
}

function send(paths, options = []) {
  const calledAe = demo.accounts.dicom.called_ae_title;
  try {
    execFileSync(STORESCU, [...options, '-aet', 'SANUKI_CT', '-aec', calledAe, '127.0.0.1', String(demo.dicomPort), ...paths], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    throw new Error(`storescu failed (${e.status}): ${e.stdout}${e.stderr}`);
  }
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  folder = mkdtempSync(join(tmpdir(), 'enkaku-viewer-'));
  const spec = {
    patient: { id: PATIENT.id, name: 'Sanuki^Jiro=讃岐^次郎=さぬき^じろう' },
    ct: [
      { key: 'ct', study: CT_UID, n: 20, size: 256, date: '20261120', desc: '胸部CT 単純' },
      { key: 'prior', study: PRIOR_UID, n: 10, size: 256, date: '20250601', desc: '胸部CT 前回' },
      { key: 'perf', study: PERF_UID, n: PERF_SLICES, size: 512, date: '20261121', desc: '性能測定' },
    ],
    mr: MR_UID,
  };
  const out = execFileSync('python3', ['-c', GENERATOR, folder, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  files = JSON.parse(out.toString());
  demo = await startDemo();
  browser = await launchBrowser();
  context = await browser.newContext({ baseURL: demo.url, locale: 'ja-JP', viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(20_000);
  context.setDefaultNavigationTimeout(20_000);
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`[browser ${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.log(`[browser exception] ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) console.log(`[browser http ${r.status()}] ${new URL(r.url()).pathname}`);
  });
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await demo?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

step('1. the clinic sends the CT, its prior, the MR pair and the timing series (storescu)', async () => {
  send([...files.ct, ...files.prior, files.mr[0]]);
  // JPEG 2000 lossless as stored: proposed as such, no conversion by storescu.
  send([files.mr[1]], ['-xv']);
  send(files.perf);
  const token = demo.user('dr.sanuki').token;
  const want = { [CT_UID]: 20, [PRIOR_UID]: 10, [MR_UID]: 2, [PERF_UID]: PERF_SLICES };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await api(token, '/api/v1/studies?per_page=50');
    assert.equal(r.status, 200);
    for (const s of r.json.studies) if (want[s.study_uid] === s.num_instances) ids[s.study_uid] = s.id;
    if (Object.keys(ids).length === 4) break;
    assert.ok(Date.now() < deadline, `studies indexed: ${JSON.stringify(ids)}`);
    await sleep(300);
  }
});

step('2. dr.sanuki signs in and opens the viewer from the study page', async () => {
  await page.goto('/login');
  await page.fill('#username', 'dr.sanuki');
  await page.fill('#password', demo.accounts.password);
  await Promise.all([
    page.waitForNavigation(),
    page.locator('main form:has(#password)').locator('button[type="submit"], input[type="submit"]').first().click(),
  ]);
  await page.goto(`/studies/${ids[CT_UID]}`);
  await Promise.all([page.waitForNavigation(), page.locator('[data-testid="viewer-link"]').click()]);
  assert.equal(new URL(page.url()).pathname, `/studies/${ids[CT_UID]}/view`);
  await waitReady();
  assert.equal(await data('main', 'slices'), '20');
  // The overlay: the three name groups, the ID and the study date.
  assert.equal((await page.locator('[data-testid="pane-main"] [data-testid="ov-ideographic"]').textContent()).trim(), PATIENT.ideographic);
  assert.equal((await page.locator('[data-testid="pane-main"] [data-testid="ov-phonetic"]').textContent()).trim(), PATIENT.phonetic);
  assert.equal((await page.locator('[data-testid="pane-main"] [data-testid="ov-alphabetic"]').textContent()).trim(), PATIENT.alphabetic);
  assert.equal((await page.locator('[data-testid="pane-main"] [data-testid="ov-patient-id"]').textContent()).trim(), PATIENT.id);
  assert.equal((await page.locator('[data-testid="pane-main"] [data-testid="ov-study-date"]').textContent()).trim(), '2026-11-20');
  assert.match(await page.locator('[data-testid="slice-main"]').textContent(), /^\d+ \/ 20$/);
});

step('3. pixels are drawn, and window/level changes them (preset and drag)', async () => {
  const p0 = await pixels();
  assert.ok(p0.lit > p0.w * p0.h * 0.1, `canvas not blank: ${JSON.stringify(p0)}`);
  // The file's window (40/400) is the default.
  assert.equal(await data('main', 'wc'), '40');
  assert.equal(await data('main', 'ww'), '400');
  await page.click('[data-testid="preset-lung"]');
  await painted();
  assert.equal(await data('main', 'wc'), '-600');
  const p1 = await pixels();
  assert.notEqual(p1.hash, p0.hash, 'the lung window changes the pixels');
  // Drag with the W/L tool: wider window.
  await page.click('[data-testid="tool-window"]');
  const box = await page.locator('[data-testid="canvas-main"]').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 60, cy + 30, { steps: 5 });
  await page.mouse.up();
  await painted();
  assert.notEqual(await data('main', 'ww'), '1500', 'the drag changed the width');
  const p2 = await pixels();
  assert.notEqual(p2.hash, p1.hash, 'dragging changes the pixels');
  await page.click('[data-testid="preset-default"]');
  await painted();
  assert.equal((await pixels()).hash, p0.hash, 'back to the file window, the same pixels');
  await shot('viewer-ct.png');
});

step('4. the wheel and the keys scroll through the slices', async () => {
  const s0 = Number(await data('main', 'slice'));
  const p0 = await pixels();
  const box = await page.locator('[data-testid="canvas-main"]').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, 100);
  await painted();
  const s1 = Number(await data('main', 'slice'));
  assert.equal(s1, s0 + 1, 'one wheel step forward');
  assert.notEqual((await pixels()).hash, p0.hash, 'another slice, other pixels');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await painted();
  assert.equal(Number(await data('main', 'slice')), s0 + 3);
  await page.keyboard.press('Home');
  await painted();
  assert.equal(await data('main', 'slice'), '0');
  assert.equal((await page.locator('[data-testid="slice-main"]').textContent()).trim(), '1 / 20');
  await page.keyboard.press('End');
  await painted();
  assert.equal(await data('main', 'slice'), '19');
  // Scrolling back to where we were shows the same pixels.
  await page.keyboard.press('Home');
  for (let i = 0; i < s0; i++) await page.keyboard.press('ArrowDown');
  await painted();
  assert.equal((await pixels()).hash, p0.hash);
});

step('5. the distance tool reads 50.0 mm over 100 px at 1:1 (Pixel Spacing 0.5)', async () => {
  await page.click('[data-testid="action-actual"]');
  await page.click('[data-testid="tool-measure"]');
  await painted();
  assert.equal(Number(await data('main', 'zoom')), 1);
  const box = await page.locator('[data-testid="canvas-main"]').boundingBox();
  const x = Math.round(box.x + box.width / 2 - 50);
  const y = Math.round(box.y + box.height / 2);
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 60, y, { steps: 4 });
  await page.mouse.move(x + 100, y, { steps: 4 });
  await page.mouse.up();
  await painted();
  assert.equal(await data('main', 'measure-mm'), '50.0');
  assert.equal((await page.locator('[data-testid="measure-main"]').textContent()).trim(), '50.0 mm');
  await shot('viewer-measure.png');
  await page.click('[data-testid="tool-window"]');
  await page.click('[data-testid="action-fit"]');
});

step('6. a key image is marked and is still marked after a reload', async () => {
  await page.keyboard.press('Home');
  for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowDown');
  await painted();
  const sop = await data('main', 'sop');
  await page.click('[data-testid="key-toggle"]');
  await page.locator('[data-testid="key-list"] li').first().waitFor();
  assert.equal(await page.getAttribute('[data-testid="key-toggle"]', 'aria-pressed'), 'true');
  await page.reload();
  await waitReady();
  await page.locator('[data-testid="key-list"] li').first().waitFor();
  assert.equal(await page.locator('[data-testid="key-list"] li').count(), 1);
  assert.equal(await page.locator('[data-testid="key-list"] button').getAttribute('data-sop'), sop);
  // Choosing it in the strip shows it, with the star lit.
  await page.locator('[data-testid="key-list"] button').click();
  await page.waitForFunction((sop) => document.querySelector('[data-testid="pane-main"]').dataset.sop === sop, sop);
  assert.equal(await data('main', 'slice'), '4');
  assert.equal(await page.getAttribute('[data-testid="key-toggle"]', 'aria-pressed'), 'true');
  // The key-image list answers the same through the JSON route (no-store).
  const r = await page.evaluate(async (url) => {
    const res = await fetch(url);
    return { cc: res.headers.get('cache-control'), body: await res.json() };
  }, `/studies/${ids[CT_UID]}/key-images`);
  assert.equal(r.cc, 'no-store');
  assert.equal(r.body.key_images.length, 1);
  assert.equal(r.body.key_images[0].sop_instance_uid, sop);
});

step('7. the prior opens side by side and scrolls with the study', async () => {
  await page.selectOption('[data-testid="compare-select"]', String(ids[PRIOR_UID]));
  await Promise.all([page.waitForNavigation(), page.click('[data-testid="compare-open"]')]);
  assert.equal(new URL(page.url()).search, `?compare=${ids[PRIOR_UID]}`);
  await waitReady('main');
  await waitReady('compare');
  assert.equal(await data('compare', 'slices'), '10');
  // Slice k of the study is at z = 2.5·k, as is slice k of the prior: by position.
  await page.locator('[data-testid="pane-main"] .vw-stage').click();
  await page.keyboard.press('Home');
  for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowDown');
  await painted();
  assert.equal(await data('main', 'slice'), '6');
  assert.equal(await data('compare', 'slice'), '6');
  await page.keyboard.press('End');
  await painted();
  assert.equal(await data('compare', 'slice'), '9', 'beyond the prior: its last slice');
  const p = await pixels('compare');
  assert.ok(p.lit > 0, 'the prior is drawn');
  await page.keyboard.press('Home');
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
  await painted();
  await shot('viewer-compare.png');
});

step('8. the JPEG 2000 series shows the same pixels as the uncompressed one', async () => {
  await openViewer(ids[MR_UID]);
  await waitReady();
  const thumbs = page.locator('[data-testid="pane-main"] [data-testid="series-thumb"]');
  assert.equal(await thumbs.count(), 2);
  const view = async (n) => {
    await thumbs.nth(n).click();
    await page.waitForFunction(
      (uid) => {
        const p = document.querySelector('[data-testid="pane-main"]');
        return p.dataset.seriesUid === uid && p.dataset.state === 'ready';
      },
      `${MR_UID}.${n + 1}`,
    );
    await page.click('[data-testid="action-actual"]');
    await page.click('[data-testid="preset-default"]');
    await painted();
    return { px: await pixels(), wc: await data('main', 'wc'), ww: await data('main', 'ww') };
  };
  const jp2 = await view(1);
  await shot('viewer-mr-jpeg2000.png');
  const raw = await view(0);
  assert.ok(raw.px.lit > 1000, `the MR is drawn: ${JSON.stringify(raw.px)}`);
  assert.deepEqual([jp2.wc, jp2.ww], [raw.wc, raw.ww], 'the same window');
  assert.equal(jp2.px.hash, raw.px.hash, 'identical pixels');
  assert.equal(jp2.px.sum, raw.px.sum);
});

step(
  `9. timing: ${PERF_SLICES} slices of 512×512 (printed, not asserted)`,
  async () => {
    const t0 = Date.now();
    await openViewer(ids[PERF_UID]);
    await page.waitForFunction(() => document.querySelector('[data-testid="pane-main"]').dataset.firstImageMs);
    await waitReady('main', 170_000);
    const wall = Date.now() - t0;
    const first = Number(await data('main', 'first-image-ms'));
    const load = Number(await data('main', 'load-ms'));
    const bytes = Number(await data('main', 'load-bytes'));
    // The raw bytes over the same connection: the series as stored (WADO-RS, application/dicom).
    const raw = await page.evaluate(async (url) => {
      const t = performance.now();
      const r = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
      const b = await r.arrayBuffer();
      return { ms: performance.now() - t, bytes: b.byteLength };
    }, `/dicom-web/studies/${PERF_UID}/series/${PERF_UID}.2`);
    const line =
      `viewer timing: ${PERF_SLICES} slices 512x512: first image ${first} ms after navigation start; ` +
      `whole series ${load} ms (${(bytes / 1e6).toFixed(1)} MB received); raw retrieve ${Math.round(raw.ms)} ms ` +
      `(${(raw.bytes / 1e6).toFixed(1)} MB) → ratio ${(load / raw.ms).toFixed(2)}; wall ${wall} ms`;
    console.log(line);
    writeFileSync(join(ARTIFACTS, 'viewer-timing.txt'), `${line}\n`);
    await shot('viewer-perf.png');
  },
  { blocking: false },
);

step('10. the artifacts directory holds the screenshots', async () => {
  const names = readdirSync(ARTIFACTS);
  for (const n of ['viewer-ct.png', 'viewer-measure.png', 'viewer-compare.png', 'viewer-mr-jpeg2000.png']) {
    assert.ok(names.includes(n), `${n} in ${ARTIFACTS}`);
  }
});
