// DICOMweb for the viewer: QIDO-RS series, WADO-RS series metadata (DICOM JSON) and frames
// (multipart/related of native little-endian pixels, decoded on the server when the browser
// could not). Same origin, the session cookie authenticates; every answer is no-store.

const JSON_TYPE = 'application/dicom+json';
const FRAME_TYPE =
  'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1';

export const BASE = '/dicom-web';

/** The first value of a DICOM JSON attribute, or `fallback`. */
export function first(ds, tag, fallback = null) {
  const v = ds?.[tag]?.Value;
  return Array.isArray(v) && v.length > 0 && v[0] !== null ? v[0] : fallback;
}

/** Every value of a DICOM JSON attribute as numbers (DS and IS may arrive as strings). */
export function numbers(ds, tag) {
  const v = ds?.[tag]?.Value;
  if (!Array.isArray(v)) return [];
  return v.map(Number).filter((n) => Number.isFinite(n));
}

/** One number, or `fallback`. */
export function number(ds, tag, fallback = null) {
  const n = numbers(ds, tag);
  return n.length ? n[0] : fallback;
}

async function getJson(url, signal) {
  const r = await fetch(url, { headers: { Accept: JSON_TYPE }, credentials: 'same-origin', signal });
  if (r.status === 204) return [];
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

/** The series of a study (QIDO-RS). */
export async function seriesOf(studyUid, signal) {
  const rows = await getJson(`${BASE}/studies/${studyUid}/series`, signal);
  return rows.map((ds) => ({
    uid: first(ds, '0020000E', ''),
    number: number(ds, '00200011', null),
    modality: first(ds, '00080060', ''),
    description: first(ds, '0008103E', ''),
    count: number(ds, '00201209', 0),
  }));
}

/** The metadata of every instance of a series (WADO-RS). */
export function seriesMetadata(studyUid, seriesUid, signal) {
  return getJson(`${BASE}/studies/${studyUid}/series/${seriesUid}/metadata`, signal);
}

export function thumbnailUrl(studyUid, seriesUid) {
  return `${BASE}/studies/${studyUid}/series/${seriesUid}/thumbnail`;
}

/**
 * Frames of one instance as native little-endian bytes, one Uint8Array per frame asked, in
 * order.
 */
export async function fetchFrames(studyUid, seriesUid, sopUid, frames, signal) {
  const url = `${BASE}/studies/${studyUid}/series/${seriesUid}/instances/${sopUid}/frames/${frames.join(',')}`;
  const r = await fetch(url, { headers: { Accept: FRAME_TYPE }, credentials: 'same-origin', signal });
  if (!r.ok) throw new Error(`frames: HTTP ${r.status}`);
  const buf = await r.arrayBuffer();
  const parts = parseMultipart(buf, r.headers.get('Content-Type') || '');
  if (parts.length !== frames.length) {
    throw new Error(`frames: ${parts.length} parts for ${frames.length} frames`);
  }
  return { parts, bytes: buf.byteLength };
}

const CRLF2 = [13, 10, 13, 10];

function boundaryOf(contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) throw new Error('multipart without boundary');
  return m[1] || m[2];
}

function indexOfSeq(bytes, seq, from) {
  const firstByte = seq[0];
  let i = bytes.indexOf(firstByte, from);
  while (i !== -1 && i + seq.length <= bytes.length) {
    let k = 1;
    while (k < seq.length && bytes[i + k] === seq[k]) k++;
    if (k === seq.length) return i;
    i = bytes.indexOf(firstByte, i + 1);
  }
  return -1;
}

function headerText(bytes, from, to) {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * Splits a multipart body into its parts' bodies (views into `buf`). A part's
 * Content-Length is trusted when present and consistent; otherwise the next delimiter ends
 * it.
 */
export function parseMultipart(buf, contentType) {
  const bytes = new Uint8Array(buf);
  const enc = new TextEncoder();
  const dash = enc.encode(`--${boundaryOf(contentType)}`);
  const delimiter = enc.encode(`\r\n--${boundaryOf(contentType)}`);
  const parts = [];
  let pos = indexOfSeq(bytes, dash, 0);
  if (pos < 0) throw new Error('multipart: no boundary in body');
  for (;;) {
    pos += dash.length;
    // "--" after the boundary closes the body.
    if (bytes[pos] === 45 && bytes[pos + 1] === 45) break;
    const headEnd = indexOfSeq(bytes, CRLF2, pos);
    if (headEnd < 0) throw new Error('multipart: part without header end');
    const headers = headerText(bytes, pos, headEnd);
    const start = headEnd + 4;
    const m = /content-length:\s*(\d+)/i.exec(headers);
    let end = -1;
    if (m) {
      const len = Number(m[1]);
      const at = start + len;
      if (at + delimiter.length <= bytes.length && delimiter.every((b, k) => bytes[at + k] === b)) end = at;
    }
    if (end < 0) end = indexOfSeq(bytes, delimiter, start);
    if (end < 0) throw new Error('multipart: unterminated part');
    parts.push(new Uint8Array(buf, start, end - start));
    pos = end + 2; // at the "--boundary" of the delimiter
  }
  return parts;
}

// --- the whole series as stored (bulk prefetch) -------------------------------------------

/** Transfer syntaxes whose pixels the browser reads straight from the Part 10 bytes. */
export const NATIVE_LE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);

/**
 * Streams `…/series/{series}` (WADO-RS, the stored Part 10 files) and calls `onPart` with
 * each part's bytes (a Uint8Array over an ArrayBuffer of its own) as soon as it is complete.
 * Parts must carry Content-Length (Enkaku's do). Returns the bytes received.
 *
 * With a BYOB reader (Chromium, Firefox, Safari 17+) each part is read straight into its own
 * buffer: the bytes are copied once, from the network into the buffer the frame keeps, and no
 * chunk is allocated per read. Only the part headers (~150 bytes) go through a small scratch
 * buffer. Without BYOB the chunks are copied into the part's buffer.
 */
export async function streamSeries(studyUid, seriesUid, signal, onPart) {
  const r = await fetch(`${BASE}/studies/${studyUid}/series/${seriesUid}`, {
    headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    credentials: 'same-origin',
    signal,
  });
  if (!r.ok || !r.body) throw new Error(`series: HTTP ${r.status}`);
  boundaryOf(r.headers.get('Content-Type') || '');
  let byob = null;
  try {
    byob = r.body.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream: default reader below
  }
  return byob ? streamByob(byob, onPart) : streamChunks(r.body.getReader(), onPart);
}

/** The Content-Length of a part header in `bytes[0..end)`. */
function partLength(bytes, end) {
  const m = /content-length:\s*(\d+)/i.exec(headerText(bytes, 0, end));
  if (!m) throw new Error('series: part without Content-Length');
  return Number(m[1]);
}

const HEAD_READ = 512;

async function streamByob(reader, onPart) {
  let scratch = new ArrayBuffer(4096);
  let have = 0; // bytes of scratch in use
  let total = 0;
  let searched = 0;
  for (;;) {
    // A part header: read small pieces until the blank line.
    let bytes = new Uint8Array(scratch, 0, have);
    let i = indexOfSeq(bytes, CRLF2, Math.max(0, searched - 3));
    while (i < 0) {
      searched = have;
      if (have + HEAD_READ > scratch.byteLength) {
        if (scratch.byteLength >= 65536) throw new Error('series: part header too long');
        const bigger = new Uint8Array(scratch.byteLength * 2);
        bigger.set(new Uint8Array(scratch, 0, have));
        scratch = bigger.buffer;
      }
      const { done, value } = await reader.read(new Uint8Array(scratch, have, HEAD_READ));
      if (done) return total; // the close delimiter (or nothing) is left
      scratch = value.buffer;
      have += value.length;
      total += value.length;
      bytes = new Uint8Array(scratch, 0, have);
      i = indexOfSeq(bytes, CRLF2, Math.max(0, searched - 3));
    }
    const len = partLength(bytes, i);
    const start = i + 4;
    // What the header read already took of the part (and maybe beyond, for tiny parts).
    const extra = Math.min(have - start, len);
    let part = new ArrayBuffer(len);
    new Uint8Array(part).set(bytes.subarray(start, start + extra));
    const left = have - start - extra;
    if (left > 0) bytes.copyWithin(0, start + extra, have);
    have = left;
    searched = 0;
    let filled = extra;
    while (filled < len) {
      const { done, value } = await reader.read(new Uint8Array(part, filled, len - filled));
      if (done) throw new Error('series: truncated');
      part = value.buffer;
      filled += value.length;
      total += value.length;
    }
    onPart(new Uint8Array(part));
  }
}

async function streamChunks(reader, onPart) {
  let head = new Uint8Array(0);
  let part = null;
  let filled = 0;
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    let chunk = value;
    let off = 0;
    while (off < chunk.length) {
      if (part) {
        const n = Math.min(part.length - filled, chunk.length - off);
        part.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === part.length) {
          onPart(part);
          part = null;
        }
        continue;
      }
      // Only a header's worth of the chunk is joined with what is left of the last one.
      const take = Math.min(chunk.length - off, 4096);
      const joined = new Uint8Array(head.length + take);
      joined.set(head);
      joined.set(chunk.subarray(off, off + take), head.length);
      const i = indexOfSeq(joined, CRLF2, 0);
      if (i < 0) {
        if (joined.length > 65536) throw new Error('series: part header too long');
        head = joined;
        off += take;
        continue;
      }
      part = new Uint8Array(partLength(joined, i));
      filled = 0;
      // Resume in the chunk right after the header.
      off += i + 4 - head.length;
      head = new Uint8Array(0);
      if (part.length === 0) {
        onPart(part);
        part = null;
      }
    }
  }
  if (part) throw new Error('series: truncated');
  return total;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

function elementAt(bytes, dv, p, explicit) {
  const group = dv.getUint16(p, true);
  const elem = dv.getUint16(p + 2, true);
  if (group === 0xfffe) return { group, elem, len: dv.getUint32(p + 4, true), hdr: 8 };
  if (explicit) {
    const vr = String.fromCharCode(bytes[p + 4], bytes[p + 5]);
    if (LONG_VRS.has(vr)) return { group, elem, len: dv.getUint32(p + 8, true), hdr: 12 };
    return { group, elem, len: dv.getUint16(p + 6, true), hdr: 8 };
  }
  return { group, elem, len: dv.getUint32(p + 4, true), hdr: 8 };
}

/** Skips the contents of an undefined-length element from `p` to after its delimiter. */
function skipUndefined(bytes, dv, p, explicit) {
  let depth = 1;
  while (p + 8 <= bytes.length) {
    const e = elementAt(bytes, dv, p, explicit);
    if (e.group === 0xfffe && (e.elem === 0xe0dd || e.elem === 0xe00d)) {
      p += 8;
      if (--depth === 0) return p;
    } else if (e.len === UNDEFINED) {
      depth++;
      p += e.hdr;
    } else {
      p += e.hdr + e.len;
    }
  }
  throw new Error('part10: unterminated sequence');
}

function text(bytes, from, len) {
  return headerText(bytes, from, from + len).replace(/[\0 ]+$/, '');
}

/**
 * The SOP Instance UID and native pixel bytes of a Part 10 file in (implicit or explicit)
 * little endian, or null for anything else (compressed, big endian, deflated: those go
 * through the frames resource, decoded on the server).
 */
export function part10Pixels(bytes) {
  if (bytes.length < 140 || text(bytes, 128, 4) !== 'DICM') return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 132;
  let ts = '';
  while (p + 8 <= bytes.length && dv.getUint16(p, true) === 0x0002) {
    const e = elementAt(bytes, dv, p, true);
    if (e.elem === 0x0010) ts = text(bytes, p + e.hdr, e.len);
    p += e.hdr + e.len;
  }
  if (!NATIVE_LE.has(ts)) return null;
  const explicit = ts !== '1.2.840.10008.1.2';
  let sop = '';
  while (p + 8 <= bytes.length) {
    const e = elementAt(bytes, dv, p, explicit);
    if (e.group === 0x0008 && e.elem === 0x0018) sop = text(bytes, p + e.hdr, e.len);
    if (e.group === 0x7fe0 && e.elem === 0x0010) {
      if (e.len === UNDEFINED) return null;
      const start = p + e.hdr;
      return { sop, ts, pixels: bytes.subarray(start, start + Math.min(e.len, bytes.length - start)) };
    }
    p = e.len === UNDEFINED ? skipUndefined(bytes, dv, p + e.hdr, explicit) : p + e.hdr + e.len;
  }
  return null;
}
