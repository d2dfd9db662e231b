//! Decoding one compressed frame with dicom-transfer-syntax-registry's codecs (the ones
//! dicom-pixeldata uses): JPEG baseline, 8-bit extended and lossless (jpeg-decoder), JPEG-LS
//! (CharLS), JPEG 2000 and HTJ2K (openjp2), RLE Lossless; 12-bit JPEG Extended goes to
//! dcmtk's `dcmdjpeg` ([`super::jpeg12`]).
//!
//! The codec sees a one-frame object holding only this frame's bytes, so nothing else of
//! the file is decoded or copied. The codecs are not hardened against hostile input (some
//! index slices or unwrap), so an RLE header is checked first and the call runs under
//! `catch_unwind`: a panic becomes [`PixelError::Decode`].

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use dicom_encoding::adapters::{PixelDataObject, RawPixelData};
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::{PixelError, Stored};

const ENCAPSULATED_UNCOMPRESSED: &str = "1.2.840.10008.1.2.1.98";
const RLE: &str = "1.2.840.10008.1.2.5";

/// One frame as a pixel data object.
struct OneFrame<'a> {
    transfer_syntax: &'a str,
    stored: &'a Stored,
    data: &'a [u8],
}

impl PixelDataObject for OneFrame<'_> {
    fn transfer_syntax_uid(&self) -> &str {
        self.transfer_syntax
    }
    fn rows(&self) -> Option<u16> {
        Some(self.stored.rows)
    }
    fn cols(&self) -> Option<u16> {
        Some(self.stored.columns)
    }
    fn samples_per_pixel(&self) -> Option<u16> {
        Some(self.stored.samples)
    }
    fn bits_allocated(&self) -> Option<u16> {
        Some(self.stored.bits_allocated)
    }
    fn bits_stored(&self) -> Option<u16> {
        Some(self.stored.bits_stored)
    }
    fn photometric_interpretation(&self) -> Option<&str> {
        Some(&self.stored.photometric)
    }
    fn number_of_frames(&self) -> Option<u32> {
        Some(1)
    }
    fn number_of_fragments(&self) -> Option<u32> {
        Some(1)
    }
    fn fragment(&self, fragment: usize) -> Option<Cow<'_, [u8]>> {
        (fragment == 0).then_some(Cow::Borrowed(self.data))
    }
    fn offset_table(&self) -> Option<Cow<'_, [u32]>> {
        Some(Cow::Owned(vec![0]))
    }
    fn raw_pixel_data(&self) -> Option<RawPixelData> {
        Some(RawPixelData {
            fragments: std::iter::once(self.data.to_vec()).collect(),
            offset_table: std::iter::once(0).collect(),
        })
    }
}

/// Decodes one frame's compressed bytes to native little-endian samples.
pub(super) fn decode(
    transfer_syntax: &str,
    stored: &Stored,
    compressed: Bytes,
) -> Result<Vec<u8>, PixelError> {
    if transfer_syntax == ENCAPSULATED_UNCOMPRESSED {
        return Ok(compressed.to_vec());
    }
    let unsupported = || PixelError::UnsupportedTransferSyntax(transfer_syntax.to_owned());
    let ts = TransferSyntaxRegistry
        .get(transfer_syntax)
        .ok_or_else(unsupported)?;
    let Codec::EncapsulatedPixelData(Some(reader), _) = ts.codec() else {
        return Err(unsupported());
    };
    let lossy_jpeg = matches!(
        transfer_syntax,
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51"
    );
    if lossy_jpeg {
        // jpeg-decoder has no 12-bit DCT process: those go to dcmtk (by the SOF precision).
        match super::jpeg12::precision(&compressed) {
            Some(12) => return super::jpeg12::decode(stored, &compressed),
            Some(8) | None if stored.bits_stored > 8 => {
                return Err(PixelError::Unsupported(format!(
                    "an 8-bit JPEG for BitsStored {}",
                    stored.bits_stored
                )))
            }
            _ => {}
        }
    }
    if transfer_syntax == RLE {
        check_rle_header(&compressed, stored)?;
    }
    let frame = OneFrame {
        transfer_syntax,
        stored,
        data: &compressed,
    };
    let mut out = Vec::new();
    match catch_unwind(AssertUnwindSafe(|| {
        reader.decode_frame(&frame, 0, &mut out)
    })) {
        Ok(Ok(())) => Ok(out),
        Ok(Err(e)) => Err(PixelError::Decode(e.to_string())),
        Err(_) => Err(PixelError::Decode(
            "the codec failed on malformed data".into(),
        )),
    }
}

/// An RLE frame starts with a 64-byte header: the number of segments (one per byte of
/// each sample) and their offsets, ascending and inside the frame.
fn check_rle_header(frame: &[u8], stored: &Stored) -> Result<(), PixelError> {
    let bad = |why: &str| PixelError::Decode(format!("RLE header: {why}"));
    let header = frame
        .get(..64)
        .ok_or_else(|| bad("shorter than 64 bytes"))?;
    let word = |i: usize| -> u32 {
        header
            .get(i * 4..i * 4 + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0)
    };
    let segments = word(0) as usize;
    let expected = usize::from(stored.samples) * usize::from(stored.bits_allocated / 8);
    if segments != expected || segments > 15 {
        return Err(bad("segment count does not match the pixel description"));
    }
    let mut previous = 63usize;
    for i in 1..=segments {
        let offset = word(i) as usize;
        if offset <= previous || offset > frame.len() {
            return Err(bad("segment offsets out of order or outside the frame"));
        }
        previous = offset;
    }
    Ok(())
}
