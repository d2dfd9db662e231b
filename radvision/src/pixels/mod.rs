//! Pixel data of a stored instance, for DICOMweb frames, rendered images and thumbnails.
//!
//! [`Pixels::parse`] reads a stored Part 10 file (held in memory as [`Bytes`]) up to its
//! Pixel Data with a small bounded walker ([`dataset`]) and checks the pixel description;
//! then, for frame `n` (1-based):
//!
//! - [`Pixels::raw_frame`]: the native pixels as little-endian bytes (8-bit samples as one
//!   byte, 16-bit as two, 32-bit as four; colour interleaved, `YBR_FULL`/`YBR_FULL_422`
//!   converted to RGB; bits above Bits Stored cleared, or sign-extended when Pixel
//!   Representation is 1). Native transfer syntaxes are sliced straight from the file
//!   (no copy for little endian data that needs no fixing, [`native`]); encapsulated ones
//!   are decoded one frame at a time by dicom-transfer-syntax-registry's codecs (JPEG,
//!   JPEG-LS through CharLS, JPEG 2000 through openjp2, RLE; [`codec`]), 12-bit JPEG
//!   Extended by dcmtk's `dcmdjpeg` in a child process ([`jpeg12`]).
//! - [`Pixels::encapsulated_frame`]: the frame's compressed bytes as stored.
//! - [`Pixels::render`]: an 8-bit PNG or JPEG after the Modality LUT, the VOI window and
//!   MONOCHROME1 inversion, scaled to a viewport ([`render`]).
//!
//! Every path is bounded (a whole image over [`MAX_IMAGE_BYTES`] is refused before anything
//! is allocated) and panic-free on malformed input: codec calls run under `catch_unwind`.
//! Error messages name attributes, offsets and sizes, never a value that could identify a
//! patient.

mod codec;
mod dataset;
mod jpeg12;
mod native;
pub mod render;

use std::ops::Range;

use bytes::Bytes;

use dataset::{Dataset, PixelData};
pub use render::{Format, RenderOptions, Rendered, VoiFunction};

/// Largest image (rows × columns × frames × samples × bytes per sample) that is decoded.
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// Why a frame could not be produced. Messages carry no patient data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PixelError {
    #[error("not a DICOM Part 10 file")]
    NotDicom,
    #[error("malformed data set: {0}")]
    Malformed(String),
    #[error("the instance has no pixel data")]
    NoPixelData,
    #[error("missing or invalid {0}")]
    Missing(&'static str),
    #[error("frame {requested} does not exist (the instance has {available})")]
    NoSuchFrame { requested: u32, available: u32 },
    #[error("the pixel data is truncated")]
    Truncated,
    #[error("image too large: {0}")]
    TooLarge(String),
    #[error("pixel data in transfer syntax {0} cannot be decoded")]
    UnsupportedTransferSyntax(String),
    #[error("unsupported pixel description: {0}")]
    Unsupported(String),
    #[error("decoding the frame failed: {0}")]
    Decode(String),
    #[error("encoding the rendered image failed: {0}")]
    Encode(String),
}

/// How the bytes of a frame are to be read (the description after decoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    pub rows: u16,
    pub columns: u16,
    /// 1 (monochrome or palette indices) or 3 (RGB, interleaved).
    pub samples_per_pixel: u16,
    /// 8, 16 or 32: 1, 2 or 4 little-endian bytes per sample.
    pub bits_allocated: u16,
    pub bits_stored: u16,
    /// 0 unsigned, 1 two's complement.
    pub pixel_representation: u16,
    /// After decoding: `MONOCHROME1`, `MONOCHROME2`, `PALETTE COLOR` or `RGB`.
    pub photometric: String,
}

impl FrameInfo {
    pub fn bytes_per_sample(&self) -> usize {
        usize::from(self.bits_allocated / 8)
    }

    /// The size of one frame's native bytes.
    pub fn frame_len(&self) -> usize {
        usize::from(self.rows)
            * usize::from(self.columns)
            * usize::from(self.samples_per_pixel)
            * self.bytes_per_sample()
    }
}

/// One frame's native pixels.
#[derive(Debug, Clone)]
pub struct Frame {
    pub info: FrameInfo,
    /// `info.frame_len()` little-endian bytes, rows top to bottom, planar configuration 0.
    pub data: Bytes,
}

/// The pixel description as stored.
#[derive(Debug, Clone)]
struct Stored {
    rows: u16,
    columns: u16,
    samples: u16,
    bits_allocated: u16,
    bits_stored: u16,
    pixel_representation: u16,
    photometric: String,
    planar: u16,
    frames: u32,
}

/// A parsed stored instance, ready to give its frames.
#[derive(Debug, Clone)]
pub struct Pixels {
    ds: Dataset,
    stored: Stored,
}

/// Frame `n` of `bytes` as native little-endian pixels (see [`Pixels::raw_frame`]).
pub fn raw_frame(bytes: Bytes, n: u32) -> Result<Frame, PixelError> {
    Pixels::parse(bytes)?.raw_frame(n)
}

/// Frame `n` of `bytes` as stored (see [`Pixels::encapsulated_frame`]).
pub fn encapsulated_frame(bytes: Bytes, n: u32) -> Result<Bytes, PixelError> {
    Pixels::parse(bytes)?.encapsulated_frame(n)
}

/// Frame `n` of `bytes` rendered (see [`Pixels::render`]).
pub fn render(bytes: Bytes, n: u32, options: &RenderOptions) -> Result<Rendered, PixelError> {
    Pixels::parse(bytes)?.render(n, options)
}

impl Pixels {
    /// Reads the file meta, the pixel description and where the pixel data is.
    pub fn parse(bytes: Bytes) -> Result<Pixels, PixelError> {
        let ds = dataset::parse(bytes)?;
        if ds.pixels.is_none() {
            return Err(PixelError::NoPixelData);
        }
        let stored = describe(&ds)?;
        Ok(Pixels { ds, stored })
    }

    /// The stored transfer syntax UID.
    pub fn transfer_syntax(&self) -> &str {
        &self.ds.transfer_syntax
    }

    /// Whether the pixel data is encapsulated (compressed fragments).
    pub fn is_encapsulated(&self) -> bool {
        matches!(self.ds.pixels, Some(PixelData::Encapsulated { .. }))
    }

    /// Number of Frames (1 when absent).
    pub fn number_of_frames(&self) -> u32 {
        self.stored.frames
    }

    /// The description of the frames [`Pixels::raw_frame`] gives.
    pub fn frame_info(&self) -> FrameInfo {
        let s = &self.stored;
        let photometric = match (s.samples, s.photometric.as_str()) {
            (3, _) => "RGB".to_owned(),
            (_, "MONOCHROME1" | "PALETTE COLOR") => s.photometric.clone(),
            _ => "MONOCHROME2".to_owned(),
        };
        FrameInfo {
            rows: s.rows,
            columns: s.columns,
            samples_per_pixel: s.samples,
            bits_allocated: s.bits_allocated,
            bits_stored: s.bits_stored,
            pixel_representation: s.pixel_representation,
            photometric,
        }
    }

    /// `n` (1-based) as a 0-based index, or `NoSuchFrame`.
    fn index(&self, n: u32) -> Result<u32, PixelError> {
        if n == 0 || n > self.stored.frames {
            return Err(PixelError::NoSuchFrame {
                requested: n,
                available: self.stored.frames,
            });
        }
        Ok(n - 1)
    }

    /// Frame `n` (1-based) as native little-endian pixels described by [`FrameInfo`].
    pub fn raw_frame(&self, n: u32) -> Result<Frame, PixelError> {
        let index = self.index(n)?;
        let info = self.frame_info();
        let data = match &self.ds.pixels {
            Some(PixelData::Native { range, cut, ow }) => native::frame(
                &self.ds,
                &self.stored,
                &info,
                range.clone(),
                *cut,
                *ow,
                index,
            )?,
            Some(PixelData::Encapsulated { .. }) => {
                let compressed = self.encapsulated_frame(n)?;
                let decoded = codec::decode(&self.ds.transfer_syntax, &self.stored, compressed)?;
                native::after_decoding(&self.ds.transfer_syntax, &self.stored, &info, decoded)?
            }
            None => return Err(PixelError::NoPixelData),
        };
        if data.len() != info.frame_len() {
            return Err(PixelError::Decode(format!(
                "frame is {} bytes, expected {}",
                data.len(),
                info.frame_len()
            )));
        }
        Ok(Frame { info, data })
    }

    /// Frame `n` (1-based) of encapsulated pixel data as stored: its fragments' bytes
    /// joined (one JPEG, JPEG-LS or JPEG 2000 codestream, or one RLE frame). `Unsupported`
    /// for native pixel data.
    pub fn encapsulated_frame(&self, n: u32) -> Result<Bytes, PixelError> {
        let index = self.index(n)?;
        let Some(PixelData::Encapsulated {
            offset_table,
            fragments,
            starts,
            cut,
        }) = &self.ds.pixels
        else {
            return Err(PixelError::Unsupported(
                "the pixel data is not encapsulated".into(),
            ));
        };
        if *cut {
            return Err(PixelError::Truncated);
        }
        let mine = frame_fragments(
            &self.ds,
            offset_table.clone(),
            fragments,
            starts,
            self.stored.frames,
            index,
        )?;
        match mine {
            [] => Err(PixelError::Truncated),
            [one] => Ok(self.ds.data.slice(one.clone())),
            many => {
                let mut out = Vec::with_capacity(many.iter().map(|r| r.len()).sum());
                for r in many {
                    out.extend_from_slice(self.ds.data.get(r.clone()).unwrap_or_default());
                }
                Ok(Bytes::from(out))
            }
        }
    }

    /// Frame `n` (1-based) as an 8-bit PNG or JPEG (see [`render`]).
    pub fn render(&self, n: u32, options: &RenderOptions) -> Result<Rendered, PixelError> {
        let frame = self.raw_frame(n)?;
        render::render(&self.ds, &frame, options)
    }
}

/// Reads and checks the pixel description.
fn describe(ds: &Dataset) -> Result<Stored, PixelError> {
    let rows = ds
        .us(0x0028_0010)
        .filter(|v| *v > 0)
        .ok_or(PixelError::Missing("Rows"))?;
    let columns = ds
        .us(0x0028_0011)
        .filter(|v| *v > 0)
        .ok_or(PixelError::Missing("Columns"))?;
    let samples = ds.us(0x0028_0002).unwrap_or(1);
    let bits_allocated = ds
        .us(0x0028_0100)
        .ok_or(PixelError::Missing("BitsAllocated"))?;
    let bits_stored = ds.us(0x0028_0101).unwrap_or(bits_allocated);
    let pixel_representation = ds.us(0x0028_0103).unwrap_or(0);
    let photometric = ds.text(0x0028_0004).unwrap_or_else(|| {
        if samples == 3 {
            "RGB".into()
        } else {
            "MONOCHROME2".into()
        }
    });
    let planar = ds.us(0x0028_0006).unwrap_or(0);
    let frames = match ds.text(0x0028_0008) {
        None => 1,
        Some(t) => t
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or(PixelError::Missing("NumberOfFrames"))?,
    };
    if !matches!(bits_allocated, 8 | 16 | 32) {
        return Err(PixelError::Unsupported(format!(
            "BitsAllocated {bits_allocated}"
        )));
    }
    if bits_stored == 0 || bits_stored > bits_allocated {
        return Err(PixelError::Missing("BitsStored"));
    }
    if pixel_representation > 1 {
        return Err(PixelError::Missing("PixelRepresentation"));
    }
    match (samples, photometric.as_str()) {
        (1, "MONOCHROME1" | "MONOCHROME2" | "PALETTE COLOR") => {}
        (3, "RGB" | "YBR_FULL" | "YBR_FULL_422" | "YBR_ICT" | "YBR_RCT" | "YBR_PARTIAL_420") => {}
        (1 | 3, other) => {
            return Err(PixelError::Unsupported(format!(
                "PhotometricInterpretation {}",
                other
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(16)
                    .collect::<String>()
            )))
        }
        (s, _) => return Err(PixelError::Unsupported(format!("SamplesPerPixel {s}"))),
    }
    let total = u64::from(rows)
        * u64::from(columns)
        * u64::from(frames)
        * u64::from(samples)
        * u64::from(bits_allocated / 8);
    if total > MAX_IMAGE_BYTES {
        return Err(PixelError::TooLarge(format!(
            "{rows} x {columns} x {frames} frames x {samples} samples x {} bytes is over {} MiB",
            bits_allocated / 8,
            MAX_IMAGE_BYTES >> 20
        )));
    }
    Ok(Stored {
        rows,
        columns,
        samples,
        bits_allocated,
        bits_stored,
        pixel_representation,
        photometric,
        planar,
        frames,
    })
}

/// The fragments of frame `index` (0-based): by the Extended Offset Table, else the Basic
/// Offset Table, else one fragment per frame, else all fragments for a single frame, else by
/// the start-of-codestream markers that begin each frame.
fn frame_fragments<'a>(
    ds: &Dataset,
    offset_table: Range<usize>,
    fragments: &'a [Range<usize>],
    starts: &[u64],
    frames: u32,
    index: u32,
) -> Result<&'a [Range<usize>], PixelError> {
    let index = index as usize;
    let frames = frames as usize;
    let by_offsets = |offsets: &[u64]| -> Option<&'a [Range<usize>]> {
        if offsets.len() != frames || offsets.windows(2).any(|w| w[0] >= w[1]) {
            return None;
        }
        let begin = *offsets.get(index)?;
        let first = starts.iter().position(|s| *s == begin)?;
        let end = match offsets.get(index + 1) {
            Some(next) => starts.iter().position(|s| s == next)?,
            None => fragments.len(),
        };
        fragments.get(first..end)
    };
    if let Some(eot) = ds.extended_offsets() {
        let offsets: Vec<u64> = eot.iter().map(|(o, _)| *o).collect();
        if let Some(f) = by_offsets(&offsets) {
            return Ok(f);
        }
    }
    let bot: Vec<u64> = ds
        .data
        .get(offset_table)
        .unwrap_or_default()
        .chunks_exact(4)
        .filter_map(|c| c.try_into().ok())
        .map(|c| u64::from(u32::from_le_bytes(c)))
        .collect();
    if !bot.is_empty() {
        if let Some(f) = by_offsets(&bot) {
            return Ok(f);
        }
    }
    if fragments.len() == frames {
        return Ok(fragments.get(index..=index).unwrap_or_default());
    }
    if frames == 1 {
        return Ok(fragments);
    }
    // Frames split over several fragments without an offset table: each frame's codestream
    // begins with a start marker (JPEG, JPEG-LS: SOI; JPEG 2000: SOC SIZ, or a JP2 box).
    let begins: Vec<usize> = fragments
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let b = ds.data.get((*r).clone()).unwrap_or_default();
            b.starts_with(&[0xFF, 0xD8])
                || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
                || b.starts_with(&[0, 0, 0, 0x0C, b'j', b'P'])
        })
        .map(|(i, _)| i)
        .collect();
    if begins.len() == frames && begins.first() == Some(&0) {
        let start = begins.get(index).copied().unwrap_or(0);
        let end = begins.get(index + 1).copied().unwrap_or(fragments.len());
        return Ok(fragments.get(start..end).unwrap_or_default());
    }
    Err(PixelError::Malformed(format!(
        "cannot tell which of {} fragments hold frame {}",
        fragments.len(),
        index + 1
    )))
}
