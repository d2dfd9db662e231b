// One pane: a stack drawn on a canvas with window/level, zoom, pan, invert and a distance
// tool, and the overlay texts. The frame is rendered into an offscreen canvas at its own
// size (only when the slice, the window or inversion change) and drawn onto the visible
// canvas with the zoom/pan transform (also for every zoom or pan). Measurements live in an
// SVG layer above the canvas, so the canvas holds image pixels only.
//
// State for tests and tools is mirrored into data- attributes of the pane element:
// data-slice (0-based), data-slices, data-wc, data-ww, data-zoom, data-invert, data-loaded,
// data-state, data-sop, data-frame, data-series-uid, data-measure-mm (or -px),
// data-first-image-ms, data-load-ms, data-load-done-ms, data-load-bytes.

import { lutKey, makeColourLut, makeLut, renderColour, renderGrey, valueRange } from './render.js';

export const PRESETS = {
  brain: { center: 40, width: 80 },
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  abdomen: { center: 40, width: 400 },
  bone: { center: 400, width: 1800 },
};

const SVG = 'http://www.w3.org/2000/svg';
const PROGRESS_MS = 100;

export class Viewport {
  /** @param {HTMLElement} pane the `.vw-pane` element of the template */
  constructor(pane) {
    this.pane = pane;
    this.stage = pane.querySelector('.vw-stage');
    this.canvas = pane.querySelector('canvas');
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.svg = pane.querySelector('.vw-marks');
    this.field = (name) => pane.querySelector(`[data-field="${name}"]`);
    this.off = document.createElement('canvas');
    this.offCtx = this.off.getContext('2d');
    this.image = null;
    this.words = null;
    this.stack = null;
    this.index = 0;
    this.window = null; // {center, width}
    this.invert = false;
    this.scale = 1; // CSS px per image column
    this.tx = 0; // CSS px
    this.ty = 0;
    this.fitted = true;
    this.tool = 'window';
    this.measure = null; // {a: [x, y], b: [x, y]} image coordinates
    this.lut = null;
    this.lutFor = '';
    this.dirty = { render: true, draw: true };
    this.frameRequested = false;
    this.listeners = new Set();
    this.firstImageAt = 0;
    this.wheelAcc = 0;
    this.progressTimer = 0;
    this.bind();
    new ResizeObserver(() => this.resize()).observe(this.stage);
    this.resize();
  }

  /** `fn(kind)` on 'slice' (the shown slice changed) and 'activate'. */
  on(fn) {
    this.listeners.add(fn);
  }

  emit(kind) {
    for (const fn of this.listeners) fn(kind, this);
  }

  get entry() {
    return this.stack?.entries[this.index] ?? null;
  }

  // --- stack -------------------------------------------------------------------------

  /** Shows a stack (and disposes of the previous one), starting at `index` (default: middle). */
  setStack(stack, index = null) {
    if (this.stack && this.stack !== stack) this.stack.dispose();
    this.stack = stack;
    this.index = index ?? Math.floor((stack.length - 1) / 2);
    this.window = null;
    this.measure = null;
    this.fitted = true;
    this.pane.dataset.seriesUid = stack.series.uid;
    this.field('series').textContent = [
      stack.series.number != null ? `Se ${stack.series.number}` : '',
      stack.series.description,
    ]
      .filter(Boolean)
      .join(' ');
    this.field('empty').hidden = stack.length > 0;
    stack.on((kind, e) => this.onStack(kind, e));
    this.setState('loading');
    this.fit();
    if (stack.length) stack.load(this.index);
    this.invalidate(true);
  }

  onStack(kind, e) {
    const s = this.stack;
    if (kind === 'frame' && e.index === this.index) this.invalidate(true);
    if (kind === 'error' && e.index === this.index) this.field('error').hidden = false;
    if (kind === 'progress') this.scheduleProgress();
    if (kind === 'done') {
      this.progress();
      this.pane.dataset.loadMs = String(Math.round(s.finishedAt - s.startedAt));
      this.pane.dataset.loadDoneMs = String(Math.round(s.finishedAt));
      this.pane.dataset.loadBytes = String(s.bytes);
      this.setState(s.failed ? 'error' : 'ready');
    }
  }

  /**
   * The progress bar at most every PROGRESS_MS: a 2,000-slice series delivers hundreds of
   * frames a second, and repainting the page for each costs the loader CPU it needs.
   */
  scheduleProgress() {
    if (this.progressTimer) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = 0;
      if (this.stack) this.progress();
    }, PROGRESS_MS);
  }

  progress() {
    const s = this.stack;
    if (!s) return;
    const bar = this.field('progress');
    const p = bar.querySelector('progress');
    p.max = s.length || 1;
    p.value = s.loaded;
    this.field('progress-text').textContent = `${s.loaded} / ${s.length}`;
    this.pane.dataset.loaded = String(s.loaded);
    bar.hidden = s.loaded + s.failed >= s.length;
  }

  setState(state) {
    this.pane.dataset.state = state;
  }

  /** Shows slice `i` (clamped); `silent` does not notify (synchronised scrolling). */
  setIndex(i, silent = false) {
    if (!this.stack || !this.stack.length) return;
    const n = Math.max(0, Math.min(this.stack.length - 1, Math.round(i)));
    if (n === this.index) return;
    this.index = n;
    this.stack.prioritise(n);
    this.invalidate(true);
    if (!silent) this.emit('slice');
  }

  scrollBy(d) {
    this.setIndex(this.index + d);
  }

  // --- window, zoom, pan -------------------------------------------------------------

  defaultWindow(e) {
    if (e.windows.length) return { ...e.windows[0] };
    if (e.samples === 3) return { center: 127.5, width: 256 };
    const [lo, hi] = valueRange(e);
    return { center: (lo + hi) / 2, width: Math.max(1, hi - lo) };
  }

  setWindow(center, width) {
    this.window = { center, width: Math.max(1, width) };
    this.invalidate(true);
  }

  preset(name) {
    const e = this.entry;
    if (name === 'default') {
      if (e?.data) this.window = this.defaultWindow(e);
      else this.window = null;
      this.invalidate(true);
      return;
    }
    const p = PRESETS[name];
    if (p) this.setWindow(p.center, p.width);
  }

  toggleInvert() {
    this.invert = !this.invert;
    this.invalidate(true);
  }

  /** Fits the image in the pane (the default, kept through resizes until zoom or pan). */
  fit() {
    const e = this.entry ?? this.stack?.entries[0];
    if (!e) return;
    const w = this.stage.clientWidth;
    const h = this.stage.clientHeight;
    const aspect = this.aspect(e);
    this.scale = Math.min(w / e.cols, h / (e.rows * aspect)) || 1;
    this.center(e);
    this.fitted = true;
    this.invalidate(false);
  }

  /** One image pixel per CSS pixel, centred. */
  actualSize() {
    const e = this.entry;
    if (!e) return;
    this.scale = 1;
    this.center(e);
    this.fitted = false;
    this.invalidate(false);
  }

  center(e) {
    this.tx = (this.stage.clientWidth - e.cols * this.scale) / 2;
    this.ty = (this.stage.clientHeight - e.rows * this.scale * this.aspect(e)) / 2;
  }

  /** Rows are drawn taller or shorter than columns when the spacing differs. */
  aspect(e) {
    return e.spacing ? e.spacing[0] / e.spacing[1] : 1;
  }

  zoomAt(factor, cx, cy) {
    const s = Math.max(0.05, Math.min(40, this.scale * factor));
    const k = s / this.scale;
    this.tx = cx - (cx - this.tx) * k;
    this.ty = cy - (cy - this.ty) * k;
    this.scale = s;
    this.fitted = false;
    this.invalidate(false);
  }

  reset() {
    this.invert = false;
    this.measure = null;
    const e = this.entry;
    this.window = e?.data ? this.defaultWindow(e) : null;
    this.fit();
    this.invalidate(true);
  }

  setTool(t) {
    this.tool = t;
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.stage.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.stage.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    if (this.fitted) this.fit();
    this.invalidate(false);
  }

  // --- drawing -----------------------------------------------------------------------

  /** Schedules a redraw at the next display frame (`render`: the pixels changed too). */
  invalidate(render) {
    if (render) this.dirty.render = true;
    this.dirty.draw = true;
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  draw() {
    const e = this.entry;
    const ctx = this.ctx;
    if (e?.data && this.dirty.render) this.renderFrame(e);
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (e?.data && this.shown === e) {
      const s = this.scale * dpr;
      ctx.setTransform(s, 0, 0, s * this.aspect(e), this.tx * dpr, this.ty * dpr);
      ctx.imageSmoothingEnabled = this.scale < 1;
      ctx.drawImage(this.off, 0, 0);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      if (!this.firstImageAt) {
        this.firstImageAt = performance.now();
        performance.mark('viewer:first-image');
        this.pane.dataset.firstImageMs = String(Math.round(this.firstImageAt));
        this.emit('first-image');
      }
    }
    this.dirty.draw = false;
    this.drawMarks();
    this.overlay();
  }

  renderFrame(e) {
    if (this.off.width !== e.cols || this.off.height !== e.rows) {
      this.off.width = e.cols;
      this.off.height = e.rows;
      this.image = null;
    }
    if (!this.image) {
      this.image = this.offCtx.createImageData(e.cols, e.rows);
      this.words = new Uint32Array(this.image.data.buffer);
    }
    if (!this.window) this.window = this.defaultWindow(e);
    const { center, width } = this.window;
    if (e.samples === 3) {
      renderColour(e.data, makeColourLut(center, width, this.invert), this.words);
    } else {
      const key = lutKey(e, center, width, this.invert);
      if (key !== this.lutFor) {
        this.lut = makeLut(e, center, width, this.invert);
        this.lutFor = key;
      }
      renderGrey(e.data, this.lut, this.words);
    }
    this.offCtx.putImageData(this.image, 0, 0);
    this.shown = e;
    this.dirty.render = false;
  }

  overlay() {
    const e = this.entry;
    const s = this.stack;
    const d = this.pane.dataset;
    if (!s) return;
    d.slice = String(this.index);
    d.slices = String(s.length);
    d.zoom = this.scale.toFixed(3);
    d.invert = String(this.invert);
    this.field('slice').textContent = s.length ? `${this.index + 1} / ${s.length}` : '';
    if (this.window) {
      d.wc = String(Math.round(this.window.center));
      d.ww = String(Math.round(this.window.width));
      this.field('wl').textContent = `W ${Math.round(this.window.width)} / L ${Math.round(this.window.center)}`;
    }
    this.field('zoom').textContent = `${Math.round(this.scale * 100)}%`;
    if (e) {
      d.sop = e.sop;
      d.frame = String(e.frame);
    }
  }

  // --- measurement -------------------------------------------------------------------

  toImage(cx, cy) {
    const e = this.entry;
    const a = e ? this.aspect(e) : 1;
    return [(cx - this.tx) / this.scale, (cy - this.ty) / (this.scale * a)];
  }

  toScreen([x, y]) {
    const e = this.entry;
    const a = e ? this.aspect(e) : 1;
    return [this.tx + x * this.scale, this.ty + y * this.scale * a];
  }

  /** The measured length: [value, unit]. */
  length() {
    const m = this.measure;
    const e = this.entry;
    if (!m || !e) return null;
    const dx = m.b[0] - m.a[0];
    const dy = m.b[1] - m.a[1];
    if (e.spacing) {
      return [Math.hypot(dx * e.spacing[1], dy * e.spacing[0]), 'mm'];
    }
    return [Math.hypot(dx, dy), 'px'];
  }

  drawMarks() {
    const svg = this.svg;
    while (svg.firstChild) svg.firstChild.remove();
    const out = this.field('measure');
    const note = this.field('spacing');
    const len = this.length();
    if (!len) {
      out.textContent = '';
      delete this.pane.dataset.measureMm;
      delete this.pane.dataset.measurePx;
      note.hidden = true;
      return;
    }
    const [a, b] = [this.toScreen(this.measure.a), this.toScreen(this.measure.b)];
    const line = document.createElementNS(SVG, 'line');
    line.setAttribute('x1', a[0]);
    line.setAttribute('y1', a[1]);
    line.setAttribute('x2', b[0]);
    line.setAttribute('y2', b[1]);
    svg.append(line);
    for (const p of [a, b]) {
      const c = document.createElementNS(SVG, 'circle');
      c.setAttribute('cx', p[0]);
      c.setAttribute('cy', p[1]);
      c.setAttribute('r', 3);
      svg.append(c);
    }
    const text = `${len[0].toFixed(1)} ${len[1]}`;
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', b[0] + 6);
    t.setAttribute('y', b[1] - 6);
    t.textContent = text;
    svg.append(t);
    out.textContent = text;
    if (len[1] === 'mm') this.pane.dataset.measureMm = len[0].toFixed(1);
    else this.pane.dataset.measurePx = len[0].toFixed(1);
    note.hidden = len[1] === 'mm';
  }

  // --- input -------------------------------------------------------------------------

  local(ev) {
    const r = this.stage.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  bind() {
    const st = this.stage;
    st.addEventListener('contextmenu', (ev) => ev.preventDefault());
    st.addEventListener('pointerdown', (ev) => this.down(ev));
    st.addEventListener('pointermove', (ev) => this.move(ev));
    st.addEventListener('pointerup', (ev) => this.up(ev));
    st.addEventListener('pointercancel', (ev) => this.up(ev));
    st.addEventListener('wheel', (ev) => this.wheel(ev), { passive: false });
    st.addEventListener('focus', () => this.emit('activate'));
  }

  down(ev) {
    this.emit('activate');
    const tool = ev.button === 2 ? 'zoom' : ev.button === 1 ? 'pan' : this.tool;
    const [x, y] = this.local(ev);
    this.drag = { tool, x0: x, y0: y, x, y, acc: 0, scale: this.scale, at: [x, y] };
    if (tool === 'measure') {
      const p = this.toImage(x, y);
      this.measure = { a: p, b: p };
      this.invalidate(false);
    }
    this.stage.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  }

  move(ev) {
    const d = this.drag;
    if (!d) return;
    const [x, y] = this.local(ev);
    const dx = x - d.x;
    const dy = y - d.y;
    d.x = x;
    d.y = y;
    switch (d.tool) {
      case 'window': {
        const w = this.window ?? { center: 0, width: 1 };
        const k = Math.max(0.5, w.width / 256);
        this.setWindow(w.center + dy * k, w.width + dx * k);
        break;
      }
      case 'pan':
        this.tx += dx;
        this.ty += dy;
        this.fitted = false;
        this.invalidate(false);
        break;
      case 'zoom':
        this.zoomAt(Math.exp(-dy / 150), d.at[0], d.at[1]);
        break;
      case 'scroll':
        d.acc += dy;
        while (Math.abs(d.acc) >= 6) {
          this.scrollBy(Math.sign(d.acc));
          d.acc -= 6 * Math.sign(d.acc);
        }
        break;
      case 'measure':
        this.measure.b = this.toImage(x, y);
        this.invalidate(false);
        break;
      default:
    }
  }

  up(ev) {
    if (!this.drag) return;
    if (this.drag.tool === 'measure' && this.measure) {
      const [a, b] = [this.measure.a, this.measure.b];
      if (a[0] === b[0] && a[1] === b[1]) this.measure = null;
      this.invalidate(false);
    }
    this.drag = null;
    if (this.stage.hasPointerCapture(ev.pointerId)) this.stage.releasePointerCapture(ev.pointerId);
  }

  wheel(ev) {
    ev.preventDefault();
    this.emit('activate');
    if (ev.ctrlKey) {
      const [x, y] = this.local(ev);
      this.zoomAt(Math.exp(-ev.deltaY / 300), x, y);
      return;
    }
    const delta = ev.deltaMode === 0 ? ev.deltaY : ev.deltaY * 40;
    this.wheelAcc += delta;
    if (Math.abs(this.wheelAcc) >= 40) {
      this.scrollBy(Math.sign(this.wheelAcc));
      this.wheelAcc = 0;
    }
  }
}
