//! Native frames: slicing one frame out of uncompressed pixel data and turning stored
//! bytes into the output form (little endian, interleaved, RGB, clean high bits). When the
//! stored bytes are already in that form — the common little-endian monochrome case — the
//! frame is a slice of the file's buffer, without a copy.

use std::ops::Range;

use bytes::Bytes;

use super::dataset::{Dataset, Syntax};
use super::{FrameInfo, PixelError, Stored};

/// Encapsulated Uncompressed Explicit VR Little Endian: fragments hold native frames.
const ENCAPSULATED_UNCOMPRESSED: &str = "1.2.840.10008.1.2.1.98";
const RLE: &str = "1.2.840.10008.1.2.5";

/// Frame `index` (0-based) of native pixel data at `range` of the data set's buffer.
pub(super) fn frame(
    ds: &Dataset,
    stored: &Stored,
    info: &FrameInfo,
    range: Range<usize>,
    cut: bool,
    ow: bool,
    index: u32,
) -> Result<Bytes, PixelError> {
    let len = stored_frame_len(stored);
    let start = (index as usize)
        .checked_mul(len)
        .and_then(|o| o.checked_add(range.start))
        .ok_or(PixelError::Truncated)?;
    let end = start.checked_add(len).ok_or(PixelError::Truncated)?;
    if end > range.end {
        return Err(if cut {
            PixelError::Truncated
        } else {
            PixelError::Malformed(format!(
                "pixel data holds {} bytes, frame {} needs up to {}",
                range.len(),
                index + 1,
                end - range.start
            ))
        });
    }
    let raw = ds.data.slice(start..end);
    let big_endian = ds.syntax == Syntax::ExplicitBe;
    to_output(raw, stored, info, big_endian, ow)
}

/// A decoded encapsulated frame (little endian; colour interleaved and, except where noted
/// below, already RGB) into the output form.
pub(super) fn after_decoding(
    transfer_syntax: &str,
    stored: &Stored,
    info: &FrameInfo,
    decoded: Vec<u8>,
) -> Result<Bytes, PixelError> {
    if transfer_syntax == ENCAPSULATED_UNCOMPRESSED {
        return to_output(Bytes::from(decoded), stored, info, false, false);
    }
    let mut data = decoded;
    // RLE, JPEG-LS and JPEG 2000 without a colour transform keep the stored colour space;
    // the JPEG codec converts YCbCr itself.
    let keeps_colour_space = transfer_syntax == RLE
        || transfer_syntax.starts_with("1.2.840.10008.1.2.4.8")
        || transfer_syntax.starts_with("1.2.840.10008.1.2.4.9")
        || transfer_syntax.starts_with("1.2.840.10008.1.2.4.20");
    if stored.samples == 3 && stored.photometric == "YBR_FULL" && keeps_colour_space {
        ybr_full_to_rgb(&mut data, stored)?;
    }
    let data = match fix_bits(&data, info) {
        Some(fixed) => fixed,
        None => data,
    };
    Ok(Bytes::from(data))
}

/// Bytes of one stored frame (YBR_FULL_422 native data holds two samples per pixel).
fn stored_frame_len(s: &Stored) -> usize {
    let per_pixel = if s.samples == 3 && s.photometric == "YBR_FULL_422" {
        2
    } else {
        usize::from(s.samples)
    };
    usize::from(s.rows) * usize::from(s.columns) * per_pixel * usize::from(s.bits_allocated / 8)
}

/// Stored native bytes of one frame into the output form; `raw` itself when nothing
/// changes.
fn to_output(
    raw: Bytes,
    stored: &Stored,
    info: &FrameInfo,
    big_endian: bool,
    ow: bool,
) -> Result<Bytes, PixelError> {
    let bps = usize::from(stored.bits_allocated / 8);
    let colour = stored.samples == 3;
    let needs_ybr = colour && stored.photometric.starts_with("YBR");
    let needs_planar = colour && stored.planar == 1;
    let needs_swap = big_endian && (bps > 1 || ow);
    if !needs_ybr && !needs_planar && !needs_swap {
        return Ok(match fix_bits(&raw, info) {
            Some(fixed) => Bytes::from(fixed),
            None => raw,
        });
    }
    let mut data = raw.to_vec();
    if needs_swap {
        // 8-bit samples in an OW value are swapped in pairs, like 16-bit words.
        let width = bps.max(2);
        for c in data.chunks_exact_mut(width) {
            c.reverse();
        }
    }
    if needs_planar {
        data = interleave(&data, bps);
    }
    if needs_ybr {
        match stored.photometric.as_str() {
            "YBR_FULL" => ybr_full_to_rgb(&mut data, stored)?,
            "YBR_FULL_422" => data = ybr_422_to_rgb(&data, stored)?,
            other => {
                return Err(PixelError::Unsupported(format!(
                    "native pixel data in {other}"
                )))
            }
        }
    }
    Ok(match fix_bits(&data, info) {
        Some(fixed) => Bytes::from(fixed),
        None => Bytes::from(data),
    })
}

/// Planar configuration 1 (RRR…GGG…BBB…) to interleaved (RGBRGB…).
fn interleave(planar: &[u8], bps: usize) -> Vec<u8> {
    let plane = planar.len() / 3;
    let pixels = plane / bps;
    let mut out = vec![0u8; planar.len()];
    for (p, px) in out.chunks_exact_mut(3 * bps).take(pixels).enumerate() {
        for (s, sample) in px.chunks_exact_mut(bps).enumerate() {
            let from = s * plane + p * bps;
            if let Some(src) = planar.get(from..from + bps) {
                sample.copy_from_slice(src);
            }
        }
    }
    out
}

fn ybr_to_rgb(y: f32, cb: f32, cr: f32, half: f32, max: f32) -> [f32; 3] {
    let r = y + 1.402 * (cr - half);
    let g = y - 0.344_136 * (cb - half) - 0.714_136 * (cr - half);
    let b = y + 1.772 * (cb - half);
    [r, g, b].map(|v| v.round().clamp(0.0, max))
}

/// Interleaved YBR_FULL (PS3.3 C.7.6.3.1.2) to RGB, in place; 8 or 16 bits.
fn ybr_full_to_rgb(data: &mut [u8], s: &Stored) -> Result<(), PixelError> {
    match s.bits_allocated {
        8 => {
            for px in data.chunks_exact_mut(3) {
                let [y, cb, cr] = [px[0], px[1], px[2]].map(f32::from);
                let rgb = ybr_to_rgb(y, cb, cr, 128.0, 255.0);
                for (d, v) in px.iter_mut().zip(rgb) {
                    *d = v as u8;
                }
            }
            Ok(())
        }
        16 => {
            let max = ((1u32 << s.bits_stored.min(16)) - 1) as f32;
            let half = ((1u32 << s.bits_stored.min(16)) / 2) as f32;
            for px in data.chunks_exact_mut(6) {
                let y = f32::from(u16::from_le_bytes([px[0], px[1]]));
                let cb = f32::from(u16::from_le_bytes([px[2], px[3]]));
                let cr = f32::from(u16::from_le_bytes([px[4], px[5]]));
                let rgb = ybr_to_rgb(y, cb, cr, half, max);
                for (d, v) in px.chunks_exact_mut(2).zip(rgb) {
                    d.copy_from_slice(&(v as u16).to_le_bytes());
                }
            }
            Ok(())
        }
        b => Err(PixelError::Unsupported(format!(
            "YBR_FULL with BitsAllocated {b}"
        ))),
    }
}

/// Native YBR_FULL_422 (Y Y Cb Cr for each pair of pixels) to RGB; 8 bits only.
fn ybr_422_to_rgb(data: &[u8], s: &Stored) -> Result<Vec<u8>, PixelError> {
    if s.bits_allocated != 8 || usize::from(s.columns) % 2 != 0 {
        return Err(PixelError::Unsupported(
            "native YBR_FULL_422 other than 8-bit with even Columns".into(),
        ));
    }
    let mut out = Vec::with_capacity(data.len() / 2 * 3);
    for quad in data.chunks_exact(4) {
        let [y0, y1, cb, cr] = [quad[0], quad[1], quad[2], quad[3]].map(f32::from);
        for y in [y0, y1] {
            out.extend(ybr_to_rgb(y, cb, cr, 128.0, 255.0).map(|v| v as u8));
        }
    }
    Ok(out)
}

/// Clears bits above Bits Stored (sign-extending when Pixel Representation is 1), or `None`
/// when every sample is already clean.
fn fix_bits(data: &[u8], info: &FrameInfo) -> Option<Vec<u8>> {
    let (bits, stored) = (u32::from(info.bits_allocated), u32::from(info.bits_stored));
    if stored >= bits || stored == 0 {
        return None;
    }
    let signed = info.pixel_representation == 1;
    let mask: u32 = (1u32 << stored) - 1;
    let sign = 1u32 << (stored - 1);
    let fix = |v: u32| -> u32 {
        let v = v & mask;
        if signed && v & sign != 0 {
            v | !mask
        } else {
            v
        }
    };
    if !signed && unsigned_clean(data, bits, mask) {
        return None;
    }
    match bits {
        8 => {
            let clean = data.iter().all(|b| fix(u32::from(*b)) as u8 == *b);
            (!clean).then(|| data.iter().map(|b| fix(u32::from(*b)) as u8).collect())
        }
        16 => {
            let word = |c: &[u8]| u32::from(u16::from_le_bytes([c[0], c[1]]));
            let clean = data
                .chunks_exact(2)
                .all(|c| fix(word(c)) as u16 == word(c) as u16);
            (!clean).then(|| {
                data.chunks_exact(2)
                    .flat_map(|c| (fix(word(c)) as u16).to_le_bytes())
                    .collect()
            })
        }
        32 => {
            let word = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let clean = data.chunks_exact(4).all(|c| fix(word(c)) == word(c));
            (!clean).then(|| {
                data.chunks_exact(4)
                    .flat_map(|c| fix(word(c)).to_le_bytes())
                    .collect()
            })
        }
        _ => None,
    }
}

/// Whether no unsigned sample has a bit above `mask` set: every 8 bytes OR-ed together
/// (the common case, checked in one cheap pass).
fn unsigned_clean(data: &[u8], bits: u32, mask: u32) -> bool {
    let lane = match bits {
        8 => u64::from(!mask & 0xFF) * 0x0101_0101_0101_0101,
        16 => u64::from(!mask & 0xFFFF) * 0x0001_0001_0001_0001,
        _ => u64::from(!mask) * 0x0000_0001_0000_0001,
    };
    let chunks = data.chunks_exact(8);
    let mut tail = [0u8; 8];
    if let Some(t) = tail.get_mut(..chunks.remainder().len()) {
        t.copy_from_slice(chunks.remainder());
    }
    let all = chunks
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .fold(u64::from_le_bytes(tail), |acc, w| acc | w);
    all & lane == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(bits: u16, stored: u16, signed: bool) -> FrameInfo {
        FrameInfo {
            rows: 1,
            columns: 2,
            samples_per_pixel: 1,
            bits_allocated: bits,
            bits_stored: stored,
            pixel_representation: u16::from(signed),
            photometric: "MONOCHROME2".into(),
        }
    }

    #[test]
    fn high_bits_are_cleared_or_sign_extended() {
        let data = [0xFF, 0xF0, 0x34, 0x12];
        assert_eq!(
            fix_bits(&data, &info(16, 12, false)),
            Some(vec![0xFF, 0x00, 0x34, 0x02])
        );
        // 0x0FFF in 12 bits is -1.
        assert_eq!(
            fix_bits(&[0xFF, 0x0F, 0x01, 0x00], &info(16, 12, true)),
            Some(vec![0xFF, 0xFF, 0x01, 0x00])
        );
        assert_eq!(
            fix_bits(&[0xFF, 0xFF, 0x01, 0x00], &info(16, 12, true)),
            None
        );
        assert_eq!(fix_bits(&data, &info(16, 16, false)), None);
    }

    #[test]
    fn planar_to_interleaved() {
        assert_eq!(interleave(&[1, 2, 3, 4, 5, 6], 1), vec![1, 3, 5, 2, 4, 6]);
    }

    #[test]
    fn ybr_grey_stays_grey() {
        assert_eq!(ybr_to_rgb(200.0, 128.0, 128.0, 128.0, 255.0), [200.0; 3]);
    }
}
