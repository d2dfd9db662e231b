//! Finding the pixel description and the pixel data in a stored Part 10 file, bounded and
//! panic-free: the file meta group for the transfer syntax, then the top-level data set
//! element by element up to Pixel Data. Nested sequences are skipped (their items walked only
//! to find where they end), nothing is allocated from a declared length and every access is
//! checked, like the ingest walker (`ingest::parse`), whose rationale for not running
//! dicom-object on untrusted bytes applies here too. The input is borrowed: values are byte
//! ranges of one [`Bytes`] buffer (the file itself, or the inflated data set of a Deflated
//! Explicit VR Little Endian file), so native frames can be sliced without a copy.

use std::io::Read;
use std::ops::Range;

use bytes::Bytes;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::PixelError;

/// Byte order and VR encoding of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

impl Syntax {
    pub(super) fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Syntax::ExplicitBe => u16::from_be_bytes(b),
            _ => u16::from_le_bytes(b),
        }
    }

    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Syntax::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        }
    }
}

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: u32 = 0xFFFE_E000;
const ITEM_DELIM: u32 = 0xFFFE_E00D;
const SEQ_DELIM: u32 = 0xFFFE_E0DD;
const PIXEL_DATA: u32 = 0x7FE0_0010;
/// Deepest sequence nesting walked (stack safety; ingest refuses deeper files anyway).
const MAX_DEPTH: u32 = 64;
/// Largest inflated data set of a deflated file.
const MAX_INFLATED: u64 = 1 << 30;

pub(super) const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// The attributes kept, by tag (top level only).
pub(super) const WANTED: [u32; 22] = [
    0x0028_0002, // Samples per Pixel
    0x0028_0004, // Photometric Interpretation
    0x0028_0006, // Planar Configuration
    0x0028_0008, // Number of Frames
    0x0028_0010, // Rows
    0x0028_0011, // Columns
    0x0028_0100, // Bits Allocated
    0x0028_0101, // Bits Stored
    0x0028_0102, // High Bit
    0x0028_0103, // Pixel Representation
    0x0028_1050, // Window Center
    0x0028_1051, // Window Width
    0x0028_1052, // Rescale Intercept
    0x0028_1053, // Rescale Slope
    0x0028_1056, // VOI LUT Function
    0x0028_1101, // Red Palette Color LUT Descriptor
    0x0028_1102, // Green Palette Color LUT Descriptor
    0x0028_1103, // Blue Palette Color LUT Descriptor
    0x0028_1201, // Red Palette Color LUT Data
    0x0028_1202, // Green Palette Color LUT Data
    0x0028_1203, // Blue Palette Color LUT Data
    0x7FE0_0001, // Extended Offset Table
];

/// Where the pixel data is.
#[derive(Debug, Clone)]
pub(super) enum PixelData {
    /// A value of defined length: `range` is what is present of it (`cut` when the file ends
    /// before its declared end); `ow` is the VR (it matters for 8-bit big endian data).
    Native {
        range: Range<usize>,
        cut: bool,
        ow: bool,
    },
    /// Encapsulated: the Basic Offset Table's value and each fragment's value, in order;
    /// `starts` are the fragments' item offsets relative to the first fragment's item tag
    /// (what offset tables count in). `cut` when the sequence is not closed.
    Encapsulated {
        offset_table: Range<usize>,
        fragments: Vec<Range<usize>>,
        starts: Vec<u64>,
        cut: bool,
    },
}

/// One parsed file: its transfer syntax, the wanted attributes and the pixel data.
#[derive(Debug, Clone)]
pub(super) struct Dataset {
    pub(super) transfer_syntax: String,
    pub(super) syntax: Syntax,
    /// The buffer the ranges below point into.
    pub(super) data: Bytes,
    found: [Option<Range<usize>>; WANTED.len()],
    /// Extended Offset Table Lengths (7FE0,0002).
    eot_lengths: Option<Range<usize>>,
    pub(super) pixels: Option<PixelData>,
}

impl Dataset {
    /// The raw value of a wanted attribute.
    pub(super) fn get(&self, tag: u32) -> Option<&[u8]> {
        let i = WANTED.iter().position(|t| *t == tag)?;
        let r = self.found.get(i)?.clone()?;
        self.data.get(r)
    }

    /// The first value of a US attribute.
    pub(super) fn us(&self, tag: u32) -> Option<u16> {
        let v = self.get(tag)?;
        Some(self.syntax.u16(v.get(..2)?.try_into().ok()?))
    }

    /// Every value of a US (or SS, reinterpreted) attribute.
    pub(super) fn us_all(&self, tag: u32) -> Vec<u16> {
        self.get(tag)
            .map(|v| {
                v.chunks_exact(2)
                    .filter_map(|c| c.try_into().ok())
                    .map(|c| self.syntax.u16(c))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A text value, trimmed of padding (spaces and NULs).
    pub(super) fn text(&self, tag: u32) -> Option<String> {
        let v = self.get(tag)?;
        let s = String::from_utf8_lossy(v);
        let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
        (!s.is_empty()).then(|| s.to_owned())
    }

    /// The numbers of a DS or IS value (backslash-separated); values that are not finite
    /// numbers are dropped.
    pub(super) fn numbers(&self, tag: u32) -> Vec<f64> {
        self.text(tag)
            .map(|s| {
                s.split('\\')
                    .filter_map(|p| p.trim().parse::<f64>().ok())
                    .filter(|x| x.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The Extended Offset Table's offsets and lengths, when both are present and agree.
    pub(super) fn extended_offsets(&self) -> Option<Vec<(u64, u64)>> {
        let offsets = self.get(0x7FE0_0001)?;
        let lengths = self.data.get(self.eot_lengths.clone()?)?;
        if offsets.len() != lengths.len() || offsets.len() % 8 != 0 || offsets.is_empty() {
            return None;
        }
        let read = |c: &[u8]| -> Option<u64> {
            let b: [u8; 8] = c.try_into().ok()?;
            Some(match self.syntax {
                Syntax::ExplicitBe => u64::from_be_bytes(b),
                _ => u64::from_le_bytes(b),
            })
        };
        offsets
            .chunks_exact(8)
            .zip(lengths.chunks_exact(8))
            .map(|(o, l)| Some((read(o)?, read(l)?)))
            .collect()
    }
}

fn malformed(msg: impl Into<String>) -> PixelError {
    PixelError::Malformed(msg.into())
}

fn arr2(buf: &[u8], pos: usize) -> Option<[u8; 2]> {
    buf.get(pos..pos.checked_add(2)?)?.try_into().ok()
}

fn arr4(buf: &[u8], pos: usize) -> Option<[u8; 4]> {
    buf.get(pos..pos.checked_add(4)?)?.try_into().ok()
}

#[derive(Debug, Clone, Copy)]
struct Header {
    tag: u32,
    vr: Option<[u8; 2]>,
    len: u32,
    size: usize,
}

fn tag_str(tag: u32) -> String {
    format!("({:04X},{:04X})", tag >> 16, tag & 0xFFFF)
}

/// Reads one element (or item) header at `pos`.
fn read_header(buf: &[u8], pos: usize, syntax: Syntax) -> Result<Header, PixelError> {
    let truncated = || malformed(format!("data ends inside an element header at {pos}"));
    let g = syntax.u16(arr2(buf, pos).ok_or_else(truncated)?);
    let e = syntax.u16(arr2(buf, pos.saturating_add(2)).ok_or_else(truncated)?);
    let tag = (u32::from(g) << 16) | u32::from(e);
    if g == 0xFFFE || syntax == Syntax::ImplicitLe {
        let len = syntax.u32(arr4(buf, pos.saturating_add(4)).ok_or_else(truncated)?);
        return Ok(Header {
            tag,
            vr: None,
            len,
            size: 8,
        });
    }
    let vr = arr2(buf, pos.saturating_add(4)).ok_or_else(truncated)?;
    match &vr {
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"UC" | b"UN" | b"UR" | b"UT"
        | b"SV" | b"UV" => {
            let len = syntax.u32(arr4(buf, pos.saturating_add(8)).ok_or_else(truncated)?);
            Ok(Header {
                tag,
                vr: Some(vr),
                len,
                size: 12,
            })
        }
        b"AE" | b"AS" | b"AT" | b"CS" | b"DA" | b"DS" | b"DT" | b"FL" | b"FD" | b"IS" | b"LO"
        | b"LT" | b"PN" | b"SH" | b"SL" | b"SS" | b"ST" | b"TM" | b"UI" | b"UL" | b"US" => {
            let len =
                u32::from(syntax.u16(arr2(buf, pos.saturating_add(6)).ok_or_else(truncated)?));
            Ok(Header {
                tag,
                vr: Some(vr),
                len,
                size: 8,
            })
        }
        _ => Err(malformed(format!("unknown VR for {}", tag_str(tag)))),
    }
}

/// The end of a value of defined length starting at `start`, checked against the buffer.
fn value_end(buf: &[u8], start: usize, len: u32, tag: u32) -> Result<usize, PixelError> {
    start
        .checked_add(len as usize)
        .filter(|end| *end <= buf.len())
        .ok_or_else(|| malformed(format!("{} runs past the end of the data", tag_str(tag))))
}

/// Parses `file` (a whole Part 10 file) as far as the end of its Pixel Data.
pub(super) fn parse(file: Bytes) -> Result<Dataset, PixelError> {
    if file.get(128..132) != Some(b"DICM".as_slice()) {
        return Err(PixelError::NotDicom);
    }
    let (transfer_syntax, meta_end) = read_meta(&file)?;
    let syntax = match transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Syntax::ImplicitLe,
        "1.2.840.10008.1.2.2" => Syntax::ExplicitBe,
        _ => Syntax::ExplicitLe,
    };
    let data = if transfer_syntax == DEFLATED {
        Bytes::from(inflate(file.get(meta_end..).unwrap_or_default())?)
    } else {
        file.slice(meta_end.min(file.len())..)
    };
    let mut ds = Dataset {
        transfer_syntax,
        syntax,
        data,
        found: Default::default(),
        eot_lengths: None,
        pixels: None,
    };
    walk_top_level(&mut ds)?;
    Ok(ds)
}

/// Reads the file meta group (always explicit VR little endian): the transfer syntax and
/// where the data set starts.
fn read_meta(file: &[u8]) -> Result<(String, usize), PixelError> {
    let mut pos = 132;
    let mut ts = None;
    while let Some(g) = arr2(file, pos) {
        if u16::from_le_bytes(g) != 0x0002 {
            break;
        }
        let h = read_header(file, pos, Syntax::ExplicitLe)?;
        if h.len == UNDEFINED {
            return Err(malformed("undefined length in the file meta group"));
        }
        let start = pos + h.size;
        let end = value_end(file, start, h.len, h.tag)?;
        if h.tag == 0x0002_0010 {
            let raw = file.get(start..end).unwrap_or_default();
            let s = String::from_utf8_lossy(raw);
            ts = Some(s.trim_matches(|c: char| c == ' ' || c == '\0').to_owned());
        }
        pos = end;
    }
    let ts = ts
        .filter(|t| !t.is_empty())
        .ok_or(PixelError::Missing("TransferSyntaxUID"))?;
    Ok((ts, pos))
}

/// Inflates a deflated data set (at most [`MAX_INFLATED`] bytes).
fn inflate(body: &[u8]) -> Result<Vec<u8>, PixelError> {
    let ts = TransferSyntaxRegistry
        .get(DEFLATED)
        .ok_or_else(|| PixelError::UnsupportedTransferSyntax(DEFLATED.into()))?;
    let Codec::Dataset(Some(adapter)) = ts.codec() else {
        return Err(PixelError::UnsupportedTransferSyntax(DEFLATED.into()));
    };
    let reader = adapter.adapt_reader(Box::new(body));
    let mut out = Vec::new();
    reader
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|_| malformed("invalid deflate stream"))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(PixelError::TooLarge(
            "the inflated data set exceeds 1 GiB".into(),
        ));
    }
    Ok(out)
}

fn walk_top_level(ds: &mut Dataset) -> Result<(), PixelError> {
    let buf = ds.data.clone();
    let syntax = ds.syntax;
    let mut pos = 0;
    while pos < buf.len() {
        let h = read_header(&buf, pos, syntax)?;
        let start = pos + h.size;
        if h.tag == PIXEL_DATA {
            ds.pixels = Some(pixel_data(&buf, start, h, syntax)?);
            return Ok(());
        }
        if h.tag > PIXEL_DATA {
            // Trailing padding or private groups after where Pixel Data would be.
            return Ok(());
        }
        if h.len == UNDEFINED {
            // Only sequences (and UN holding one) may have an undefined length here.
            let inner = match h.vr {
                Some(vr) if vr == *b"UN" => Syntax::ImplicitLe,
                Some(vr) if vr != *b"SQ" => {
                    return Err(malformed(format!("undefined length on {}", tag_str(h.tag))))
                }
                _ => syntax,
            };
            pos = skip_sequence(&buf, start, inner, 1)?;
            continue;
        }
        let end = value_end(&buf, start, h.len, h.tag)?;
        if let Some(i) = WANTED.iter().position(|t| *t == h.tag) {
            if let Some(slot) = ds.found.get_mut(i) {
                *slot = Some(start..end);
            }
        } else if h.tag == 0x7FE0_0002 {
            ds.eot_lengths = Some(start..end);
        }
        pos = end;
    }
    Ok(())
}

/// Skips the items of a sequence of undefined length starting at `pos` (just after its
/// header); returns the position after its delimiter.
fn skip_sequence(
    buf: &[u8],
    mut pos: usize,
    syntax: Syntax,
    depth: u32,
) -> Result<usize, PixelError> {
    if depth > MAX_DEPTH {
        return Err(malformed("sequences nested too deeply"));
    }
    loop {
        let h = read_header(buf, pos, syntax)?;
        let start = pos + h.size;
        match h.tag {
            SEQ_DELIM => return Ok(start),
            ITEM if h.len == UNDEFINED => pos = skip_item(buf, start, syntax, depth)?,
            ITEM => pos = value_end(buf, start, h.len, h.tag)?,
            _ => return Err(malformed(format!("{} inside a sequence", tag_str(h.tag)))),
        }
    }
}

/// Skips the elements of an item of undefined length; returns the position after its
/// delimiter.
fn skip_item(buf: &[u8], mut pos: usize, syntax: Syntax, depth: u32) -> Result<usize, PixelError> {
    loop {
        let h = read_header(buf, pos, syntax)?;
        let start = pos + h.size;
        if h.tag == ITEM_DELIM {
            return Ok(start);
        }
        if h.len == UNDEFINED {
            let inner = match h.vr {
                Some(vr) if vr == *b"UN" => Syntax::ImplicitLe,
                _ => syntax,
            };
            pos = skip_sequence(buf, start, inner, depth + 1)?;
        } else {
            pos = value_end(buf, start, h.len, h.tag)?;
        }
    }
}

/// The Pixel Data element whose header `h` ends at `start`.
fn pixel_data(
    buf: &[u8],
    start: usize,
    h: Header,
    syntax: Syntax,
) -> Result<PixelData, PixelError> {
    if h.len != UNDEFINED {
        let declared_end = start.saturating_add(h.len as usize);
        let end = declared_end.min(buf.len());
        return Ok(PixelData::Native {
            range: start.min(end)..end,
            cut: declared_end > buf.len(),
            ow: h.vr.is_none_or(|vr| vr == *b"OW"),
        });
    }
    // Encapsulated: items (Basic Offset Table first), then the sequence delimiter.
    let mut pos = start;
    let mut offset_table = None;
    let mut fragments = Vec::new();
    let mut starts = Vec::new();
    let mut first_fragment = None;
    loop {
        let Ok(item) = read_header(buf, pos, syntax) else {
            return finish(offset_table, fragments, starts, true);
        };
        let vstart = pos + item.size;
        match item.tag {
            SEQ_DELIM => return finish(offset_table, fragments, starts, false),
            ITEM if item.len != UNDEFINED => {
                let declared_end = vstart.saturating_add(item.len as usize);
                let cut = declared_end > buf.len();
                let range = vstart.min(buf.len())..declared_end.min(buf.len());
                if offset_table.is_none() {
                    offset_table = Some(range);
                } else {
                    let first = *first_fragment.get_or_insert(pos);
                    starts.push((pos - first) as u64);
                    fragments.push(range);
                }
                if cut {
                    return finish(offset_table, fragments, starts, true);
                }
                pos = declared_end;
            }
            _ => {
                return Err(malformed(format!(
                    "{} inside encapsulated pixel data",
                    tag_str(item.tag)
                )))
            }
        }
    }
}

fn finish(
    offset_table: Option<Range<usize>>,
    fragments: Vec<Range<usize>>,
    starts: Vec<u64>,
    cut: bool,
) -> Result<PixelData, PixelError> {
    Ok(PixelData::Encapsulated {
        offset_table: offset_table.unwrap_or(0..0),
        fragments,
        starts,
        cut,
    })
}
