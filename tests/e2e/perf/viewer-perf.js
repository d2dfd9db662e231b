// Benchmark of the web viewer on a large CT (issue 5 part 4). Not a test: `npm test` does not
// run it (it lives outside tests/), nothing is asserted, it prints a table.
//
//   cargo build --release -p portal --bin enkaku
//   node tests/e2e/perf/viewer-perf.js [STUDY_DIR]
//
// Starts `enkaku demo` from the release binary (SQLite; lib/demo.js), registers a DICOM node
// for BENCHSCU through the API (fadmin.sanuki's token, as ops/bench/enkaku-ingest.sh does),
// sends STUDY_DIR (default /tmp/bench/data/study-2000-512x512-s1: 2,000 slices 512×512
// 16-bit, 1.05 GB) with dcmtk storescu, signs dr.sanuki in to headless Chromium and, per run
// (a fresh page each time), measures:
//   a. first image: navigation start → the first animation frame at which the main canvas is
//      not blank (polled with requestAnimationFrame from an init script, independent of the
//      viewer's own data-first-image-ms, which is printed too);
//   b. whole series: the viewer's load time (stack start → last slice, data-load-ms) and
//      navigation start → last slice, against the raw bytes over the same connection: the
//      same series as one WADO-RS multipart retrieve read to the end with fetch in the same
//      page (no parsing, chunks dropped) → ratio;
//   c. scrolling once loaded: ~3 s of one slice change per animation frame (keyboard ↓, the
//      same path as the wheel), counting distinct slices drawn per second, and ~3 s of
//      synthetic wheel events (one per frame, deltaY 100);
//   d. memory: CDP Performance.getMetrics JSHeapUsedSize, and the RSS of every Chromium
//      process (SystemInfo.getProcessInfo + /proc/PID/status), renderer separately.
// Then prints the medians of RUNS (default 3).
//
// Environment: ENKAKU_BIN (default target/release/enkaku), RUNS (3), ENKAKU_STORESCU,
// ENKAKU_CHROMIUM, VIEWER_JS_DIR (serve /static/viewer/*.js from this directory instead of
// the binary's copies: for iterating on the modules without rebuilding; the published numbers
// use the rebuilt binary), PERF_JSON (write the raw results there). Screenshots of each run go
// to target/viewer-perf/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser } from '../lib/browser.js';
import { startDemo } from '../lib/demo.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const STUDY_DIR = process.argv[2] || '/tmp/bench/data/study-2000-512x512-s1';
const RUNS = Number(process.env.RUNS || 3);
const STORESCU = process.env.ENKAKU_STORESCU || '/usr/bin/storescu';
const JS_DIR = process.env.VIEWER_JS_DIR ? resolve(process.env.VIEWER_JS_DIR) : null;
process.env.ENKAKU_BIN ||= join(ROOT, 'target/release/enkaku');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

function dicomAttr(file, tag) {
  const out = execFileSync('dcmdump', ['+P', tag, file]).toString();
  const m = /\[([^\]]*)\]/.exec(out);
  if (!m) throw new Error(`${tag} not in ${file}`);
  return m[1].trim();
}

async function api(demo, token, path, init = {}) {
  const r = await fetch(`${demo.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(init.headers || {}) },
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

/** RSS in MB of every process of the browser, and of the renderers. */
async function browserMemory(browser) {
  const cdp = await browser.newBrowserCDPSession();
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
  await cdp.detach();
  let total = 0;
  let renderer = 0;
  for (const p of processInfo) {
    let kb = 0;
    try {
      kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.id}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      continue;
    }
    total += kb;
    if (p.type === 'renderer') renderer = Math.max(renderer, kb);
  }
  return { rssMB: total / 1024, rendererMB: renderer / 1024 };
}

// In the page before any script: note the first animation frame at which the main canvas
// holds a non-black pixel (a 64×64 sample around its centre).
const FIRST_PAINT_PROBE = () => {
  window.__perf = { firstNonBlank: 0, loadedAt: {}, longTasks: 0, longTaskMs: 0 };
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        window.__perf.longTasks++;
        window.__perf.longTaskMs += e.duration;
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // no long task timing
  }
  const marks = [1, 100, 500, 1000, 1500, 2000];
  const watch = () => {
    const pane = document.querySelector('[data-testid="pane-main"]');
    if (!pane) {
      requestAnimationFrame(watch);
      return;
    }
    new MutationObserver(() => {
      const n = Number(pane.dataset.loaded);
      for (const m of marks) if (n >= m && !window.__perf.loadedAt[m]) window.__perf.loadedAt[m] = Math.round(performance.now());
    }).observe(pane, { attributes: true, attributeFilter: ['data-loaded'] });
  };
  document.addEventListener('DOMContentLoaded', watch);
  const probe = () => {
    const c = document.querySelector('[data-testid="canvas-main"]');
    if (c && c.width > 1) {
      const ctx = c.getContext('2d', { alpha: false });
      const w = Math.min(64, c.width);
      const h = Math.min(64, c.height);
      const d = ctx.getImageData((c.width - w) >> 1, (c.height - h) >> 1, w, h).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] | d[i + 1] | d[i + 2]) {
          window.__perf.firstNonBlank = performance.now();
          return;
        }
      }
    }
    requestAnimationFrame(probe);
  };
  requestAnimationFrame(probe);
};

/** Drives one slice change per animation frame for `ms`; counts distinct slices drawn. */
function scrollProbe(page, mode, ms = 3000) {
  return page.evaluate(
    ({ mode, ms }) =>
      new Promise((resolve) => {
        const pane = document.querySelector('[data-testid="pane-main"]');
        const stage = pane.querySelector('.vw-stage');
        const n = Number(pane.dataset.slices);
        let dir = 1;
        let frames = 0;
        let distinct = 0;
        let last = pane.dataset.slice;
        let worst = 0;
        let prevT = 0;
        const t0 = performance.now();
        const step = (t) => {
          frames++;
          if (prevT) worst = Math.max(worst, t - prevT);
          prevT = t;
          if (pane.dataset.slice !== last) {
            distinct++;
            last = pane.dataset.slice;
          }
          const now = performance.now();
          if (now - t0 >= ms) {
            const s = (now - t0) / 1000;
            resolve({ fps: distinct / s, rafHz: frames / s, worstFrameMs: worst });
            return;
          }
          const at = Number(pane.dataset.slice);
          if (at >= n - 1) dir = -1;
          else if (at <= 0) dir = 1;
          if (mode === 'key') {
            document.dispatchEvent(new KeyboardEvent('keydown', { key: dir > 0 ? 'ArrowDown' : 'ArrowUp', bubbles: true, cancelable: true }));
          } else {
            stage.dispatchEvent(new WheelEvent('wheel', { deltaY: 100 * dir, deltaMode: 0, bubbles: true, cancelable: true }));
          }
          requestAnimationFrame(step);
        };
        requestAnimationFrame(step);
      }),
    { mode, ms },
  );
}

/** A fresh browser, dr.sanuki signed in. */
async function signedIn(demo) {
  // Default heap limits: the pixels live in ArrayBuffers, outside the JS heap.
  const browser = await launchBrowser();
  const context = await browser.newContext({ baseURL: demo.url, locale: 'ja-JP', viewport: { width: 1400, height: 900 } });
  if (JS_DIR) {
    await context.route('**/static/viewer/*.js', (route) => {
      const name = new URL(route.request().url()).pathname.split('/').pop();
      route.fulfill({ status: 200, contentType: 'text/javascript', body: readFileSync(join(JS_DIR, name)) });
    });
  }
  const login = await context.newPage();
  await login.goto('/login');
  await login.fill('#username', 'dr.sanuki');
  await login.fill('#password', demo.accounts.password);
  await Promise.all([
    login.waitForNavigation(),
    login.locator('main form:has(#password)').locator('button[type="submit"], input[type="submit"]').first().click(),
  ]);
  await login.close();
  return { browser, context };
}

async function oneRun(demo, studyId, seriesPath, k) {
  const { browser, context } = await signedIn(demo);
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`[browser exception] ${e.message}`));
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('willReadFrequently')) log(`[browser ${m.type()}] ${m.text()}`);
  });
  await page.addInitScript(FIRST_PAINT_PROBE);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`/studies/${studyId}/view`, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__perf?.firstNonBlank > 0, null, { timeout: 60_000, polling: 100 });
  await page.waitForFunction(
    () => ['ready', 'error'].includes(document.querySelector('[data-testid="pane-main"]')?.dataset.state),
    null,
    { timeout: 600_000, polling: 200 },
  );
  const v = await page.evaluate(() => {
    const d = document.querySelector('[data-testid="pane-main"]').dataset;
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      state: d.state,
      slices: Number(d.slices),
      loaded: Number(d.loaded),
      firstNonBlank: window.__perf.firstNonBlank,
      firstImageMs: Number(d.firstImageMs),
      loadMs: Number(d.loadMs),
      loadDoneMs: Number(d.loadDoneMs || 0),
      loadBytes: Number(d.loadBytes),
      responseStart: nav?.responseStart ?? 0,
      loadedAt: window.__perf.loadedAt,
      longTasks: window.__perf.longTasks,
      longTaskMs: window.__perf.longTaskMs,
      marks: performance
        .getEntriesByType('mark')
        .filter((m) => m.name.startsWith('viewer:'))
        .map((m) => `${m.name.slice(7)} ${Math.round(m.startTime)}`),
      requests: performance
        .getEntriesByType('resource')
        .filter((r) => /dicom-web|static\/viewer/.test(r.name))
        .slice(0, 12)
        .map((r) => `${new URL(r.name).pathname.replace(/^.*\/(series|static\/viewer|frames)\b/, '$1').slice(0, 40)} ${Math.round(r.startTime)}→${Math.round(r.responseEnd)}`),
    };
  });
  const memLoaded = await browserMemory(browser);
  const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  const key = await scrollProbe(page, 'key');
  const wheel = await scrollProbe(page, 'wheel');
  // The raw bytes over the same connection, read to the end, not kept.
  const raw = await page.evaluate(async (url) => {
    const t = performance.now();
    const r = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const reader = r.body.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
    return { ms: performance.now() - t, bytes };
  }, seriesPath);
  const res = {
    run: k,
    state: v.state,
    slices: v.slices,
    loaded: v.loaded,
    firstNonBlankMs: v.firstNonBlank,
    firstImageMs: v.firstImageMs,
    loadMs: v.loadMs,
    navToAllMs: v.loadDoneMs || v.loadedAt[v.slices] || 0,
    loadMB: v.loadBytes / 1e6,
    rawMs: raw.ms,
    rawMB: raw.bytes / 1e6,
    ratio: v.loadMs / raw.ms,
    fpsKey: key.fps,
    fpsWheel: wheel.fps,
    rafHz: key.rafHz,
    worstFrameMs: Math.max(key.worstFrameMs, wheel.worstFrameMs),
    jsHeapMB: metrics.JSHeapUsedSize / 1e6,
    rssMB: memLoaded.rssMB,
    rendererMB: memLoaded.rendererMB,
    loadedAt: v.loadedAt,
    longTasks: v.longTasks,
    longTaskMs: v.longTaskMs,
    marks: v.marks,
    requests: v.requests,
  };
  mkdirSync(join(ROOT, 'target/viewer-perf'), { recursive: true });
  await page.screenshot({ path: join(ROOT, `target/viewer-perf/run${k}.png`) }).catch(() => {});
  await cdp.detach().catch(() => {});
  await page.close();
  await browser.close();
  return res;
}

async function main() {
  if (!existsSync(process.env.ENKAKU_BIN)) throw new Error(`${process.env.ENKAKU_BIN} missing: cargo build --release -p portal --bin enkaku`);
  const files = readdirSync(STUDY_DIR).filter((f) => !f.startsWith('.'));
  const sample = join(STUDY_DIR, files[0]);
  const studyUid = dicomAttr(sample, '0020,000d');
  const seriesUid = dicomAttr(sample, '0020,000e');
  log(`study ${STUDY_DIR}: ${files.length} files, binary ${process.env.ENKAKU_BIN}`);

  const demo = await startDemo();
  try {
    const admin = demo.user('fadmin.sanuki').token;
    const reader = demo.user('dr.sanuki').token;
    const node = await api(demo, admin, '/api/v1/dicom-nodes', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ae_title: 'BENCHSCU', allowed_addresses: ['127.0.0.1'], description: 'viewer benchmark', is_enabled: true }),
    });
    if (node.status >= 300) throw new Error(`dicom node: HTTP ${node.status} ${JSON.stringify(node.json)}`);
    const t0 = Date.now();
    execFileSync(STORESCU, ['-aet', 'BENCHSCU', '-aec', demo.accounts.dicom.called_ae_title, '+sd', '+r', '127.0.0.1', String(demo.dicomPort), STUDY_DIR], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 900_000,
    });
    let studyId = null;
    for (;;) {
      const r = await api(demo, reader, '/api/v1/studies?per_page=50');
      const s = r.json?.studies?.find((x) => x.study_uid === studyUid);
      if (s && s.num_instances === files.length) {
        studyId = s.id;
        break;
      }
      if (Date.now() - t0 > 900_000) throw new Error(`study not indexed: ${JSON.stringify(s)}`);
      await sleep(500);
    }
    log(`sent and indexed in ${((Date.now() - t0) / 1000).toFixed(1)} s; study id ${studyId}`);

    if (JS_DIR) log(`serving /static/viewer/*.js from ${JS_DIR}`);
    const results = [];
    for (let k = 1; k <= RUNS; k++) {
      const r = await oneRun(demo, studyId, `/dicom-web/studies/${studyUid}/series/${seriesUid}`, k);
      log(JSON.stringify(r, (key, x) => (typeof x === 'number' ? Math.round(x * 100) / 100 : x)));
      results.push(r);
      await sleep(1000);
    }
    if (process.env.PERF_JSON) writeFileSync(process.env.PERF_JSON, JSON.stringify(results, null, 2));
    const m = (f) => median(results.map(f));
    const fmt = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
    console.log(`\nviewer benchmark: ${files.length} slices, ${fmt(m((r) => r.rawMB))} MB, medians of ${RUNS} runs`);
    console.log('| first image | whole series | raw retrieve | ratio | scroll (keys) | scroll (wheel) | display | JS heap | browser RSS (renderer) |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    console.log(
      `| ${fmt(m((r) => r.firstNonBlankMs))} ms | ${fmt(m((r) => r.loadMs) / 1000, 2)} s | ${fmt(m((r) => r.rawMs) / 1000, 2)} s | ` +
        `${fmt(m((r) => r.ratio), 2)} | ${fmt(m((r) => r.fpsKey), 1)} fps | ${fmt(m((r) => r.fpsWheel), 1)} fps | ${fmt(m((r) => r.rafHz), 1)} Hz | ` +
        `${fmt(m((r) => r.jsHeapMB))} MB | ${fmt(m((r) => r.rssMB))} MB (${fmt(m((r) => r.rendererMB))} MB) |`,
    );
    console.log('\nper run:');
    for (const r of results) {
      console.log(
        `  run ${r.run}: first non-blank ${fmt(r.firstNonBlankMs)} ms (viewer says ${fmt(r.firstImageMs)}), load ${fmt(r.loadMs)} ms ` +
          `(${fmt(r.loadMB)} MB, ${r.loaded}/${r.slices} ${r.state}; all on hand ${fmt(r.navToAllMs)} ms after navigation start), raw ${fmt(r.rawMs)} ms (${fmt(r.rawMB)} MB), ratio ${fmt(r.ratio, 2)}, ` +
          `fps ${fmt(r.fpsKey, 1)}/${fmt(r.fpsWheel, 1)} at ${fmt(r.rafHz, 1)} Hz (worst frame ${fmt(r.worstFrameMs)} ms), ` +
          `heap ${fmt(r.jsHeapMB)} MB, RSS ${fmt(r.rssMB)} MB (renderer ${fmt(r.rendererMB)} MB)`,
      );
    }
  } finally {
    await demo.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
