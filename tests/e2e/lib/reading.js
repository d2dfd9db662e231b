// Helpers for the reading-workflow browser test (tests/reading.test.js): a small synthetic CT
// made with pydicom, sending it with dcmtk storescu, signing in through the form, filing a
// read request through the request form and its confirmation, and reading the viewer's
// canvas.
import { execFileSync } from 'node:child_process';

// dcmtk's storescu by absolute path: pynetdicom installs a `storescu` script that can shadow
// it on PATH.
export const STORESCU = process.env.ENKAKU_STORESCU || '/usr/bin/storescu';

// Slice k of an n-slice size×size CT: air (-1000 HU) around a body disc (40 HU) in a bone
// ring (700 HU), a lung-like square (-700 HU) and a bright marker whose column moves with
// the slice. UTF-8 (ISO_IR 192), Pixel Spacing 0.5\0.5, positions z = 2.5·k.
const GENERATOR = String.raw`
import json, os, sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

out, s = sys.argv[1], json.loads(sys.argv[2])
n, size = s["n"], s["size"]
series = s["study"] + ".1"
files = []
for k in range(n):
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
    ds.StudyInstanceUID = s["study"]
    ds.SeriesInstanceUID = series
    ds.PatientName = s["name"]
    ds.PatientID = s["patient_id"]
    ds.PatientBirthDate = s["birth_date"]
    ds.PatientSex = s["sex"]
    ds.StudyDate = s["date"]
    ds.StudyTime = "101500"
    ds.AccessionNumber = s["accession"]
    ds.StudyDescription = s["description"]
    ds.SeriesDescription = "axial"
    ds.BodyPartExamined = s["body_part"]
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [-size / 4, -size / 4, 2.5 * k]
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
    img[int(c + size * 0.2):int(c + size * 0.28), col:col + max(2, size // 32)] = 1500
    ds.PixelData = img.tobytes()
    path = os.path.join(out, f"CT{k + 1:03d}.dcm")
    ds.save_as(path, enforce_file_format=True)
    files.append(path)
print(json.dumps(files))
`;

/**
 * Write a synthetic CT series into `folder`; returns the file paths.
 * @param {string} folder
 * @param {{ study: string, n: number, size: number, name: string, patient_id: string,
 *   birth_date: string, sex: string, date: string, accession: string, description: string,
 *   body_part: string }} spec
 * @returns {string[]}
 */
export function generateCt(folder, spec) {
  const out = execFileSync('python3', ['-c', GENERATOR, folder, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out.toString());
}

/** Send files to the demo's DICOM port as `aet` with dcmtk storescu. */
export function sendDicom(demo, files, aet) {
  const calledAe = demo.accounts.dicom.called_ae_title;
  try {
    execFileSync(STORESCU, ['-aet', aet, '-aec', calledAe, '127.0.0.1', String(demo.dicomPort), ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (e) {
    throw new Error(`storescu failed (${e.status}): ${e.stdout}${e.stderr}`);
  }
}

/** GET an API path with a bearer token; {status, json, text}. */
export async function api(base, token, urlPath) {
  const res = await fetch(`${base}${urlPath}`, {
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

/** Click something that navigates and wait for the new page; returns the response. */
export async function clickAndWait(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

/** Sign in through /login (the demo asks for no second factor); lands on `/`. */
export async function signIn(page, username, password) {
  await page.goto('/login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await clickAndWait(page, page.locator('main form:has(#password)').locator('button[type="submit"], input[type="submit"]').first());
  const path = new URL(page.url()).pathname;
  if (path !== '/') throw new Error(`${username} did not land on the home page after signing in: ${page.url()}`);
}

/**
 * File a routine clinical CT request for `studyId` to facility `targetId` through the form
 * and its confirmation step (as request.test.js does). Returns the new request's id.
 */
export async function fileRequest(page, { studyId, targetId, bodyPart, purpose, clinicalInfo, note, phone }) {
  await page.goto(`/studies/${studyId}/request`);
  await page.check('[data-testid="urgency-routine"]');
  await page.check('input[name="category"][value="clinical"]');
  await page.selectOption('#modality', 'CT');
  await page.selectOption('#body_parts', [bodyPart]);
  await page.selectOption('#purpose', purpose);
  await page.selectOption('#clinical_info', clinicalInfo);
  await page.fill('textarea[name="clinical_note"]', note);
  await page.fill('#contact_phone', phone);
  await page.selectOption('#supporting_facility_id', String(targetId));
  const arriving = page.locator('[data-testid="confirm-arriving"]');
  if (await arriving.count()) await arriving.check();
  await clickAndWait(page, page.locator('[data-testid="review"]'));
  if ((await page.locator('[data-testid="confirm-summary"]').count()) !== 1) {
    const errors = await page.locator('.field-error').allTextContents();
    throw new Error(`the request form did not reach its confirmation: ${JSON.stringify(errors)}`);
  }
  await clickAndWait(page, page.locator('[data-testid="submit"]'));
  const m = new URL(page.url()).pathname.match(/^\/requests\/(\d+)$/);
  if (!m) throw new Error(`filing did not redirect to the request: ${page.url()}`);
  return Number(m[1]);
}

/** Two display frames: whatever was invalidated has been drawn. */
export const painted = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** Wait for a viewer pane to finish loading; throws if it ends in the error state. */
export async function viewerReady(page, role = 'main', timeout = 60_000) {
  await page.waitForFunction(
    (role) => {
      const p = document.querySelector(`[data-testid="pane-${role}"]`);
      return p && (p.dataset.state === 'ready' || p.dataset.state === 'error');
    },
    role,
    { timeout },
  );
  const state = await page.locator(`[data-testid="pane-${role}"]`).getAttribute('data-state');
  if (state !== 'ready') throw new Error(`viewer pane ${role} ended in state ${state}`);
  await painted(page);
}

/** The viewer canvas: size, non-black pixels, distinct grey levels. */
export function canvasPixels(page, role = 'main') {
  return page.evaluate((role) => {
    const c = document.querySelector(`[data-testid="canvas-${role}"]`);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    const levels = new Set();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] + d[i + 1] + d[i + 2] > 0) lit++;
      levels.add(d[i]);
    }
    return { w: c.width, h: c.height, lit, levels: levels.size };
  }, role);
}

/** Every <img> matched by `selector` finished loading with real pixels (naturalWidth > 0). */
export async function imagesLoaded(page, selector) {
  const imgs = page.locator(selector);
  const n = await imgs.count();
  for (let i = 0; i < n; i++) await imgs.nth(i).scrollIntoViewIfNeeded();
  await page.waitForFunction(
    (sel) => [...document.querySelectorAll(sel)].every((i) => i.complete),
    selector,
  );
  return imgs.evaluateAll((list) => list.map((i) => ({ src: i.getAttribute('src'), w: i.naturalWidth, h: i.naturalHeight })));
}
