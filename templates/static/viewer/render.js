// Pixels to screen: rescale → window/level (PS3.3 C.11.2.1.2, linear) → 8-bit grey, through
// a lookup table over every raw value the frame's sample type can hold, built once per
// window and reused for every frame that shares it. The table maps straight to packed RGBA
// words so that a 512×512 frame is one pass of 262,144 table reads.

const OPAQUE = 0xff000000;

/** The raw value range of a frame's samples: [lowest, count]. */
function rawRange(e) {
  if (e.bits === 8) return [0, 256];
  return e.signed ? [-32768, 65536] : [0, 65536];
}

/** DICOM's linear VOI function of a modality value, 0..255. */
function windowed(v, center, width) {
  const w = Math.max(1, width);
  const c = center - 0.5;
  const half = (w - 1) / 2;
  if (v <= c - half) return 0;
  if (v > c + half) return 255;
  return Math.round(((v - c) / (w - 1 || 1) + 0.5) * 255);
}

/** The key of a lookup table: everything it depends on. */
export function lutKey(e, center, width, invert) {
  return `${e.bits}|${e.signed}|${e.slope}|${e.intercept}|${center}|${width}|${invert}|${e.photometric}`;
}

/**
 * A table from raw value (offset by the range's lowest) to a packed grey RGBA word.
 * MONOCHROME1 shows low values bright; `invert` flips again.
 */
export function makeLut(e, center, width, invert) {
  const [lo, count] = rawRange(e);
  const out = new Uint32Array(count);
  const flip = (e.photometric === 'MONOCHROME1') !== Boolean(invert);
  for (let i = 0; i < count; i++) {
    let y = windowed((i + lo) * e.slope + e.intercept, center, width);
    if (flip) y = 255 - y;
    out[i] = OPAQUE | (y << 16) | (y << 8) | y;
  }
  return { words: out, offset: -lo };
}

/** A per-channel table for colour frames (the same window on R, G and B). */
export function makeColourLut(center, width, invert) {
  const out = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    const y = windowed(i, center, width);
    out[i] = invert ? 255 - y : y;
  }
  return out;
}

/** Fills `out` (a Uint32Array over an ImageData) with the frame through the table. */
export function renderGrey(data, lut, out) {
  const w = lut.words;
  const off = lut.offset;
  const n = Math.min(out.length, data.length);
  if (off === 0) {
    for (let i = 0; i < n; i++) out[i] = w[data[i]];
  } else {
    for (let i = 0; i < n; i++) out[i] = w[data[i] + off];
  }
}

/** Fills `out` with an interleaved RGB frame through a per-channel table. */
export function renderColour(data, lut, out) {
  const n = Math.min(out.length, Math.floor(data.length / 3));
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = OPAQUE | (lut[data[j + 2]] << 16) | (lut[data[j + 1]] << 8) | lut[data[j]];
  }
}

/** The modality-value range of a frame (for a default window when the file has none). */
export function valueRange(e) {
  const d = e.data;
  let lo = Infinity;
  let hi = -Infinity;
  const step = e.samples === 3 ? 1 : 1;
  for (let i = 0; i < d.length; i += step) {
    const v = d[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return [0, 255];
  const a = lo * e.slope + e.intercept;
  const b = hi * e.slope + e.intercept;
  return a <= b ? [a, b] : [b, a];
}
