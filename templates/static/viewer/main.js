// The viewer page: one pane per study (the study, and a prior side by side when chosen),
// series thumbnails, the toolbar and keyboard, synchronised scrolling and key images. Plain
// ES modules served by the app (no build step, no CDN); data comes from the page's data-
// attributes and DICOMweb. See docs/VIEWER.md.

import { seriesMetadata, seriesOf, thumbnailUrl } from './dicomweb.js';
import { KeyImages } from './keyimages.js';
import { Stack } from './stack.js';
import { Viewport } from './viewport.js';

const root = document.getElementById('viewer');
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

/** A pane and its study: the viewport, the series list and the stack shown. */
class PaneControl {
  constructor(el) {
    this.el = el;
    this.studyUid = el.dataset.studyUid;
    this.viewport = new Viewport(el);
    this.seriesList = el.querySelector('.vw-series');
    this.series = [];
    this.opening = null;
  }

  async start() {
    try {
      this.series = await seriesOf(this.studyUid);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.series.sort((a, b) => (a.number ?? 1e9) - (b.number ?? 1e9));
    this.renderSeries();
    if (!this.series.length) {
      this.el.querySelector('[data-field="empty"]').hidden = false;
      this.el.querySelector('[data-field="progress"]').hidden = true;
      return;
    }
    // The series with the most images first (the axial stack rather than the scout).
    const main = this.series.reduce((a, b) => (b.count > a.count ? b : a));
    await this.open(main.uid);
    // Thumbnails once the first image is up: they would compete with it for connections.
    const thumbs = () => this.loadThumbnails();
    if (this.viewport.firstImageAt) thumbs();
    else this.viewport.on((kind) => kind === 'first-image' && thumbs());
  }

  fail(e) {
    console.error('viewer:', e);
    this.el.querySelector('[data-field="error"]').hidden = false;
    this.el.querySelector('[data-field="progress"]').hidden = true;
    this.el.dataset.state = 'error';
  }

  renderSeries() {
    this.seriesList.replaceChildren();
    for (const s of this.series) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'vw-thumb';
      b.dataset.seriesUid = s.uid;
      b.dataset.testid = 'series-thumb';
      const img = document.createElement('img');
      img.alt = '';
      img.width = 96;
      img.height = 96;
      img.dataset.src = thumbnailUrl(this.studyUid, s.uid);
      const label = document.createElement('span');
      label.textContent = `${s.number != null ? `Se ${s.number}` : ''} ${s.modality} · ${s.count}`.trim();
      const desc = document.createElement('small');
      desc.textContent = s.description;
      b.append(img, label, desc);
      b.addEventListener('click', () => this.open(s.uid));
      this.seriesList.append(b);
    }
  }

  loadThumbnails() {
    for (const img of this.seriesList.querySelectorAll('img[data-src]')) {
      img.src = img.dataset.src;
      img.removeAttribute('data-src');
    }
  }

  /** Opens a series (a no-op when it is shown), at the frame `target` names if given. */
  async open(seriesUid, target = null) {
    const vp = this.viewport;
    if (vp.stack?.series.uid === seriesUid) {
      if (target) vp.setIndex(this.indexOf(vp.stack, target));
      return;
    }
    const s = this.series.find((x) => x.uid === seriesUid);
    if (!s) return;
    const token = {};
    this.opening = token;
    for (const b of this.seriesList.querySelectorAll('.vw-thumb')) {
      b.setAttribute('aria-pressed', String(b.dataset.seriesUid === seriesUid));
    }
    let meta;
    try {
      meta = await seriesMetadata(this.studyUid, seriesUid);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (this.opening !== token) return;
    performance.mark('viewer:metadata');
    const stack = new Stack(this.studyUid, s, meta);
    performance.mark('viewer:stack');
    vp.setStack(stack, target ? this.indexOf(stack, target) : null);
    performance.mark('viewer:loading');
  }

  indexOf(stack, target) {
    const i = stack.entries.findIndex((e) => e.sop === target.sop_instance_uid && e.frame === target.frame);
    return i < 0 ? 0 : i;
  }
}

const panes = [...document.querySelectorAll('.vw-pane')].map((el) => new PaneControl(el));
const [main, compare] = panes;
let active = main;

// --- toolbar and keyboard -----------------------------------------------------------------

const toolButtons = [...document.querySelectorAll('[data-tool]')];
function setTool(t) {
  for (const p of panes) p.viewport.setTool(t);
  for (const b of toolButtons) b.setAttribute('aria-pressed', String(b.dataset.tool === t));
}
for (const b of toolButtons) b.addEventListener('click', () => setTool(b.dataset.tool));

const PRESET_KEYS = { 1: 'brain', 2: 'lung', 3: 'mediastinum', 4: 'abdomen', 5: 'bone' };
for (const b of document.querySelectorAll('[data-preset]')) {
  b.addEventListener('click', () => active.viewport.preset(b.dataset.preset));
}

function action(name) {
  const vp = active.viewport;
  if (name === 'fit') vp.fit();
  else if (name === 'actual') vp.actualSize();
  else if (name === 'invert') vp.toggleInvert();
  else if (name === 'reset') vp.reset();
  else if (name === 'key') toggleKey();
}
for (const b of document.querySelectorAll('[data-action]')) {
  b.addEventListener('click', () => action(b.dataset.action));
}

const KEY_TOOLS = { w: 'window', p: 'pan', z: 'zoom', s: 'scroll', m: 'measure' };
const KEY_ACTIONS = { f: 'fit', 0: 'actual', i: 'invert', r: 'reset', k: 'key' };
document.addEventListener('keydown', (ev) => {
  if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const vp = active.viewport;
  const k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
  const steps = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
  if (k in steps) vp.scrollBy(steps[k]);
  else if (k === 'Home') vp.setIndex(0);
  else if (k === 'End') vp.setIndex(Infinity);
  else if (k in PRESET_KEYS) vp.preset(PRESET_KEYS[k]);
  else if (k in KEY_TOOLS) setTool(KEY_TOOLS[k]);
  else if (k in KEY_ACTIONS) action(KEY_ACTIONS[k]);
  else return;
  ev.preventDefault();
});

for (const p of panes) {
  p.viewport.on((kind) => {
    if (kind === 'activate') {
      active = p;
      for (const q of panes) q.el.classList.toggle('active', q === p);
    }
  });
}
main.el.classList.add('active');

// --- synchronised scrolling (priors) ------------------------------------------------------

const sync = document.querySelector('[data-testid="sync"]');
if (compare) {
  const follow = (from, to) =>
    from.viewport.on((kind) => {
      if (kind !== 'slice' || !sync?.checked) return;
      const a = from.viewport;
      const b = to.viewport;
      if (!a.entry || !b.stack) return;
      b.setIndex(b.stack.nearest(a.entry, a.stack), true);
    });
  follow(main, compare);
  follow(compare, main);
}

// --- key images (the study's, this facility's) --------------------------------------------

const star = document.querySelector('[data-testid="key-toggle"]');
const keys = new KeyImages(root.dataset.keyImages, csrf, document.querySelector('.vw-keys'), (k) =>
  main.open(k.series_uid, k).then(() => updateStar()),
);

function updateStar() {
  const e = main.viewport.entry;
  const on = Boolean(e && keys.has(e.sop, e.frame));
  star.setAttribute('aria-pressed', String(on));
  main.el.querySelector('[data-field="key"]').hidden = !on;
}

async function toggleKey() {
  const e = main.viewport.entry;
  if (!e) return;
  try {
    await keys.toggle(e.sop, e.frame);
  } catch (err) {
    console.error('viewer:', err);
  }
  updateStar();
}

main.viewport.on((kind) => kind === 'slice' && updateStar());

// --- start --------------------------------------------------------------------------------

Promise.all(panes.map((p) => p.start())).then(() => {
  for (const s of main.series) keys.seriesNumbers.set(s.uid, s.number);
  keys
    .load()
    .then(updateStar)
    .catch((e) => console.error('viewer:', e));
});
