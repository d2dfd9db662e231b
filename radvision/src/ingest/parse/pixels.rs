//! Checking declared pixel data against the image attributes, and inflating deflated
//! data sets.

use std::io::Read;

use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::header::{malformed, Syntax};
use super::values::{code_string, read_us};
use super::walker::{Pixels, Walker};
use crate::ingest::model::Reject;

pub(super) fn check_pixels(
    w: &Walker<'_>,
    syntax: Syntax,
    encapsulated: bool,
    needs_pixels: bool,
    rows: Option<u16>,
    columns: Option<u16>,
    frames: Option<u32>,
) -> Result<(), Reject> {
    match w.pixels {
        Pixels::Absent => {
            if needs_pixels {
                return Err(Reject::Missing("PixelData"));
            }
            Ok(())
        }
        Pixels::Encapsulated { items, cut } => {
            rows.ok_or(Reject::Missing("Rows"))?;
            columns.ok_or(Reject::Missing("Columns"))?;
            if !encapsulated {
                return Err(malformed(
                    "encapsulated pixel data in a native transfer syntax",
                ));
            }
            // The basic offset table item plus at least one fragment.
            if cut || items < 2 {
                return Err(Reject::TruncatedPixelData);
            }
            Ok(())
        }
        Pixels::Native { declared, cut } => {
            let rows = rows.ok_or(Reject::Missing("Rows"))?;
            let columns = columns.ok_or(Reject::Missing("Columns"))?;
            if encapsulated {
                return Err(malformed(
                    "native pixel data in an encapsulated transfer syntax",
                ));
            }
            if cut {
                return Err(Reject::TruncatedPixelData);
            }
            let bits =
                read_us(w.get(0x0028_0100), syntax).ok_or(Reject::Missing("BitsAllocated"))?;
            let samples = read_us(w.get(0x0028_0002), syntax).unwrap_or(1);
            if !(1..=4).contains(&samples) {
                return Err(malformed(format!("SamplesPerPixel {samples}")));
            }
            let photometric = code_string(w.get(0x0028_0004));
            // YBR_FULL_422 native data holds two samples' worth per pixel (PS3.3 C.7.6.3.1.2).
            let per_pixel_samples = if samples == 3 && photometric == "YBR_FULL_422" {
                2
            } else {
                u64::from(samples)
            };
            let pixels = u64::from(rows) * u64::from(columns) * u64::from(frames.unwrap_or(1));
            let expected = match bits {
                1 => (pixels * per_pixel_samples).div_ceil(8),
                8 | 16 | 32 | 64 => pixels * per_pixel_samples * u64::from(bits / 8),
                _ => return Err(malformed(format!("BitsAllocated {bits}"))),
            };
            if declared < expected {
                return Err(Reject::TruncatedPixelData);
            }
            Ok(())
        }
    }
}

/// Inflates a Deflated Explicit VR Little Endian data set, at most `max` bytes.
pub(super) fn inflate(body: &[u8], max: u64) -> Result<Vec<u8>, Reject> {
    let ts = TransferSyntaxRegistry
        .get("1.2.840.10008.1.2.1.99")
        .ok_or_else(|| Reject::UnsupportedTransferSyntax("1.2.840.10008.1.2.1.99".into()))?;
    let Codec::Dataset(Some(adapter)) = ts.codec() else {
        return Err(Reject::UnsupportedTransferSyntax(
            "1.2.840.10008.1.2.1.99".into(),
        ));
    };
    let reader = adapter.adapt_reader(Box::new(body));
    let mut out = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| malformed("invalid deflate stream"))?;
    if out.len() as u64 > max {
        return Err(Reject::TooLarge(max));
    }
    Ok(out)
}
