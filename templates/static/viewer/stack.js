// A stack: the frames of one series in display order, with what rendering needs per frame
// (size, pixel format, rescale, window, spacing, position) and its pixels once loaded.
// Loading fetches the frame on screen first, then every other frame outward from it with a
// few requests in flight; a frame the user scrolls to jumps the queue. A series stored
// uncompressed (little endian) is fetched instead as one WADO-RS retrieve of the stored files,
// streamed, each frame taken from its Part 10 bytes as soon as it has arrived: the whole series
// then costs about what its bytes take on the wire. Anything the stream does not deliver goes
// through the frames resource.

import { NATIVE_LE, fetchFrames, first, number, numbers, part10Pixels, streamSeries } from './dicomweb.js';

/** Requests in flight per stack (browsers open at most 6 HTTP/1.1 connections per origin). */
export const CONCURRENCY = 6;
/** Frames of one multi-frame instance asked for in one request. */
const FRAMES_PER_REQUEST = 32;
/** At the latest this long after the first frame was asked for, the series stream starts. */
const BULK_DELAY_MS = 200;

function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** The per-frame entries of one instance's metadata (one per frame). */
function entriesOf(ds) {
  const rows = number(ds, '00280010', 0);
  const cols = number(ds, '00280011', 0);
  if (!rows || !cols) return []; // not an image (SR, presentation state, ...)
  const frames = Math.max(1, number(ds, '00280008', 1));
  const spacing = numbers(ds, '00280030');
  const ipp = numbers(ds, '00200032');
  const iop = numbers(ds, '00200037');
  const bits = number(ds, '00280100', 16);
  const base = {
    sop: first(ds, '00080018', ''),
    ts: String(first(ds, '00020010', '')).trim(),
    instanceNumber: number(ds, '00200013', null),
    rows,
    cols,
    bits: bits > 8 ? 16 : 8,
    signed: number(ds, '00280103', 0) === 1,
    samples: number(ds, '00280002', 1),
    photometric: String(first(ds, '00280004', 'MONOCHROME2')).trim().toUpperCase(),
    slope: number(ds, '00281053', 1) || 1,
    intercept: number(ds, '00281052', 0),
    windows: (() => {
      const c = numbers(ds, '00281050');
      const w = numbers(ds, '00281051');
      return c.map((cc, i) => ({ center: cc, width: w[i] })).filter((x) => x.width >= 1);
    })(),
    spacing: spacing.length === 2 && spacing[0] > 0 && spacing[1] > 0 ? spacing : null,
    position: ipp.length === 3 ? ipp : null,
    orientation: iop.length === 6 ? iop : null,
    sliceLocation: number(ds, '00201041', null),
    thickness: number(ds, '00180050', null),
    frames,
  };
  base.frame = 1;
  base.data = null;
  base.state = 'idle';
  if (frames === 1) return [base];
  const out = [base];
  for (let f = 2; f <= frames; f++) out.push({ ...base, frame: f });
  return out;
}

export class Stack {
  /**
   * @param {string} studyUid
   * @param {{uid: string, number: number|null, description: string, modality: string}} series
   * @param {object[]} metadata DICOM JSON of the series's instances
   */
  constructor(studyUid, series, metadata) {
    this.studyUid = studyUid;
    this.series = series;
    this.entries = metadata.flatMap(entriesOf);
    this.sort();
    this.loaded = 0;
    this.bytes = 0;
    this.failed = 0;
    this.listeners = new Set();
    this.abort = new AbortController();
    this.queue = [];
    this.inFlight = 0;
    this.startedAt = 0;
    this.finishedAt = 0;
    this.bulkTimer = 0;
  }

  get length() {
    return this.entries.length;
  }

  /**
   * Display order: along the slice normal when every frame has a position and one
   * orientation; else by Instance Number, then frame.
   */
  sort() {
    const e = this.entries;
    const o = e[0]?.orientation;
    const byPosition = e.length > 1 && o && e.every((x) => x.position && x.frames === 1);
    if (byPosition) {
      const n = cross(o.slice(0, 3), o.slice(3, 6));
      this.normal = n;
      for (const x of e) x.z = dot(x.position, n);
      e.sort((a, b) => a.z - b.z || (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
    } else {
      this.normal = null;
      e.sort(
        (a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0) || a.sop.localeCompare(b.sop) || a.frame - b.frame,
      );
    }
    e.forEach((x, i) => (x.index = i));
  }

  /** `fn(event, entry)` on 'frame', 'progress', 'done', 'error'. */
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(kind, entry) {
    for (const fn of this.listeners) fn(kind, entry, this);
  }

  /** Starts loading: `start` first, then the others outward from it. */
  load(start = 0) {
    this.startedAt = performance.now();
    const n = this.entries.length;
    const order = [start];
    for (let d = 1; order.length < n; d++) {
      if (start + d < n) order.push(start + d);
      if (start - d >= 0) order.push(start - d);
    }
    const bulk = n > 8 && this.entries.every((e) => e.frames === 1 && NATIVE_LE.has(e.ts));
    if (bulk) {
      // The frame on screen alone first; the series stream starts once it is in (or after
      // BULK_DELAY_MS), so that the first image does not share the server and the main
      // thread with a gigabyte arriving at full speed.
      this.queue = this.tasks([start]);
      this.bulkTimer = setTimeout(() => this.startBulk(), BULK_DELAY_MS);
      this.pump();
    } else {
      this.queue = this.tasks(order);
      this.pump();
    }
  }

  startBulk() {
    if (!this.bulkTimer) return;
    clearTimeout(this.bulkTimer);
    this.bulkTimer = 0;
    this.bulk();
  }

  /** The whole series as stored, streamed; then frames for whatever it did not deliver. */
  async bulk() {
    const bySop = new Map(this.entries.map((e) => [e.sop, e]));
    try {
      await streamSeries(this.studyUid, this.series.uid, this.abort.signal, (part) => {
        this.bytes += part.length;
        const px = part10Pixels(part);
        const e = px && bySop.get(px.sop);
        if (e) this.deliver(e, px.pixels);
      });
    } catch (err) {
      if (this.abort.signal.aborted) return;
      console.warn('viewer: series stream failed, fetching frames', err);
    }
    const rest = this.entries.filter((e) => e.state === 'idle').map((e) => e.index);
    this.queue.push(...this.tasks(rest));
    this.pump();
    this.checkDone();
  }

  /** Keeps a frame's pixels (the first delivery wins) and tells the listeners. */
  deliver(e, bytes) {
    if (e.state === 'done') return;
    e.data = typed(e, bytes);
    e.state = 'done';
    this.loaded++;
    this.emit('frame', e);
    this.emit('progress', e);
    this.checkDone();
  }

  checkDone() {
    if (this.loaded + this.failed === this.entries.length && !this.finishedAt) {
      this.finishedAt = performance.now();
      this.emit('done', null);
    }
  }

  /** Groups the order into requests: one per single-frame instance, chunks of frames else. */
  tasks(order) {
    const tasks = [];
    const open = new Map(); // sop -> task still taking frames
    for (const i of order) {
      const e = this.entries[i];
      if (e.frames === 1) {
        tasks.push([e]);
        continue;
      }
      let t = open.get(e.sop);
      if (!t || t.length >= FRAMES_PER_REQUEST || tasks.length === 0) {
        t = [];
        tasks.push(t);
        open.set(e.sop, t);
      }
      t.push(e);
    }
    // The frame on screen goes alone, whatever its instance.
    if (tasks.length && tasks[0].length > 1) {
      const [head, ...rest] = tasks[0];
      tasks.splice(0, 1, [head], rest);
    }
    return tasks.filter((t) => t.length);
  }

  /** Moves the request holding `index` to the front of the queue (the user looks at it). */
  prioritise(index) {
    const e = this.entries[index];
    if (!e || e.state !== 'idle') return;
    const k = this.queue.findIndex((t) => t.includes(e));
    if (k > 0) {
      const [t] = this.queue.splice(k, 1);
      this.queue.unshift(t);
    } else if (k < 0) {
      this.queue.unshift([e]);
    }
    this.pump();
  }

  pump() {
    while (this.inFlight < CONCURRENCY && this.queue.length) {
      const task = this.queue.shift();
      if (task.every((e) => e.state !== 'idle')) continue;
      this.fetch(task);
    }
  }

  async fetch(task) {
    this.inFlight++;
    for (const e of task) e.state = 'loading';
    const e0 = task[0];
    try {
      const { parts, bytes } = await fetchFrames(
        this.studyUid,
        this.series.uid,
        e0.sop,
        task.map((e) => e.frame),
        this.abort.signal,
      );
      this.bytes += bytes;
      task.forEach((e, k) => this.deliver(e, parts[k]));
    } catch (err) {
      if (this.abort.signal.aborted) return;
      for (const e of task) {
        if (e.state === 'done') continue;
        e.state = 'error';
        this.failed++;
      }
      this.emit('error', e0);
      this.emit('progress', e0);
      console.warn('viewer: frames failed', err);
    } finally {
      this.inFlight--;
    }
    if (this.abort.signal.aborted) return;
    this.startBulk();
    this.checkDone();
    this.pump();
  }

  /** Stops loading and lets the pixels go. */
  dispose() {
    this.abort.abort();
    clearTimeout(this.bulkTimer);
    this.bulkTimer = 0;
    this.queue = [];
    for (const e of this.entries) e.data = null;
    this.listeners.clear();
  }

  /** The index of the frame nearest to `entry` of another stack (synchronised scrolling). */
  nearest(entry, fromStack) {
    const n = this.entries.length;
    if (!n) return 0;
    if (this.normal && entry.position && fromStack.normal) {
      const z = dot(entry.position, this.normal);
      let best = 0;
      let bestD = Infinity;
      // Entries are sorted by z: binary search, then the closer neighbour.
      let lo = 0;
      let hi = n - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const d = this.entries[mid].z - z;
        if (Math.abs(d) < bestD) {
          bestD = Math.abs(d);
          best = mid;
        }
        if (d < 0) lo = mid + 1;
        else hi = mid - 1;
      }
      return best;
    }
    const m = fromStack.entries.length;
    return m > 1 ? Math.round((entry.index / (m - 1)) * (n - 1)) : 0;
  }
}

/** The part's bytes as the typed array the frame's samples need (copied when unaligned). */
function typed(e, part) {
  if (e.bits === 8) return part;
  const count = part.byteLength >> 1;
  const Ctor = e.signed ? Int16Array : Uint16Array;
  if (part.byteOffset % 2 === 0) return new Ctor(part.buffer, part.byteOffset, count);
  return new Ctor(part.slice(0, count * 2).buffer);
}
