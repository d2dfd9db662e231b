//! Parsing and validating one DICOM Part 10 instance from a byte slice, bounded and
//! panic-free.
//!
//! Enkaku walks the data set with its own small reader instead of dicom-object, because
//! dicom-object 0.10.1 (dicom-parser) does not fit untrusted input here:
//!
//! - it allocates (and zero-fills) a value's *declared* length before reading it, so a
//!   200-byte file declaring a 4 GB value costs 4 GB of memory before the read fails;
//! - it decodes text with only the first value of Specific Character Set, keeps ISO 2022
//!   escape sequences and splits strings on byte 0x5C even inside two-byte kanji, so the raw
//!   bytes Enkaku needs for [`super::charset`] are gone after parsing;
//! - it has no limit on sequence nesting (recursion depth).
//!
//! The walker checks every length against the bytes actually present, allows undefined
//! lengths only on sequences, items, UN (read as implicit VR sequences, CP-246) and
//! encapsulated pixel data, bounds nesting by [`Limits::max_sequence_depth`], never
//! allocates from a declared length, and only uses checked slice access. It borrows the
//! input (no copy), except for Deflated Explicit VR Little Endian, which is inflated once,
//! through dicom-transfer-syntax-registry's adapter, up to [`Limits::max_instance_bytes`].
//! Since dicom-object is not run on the input, no `catch_unwind` guard is needed.
//!
//! Only the top-level attributes that [`ParsedInstance`] needs are kept (as raw byte
//! slices); nested items are validated and skipped.

use std::borrow::Cow;
use std::io::Read;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::charset::{self, SpecificCharacterSet};
use super::model::{ParsedInstance, PersonName, Reject};

/// Bounds applied to every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file (and largest inflated data set for deflate).
    pub max_instance_bytes: u64,
    /// Largest accepted Rows or Columns.
    pub max_rows_columns: u16,
    /// Largest accepted Number of Frames.
    pub max_frames: u32,
    /// Deepest accepted sequence nesting (a top-level sequence is depth 1).
    pub max_sequence_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_instance_bytes: 1 << 30,
            max_rows_columns: 16384,
            max_frames: 10_000,
            max_sequence_depth: 16,
        }
    }
}

/// Hard cap on recursion whatever the configured limit (stack safety).
const HARD_MAX_DEPTH: u32 = 64;

/// Accepted transfer syntaxes: UID, name, whether pixel data is encapsulated.
pub const TRANSFER_SYNTAXES: &[(&str, &str, bool)] = &[
    ("1.2.840.10008.1.2", "Implicit VR Little Endian", false),
    ("1.2.840.10008.1.2.1", "Explicit VR Little Endian", false),
    (
        "1.2.840.10008.1.2.1.99",
        "Deflated Explicit VR Little Endian",
        false,
    ),
    (
        "1.2.840.10008.1.2.2",
        "Explicit VR Big Endian (retired)",
        false,
    ),
    ("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", true),
    (
        "1.2.840.10008.1.2.4.51",
        "JPEG Extended (Process 2 & 4)",
        true,
    ),
    ("1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)", true),
    ("1.2.840.10008.1.2.4.70", "JPEG Lossless SV1", true),
    ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", true),
    ("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless", true),
    ("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless", true),
    ("1.2.840.10008.1.2.4.91", "JPEG 2000", true),
    ("1.2.840.10008.1.2.4.201", "HTJ2K Lossless", true),
    ("1.2.840.10008.1.2.4.202", "HTJ2K Lossless RPCL", true),
    ("1.2.840.10008.1.2.4.203", "HTJ2K", true),
    ("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", true),
    (
        "1.2.840.10008.1.2.4.111",
        "JPEG XL JPEG Recompression",
        true,
    ),
    ("1.2.840.10008.1.2.4.112", "JPEG XL", true),
    ("1.2.840.10008.1.2.5", "RLE Lossless", true),
];

/// Accepted storage SOP classes: UID, name, whether instances must carry Pixel Data.
pub const SOP_CLASSES: &[(&str, &str, bool)] = &[
    ("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage", true),
    (
        "1.2.840.10008.5.1.4.1.1.2.1",
        "Enhanced CT Image Storage",
        true,
    ),
    ("1.2.840.10008.5.1.4.1.1.4", "MR Image Storage", true),
    (
        "1.2.840.10008.5.1.4.1.1.4.1",
        "Enhanced MR Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1",
        "Computed Radiography Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.1",
        "Digital X-Ray Image Storage - For Presentation",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.1.1",
        "Digital X-Ray Image Storage - For Processing",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.2",
        "Digital Mammography X-Ray Image Storage - For Presentation",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.2.1",
        "Digital Mammography X-Ray Image Storage - For Processing",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.13.1.3",
        "Breast Tomosynthesis Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.6.1",
        "Ultrasound Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.3.1",
        "Ultrasound Multi-frame Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.20",
        "Nuclear Medicine Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.128",
        "Positron Emission Tomography Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.130",
        "Enhanced PET Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.12.1",
        "X-Ray Angiographic Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.12.2",
        "X-Ray Radiofluoroscopic Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7",
        "Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.1",
        "Multi-frame Single Bit Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.2",
        "Multi-frame Grayscale Byte Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.3",
        "Multi-frame Grayscale Word Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.4",
        "Multi-frame True Color Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.11",
        "Basic Text SR Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.22",
        "Enhanced SR Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.33",
        "Comprehensive SR Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.59",
        "Key Object Selection Document Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.104.1",
        "Encapsulated PDF Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.11.1",
        "Grayscale Softcopy Presentation State Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.4",
        "VL Photographic Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.5.1",
        "Ophthalmic Photography 8 Bit Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.5.2",
        "Ophthalmic Photography 16 Bit Image Storage",
        true,
    ),
];

/// Whether a string is a valid DICOM UID (PS3.5 9.1): 1–64 characters, dot-separated
/// numeric components, no leading zero except the single digit `0`.
pub fn is_valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c == "0" || !c.starts_with('0'))
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

impl Syntax {
    fn u16(self, b: [u8; 2]) -> u16 {
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

fn malformed(msg: impl Into<String>) -> Reject {
    Reject::Malformed(msg.into())
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
fn read_header(buf: &[u8], pos: usize, syntax: Syntax) -> Result<Header, Reject> {
    let truncated = || {
        malformed(format!(
            "data ends inside an element header at offset {pos}"
        ))
    };
    let g = syntax.u16(arr2(buf, pos).ok_or_else(truncated)?);
    let e = syntax.u16(arr2(buf, pos + 2).ok_or_else(truncated)?);
    let tag = (u32::from(g) << 16) | u32::from(e);
    if g == 0xFFFE || syntax == Syntax::ImplicitLe {
        let len = syntax.u32(arr4(buf, pos + 4).ok_or_else(truncated)?);
        return Ok(Header {
            tag,
            vr: None,
            len,
            size: 8,
        });
    }
    let vr = arr2(buf, pos + 4).ok_or_else(truncated)?;
    match &vr {
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"UC" | b"UN" | b"UR" | b"UT"
        | b"SV" | b"UV" => {
            let len = syntax.u32(arr4(buf, pos + 8).ok_or_else(truncated)?);
            Ok(Header {
                tag,
                vr: Some(vr),
                len,
                size: 12,
            })
        }
        b"AE" | b"AS" | b"AT" | b"CS" | b"DA" | b"DS" | b"DT" | b"FL" | b"FD" | b"IS" | b"LO"
        | b"LT" | b"PN" | b"SH" | b"SL" | b"SS" | b"ST" | b"TM" | b"UI" | b"UL" | b"US" => {
            let len = u32::from(syntax.u16(arr2(buf, pos + 6).ok_or_else(truncated)?));
            Ok(Header {
                tag,
                vr: Some(vr),
                len,
                size: 8,
            })
        }
        _ => Err(malformed(format!(
            "unknown VR {:02X}{:02X} for {}",
            vr[0],
            vr[1],
            tag_str(tag)
        ))),
    }
}

/// What the top level of the data set declares about Pixel Data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pixels {
    Absent,
    /// Native: declared length and whether it runs past the end of the data.
    Native {
        declared: u64,
        cut: bool,
    },
    /// Encapsulated: number of items (offset table included) and whether it is cut off.
    Encapsulated {
        items: u64,
        cut: bool,
    },
}

/// The top-level attributes kept, as raw value bytes.
const WANTED: &[u32] = &[
    0x0008_0005, // SpecificCharacterSet
    0x0008_0016, // SOPClassUID
    0x0008_0018, // SOPInstanceUID
    0x0008_0020, // StudyDate
    0x0008_0030, // StudyTime
    0x0008_0050, // AccessionNumber
    0x0008_0060, // Modality
    0x0008_0090, // ReferringPhysicianName
    0x0008_1030, // StudyDescription
    0x0008_103E, // SeriesDescription
    0x0010_0010, // PatientName
    0x0010_0020, // PatientID
    0x0010_0030, // PatientBirthDate
    0x0010_0040, // PatientSex
    0x0018_0015, // BodyPartExamined
    0x0020_000D, // StudyInstanceUID
    0x0020_000E, // SeriesInstanceUID
    0x0020_0011, // SeriesNumber
    0x0020_0013, // InstanceNumber
    0x0028_0002, // SamplesPerPixel
    0x0028_0004, // PhotometricInterpretation
    0x0028_0008, // NumberOfFrames
    0x0028_0010, // Rows
    0x0028_0011, // Columns
    0x0028_0100, // BitsAllocated
];

struct Walker<'a> {
    max_depth: u32,
    found: [Option<&'a [u8]>; WANTED.len()],
    pixels: Pixels,
}

impl<'a> Walker<'a> {
    /// Walks a data set in `buf` from `pos`. With `until_delim`, stops after an item
    /// delimitation item (undefined-length item); otherwise at the end of `buf`.
    /// Returns the position after the data set.
    fn dataset(
        &mut self,
        buf: &'a [u8],
        mut pos: usize,
        syntax: Syntax,
        depth: u32,
        until_delim: bool,
    ) -> Result<usize, Reject> {
        let top = depth == 0;
        loop {
            if pos >= buf.len() {
                if until_delim {
                    return Err(malformed("item without delimitation item"));
                }
                return Ok(pos);
            }
            let h = read_header(buf, pos, syntax)?;
            pos += h.size;
            match h.tag {
                ITEM_DELIM if until_delim => return Ok(pos),
                ITEM_DELIM | SEQ_DELIM if top && h.len == 0 => {
                    tracing::debug!("stray delimitation item at top level ignored");
                    continue;
                }
                ITEM | ITEM_DELIM | SEQ_DELIM => {
                    return Err(malformed(format!(
                        "unexpected {} at offset {}",
                        tag_str(h.tag),
                        pos - h.size
                    )))
                }
                _ => {}
            }
            let vr_sq = match h.vr {
                Some(vr) => &vr == b"SQ",
                None => dictionary_is_sq(h.tag),
            };
            let is_un = matches!(h.vr, Some(vr) if &vr == b"UN");
            if h.len == UNDEFINED {
                if h.tag == PIXEL_DATA && !vr_sq {
                    pos = self.fragments(buf, pos, syntax, top)?;
                } else if vr_sq || is_un || (h.vr.is_none() && !is_known_non_sq(h.tag)) {
                    // UN of undefined length is an implicit VR LE sequence (CP-246).
                    let item_syntax = if is_un { Syntax::ImplicitLe } else { syntax };
                    pos = self.sequence(buf, pos, item_syntax, depth + 1, None)?;
                } else {
                    return Err(malformed(format!(
                        "undefined length on non-sequence element {}",
                        tag_str(h.tag)
                    )));
                }
                continue;
            }
            let len = h.len as usize;
            let end = pos.checked_add(len).filter(|&e| e <= buf.len());
            let Some(end) = end else {
                if top && h.tag == PIXEL_DATA {
                    self.pixels = Pixels::Native {
                        declared: u64::from(h.len),
                        cut: true,
                    };
                    return Ok(buf.len());
                }
                return Err(malformed(format!(
                    "length of {} at offset {} runs past the end of the data",
                    tag_str(h.tag),
                    pos - h.size
                )));
            };
            if vr_sq {
                let sub = buf.get(..end).ok_or_else(|| malformed("sequence bounds"))?;
                self.sequence(sub, pos, syntax, depth + 1, Some(end))?;
            } else if top {
                if h.tag == PIXEL_DATA {
                    self.pixels = Pixels::Native {
                        declared: u64::from(h.len),
                        cut: false,
                    };
                } else if let Ok(i) = WANTED.binary_search(&h.tag) {
                    if let Some(slot) = self.found.get_mut(i) {
                        if slot.is_none() {
                            *slot = buf.get(pos..end);
                        }
                    }
                }
            }
            pos = end;
        }
    }

    /// Walks the items of a sequence starting at `pos`; `end` is `Some` for a defined
    /// length (then `buf` ends there). Returns the position after the sequence.
    fn sequence(
        &mut self,
        buf: &'a [u8],
        mut pos: usize,
        syntax: Syntax,
        depth: u32,
        end: Option<usize>,
    ) -> Result<usize, Reject> {
        if depth > self.max_depth {
            return Err(malformed(format!(
                "sequences nested deeper than {}",
                self.max_depth
            )));
        }
        loop {
            if pos >= buf.len() {
                return match end {
                    Some(_) => Ok(pos),
                    None => Err(malformed("sequence without delimitation item")),
                };
            }
            let h = read_header(buf, pos, syntax)?;
            pos += h.size;
            match h.tag {
                ITEM if h.len == UNDEFINED => {
                    pos = self.dataset(buf, pos, syntax, depth, true)?;
                }
                ITEM => {
                    let item_end = pos
                        .checked_add(h.len as usize)
                        .filter(|&e| e <= buf.len())
                        .ok_or_else(|| malformed("item length runs past its sequence"))?;
                    let sub = buf
                        .get(..item_end)
                        .ok_or_else(|| malformed("item bounds"))?;
                    self.dataset(sub, pos, syntax, depth, false)?;
                    pos = item_end;
                }
                SEQ_DELIM if end.is_none() => return Ok(pos),
                _ => {
                    return Err(malformed(format!(
                        "expected an item in a sequence, found {}",
                        tag_str(h.tag)
                    )))
                }
            }
        }
    }

    /// Walks encapsulated pixel data fragments (PS3.5 A.4).
    fn fragments(
        &mut self,
        buf: &'a [u8],
        mut pos: usize,
        syntax: Syntax,
        top: bool,
    ) -> Result<usize, Reject> {
        let mut items = 0u64;
        loop {
            let cut = |this: &mut Self| -> Result<usize, Reject> {
                if top {
                    this.pixels = Pixels::Encapsulated { items, cut: true };
                    Ok(buf.len())
                } else {
                    Err(malformed(
                        "encapsulated pixel data runs past the end of the data",
                    ))
                }
            };
            if pos >= buf.len() {
                return cut(self);
            }
            let h = match read_header(buf, pos, syntax) {
                Ok(h) => h,
                Err(_) => return cut(self),
            };
            pos += h.size;
            match h.tag {
                ITEM if h.len != UNDEFINED => {
                    match pos.checked_add(h.len as usize).filter(|&e| e <= buf.len()) {
                        Some(e) => pos = e,
                        None => return cut(self),
                    }
                    items += 1;
                }
                SEQ_DELIM => {
                    if top {
                        self.pixels = Pixels::Encapsulated { items, cut: false };
                    }
                    return Ok(pos);
                }
                _ => {
                    return Err(malformed(format!(
                        "invalid {} in encapsulated pixel data",
                        tag_str(h.tag)
                    )))
                }
            }
        }
    }

    fn get(&self, tag: u32) -> Option<&'a [u8]> {
        let i = WANTED.binary_search(&tag).ok()?;
        self.found.get(i).copied().flatten()
    }
}

fn dictionary_is_sq(tag: u32) -> bool {
    let t = Tag((tag >> 16) as u16, (tag & 0xFFFF) as u16);
    matches!(
        StandardDataDictionary.by_tag(t).map(|e| e.vr()),
        Some(VirtualVr::Exact(VR::SQ))
    )
}

/// A standard attribute known not to be a sequence (implicit VR).
fn is_known_non_sq(tag: u32) -> bool {
    let t = Tag((tag >> 16) as u16, (tag & 0xFFFF) as u16);
    match StandardDataDictionary.by_tag(t).map(|e| e.vr()) {
        Some(VirtualVr::Exact(VR::SQ)) | None => false,
        Some(_) => true,
    }
}

/// File meta information: the raw values kept.
struct Meta<'a> {
    sop_class: Option<&'a [u8]>,
    sop_instance: Option<&'a [u8]>,
    transfer_syntax: Option<&'a [u8]>,
    end: usize,
}

fn read_meta(data: &[u8]) -> Result<Meta<'_>, Reject> {
    let start = 132usize;
    let first = read_header(data, start, Syntax::ExplicitLe)
        .map_err(|_| malformed("file meta information is truncated"))?;
    let bound = if first.tag == 0x0002_0000 && first.len == 4 {
        let glen = arr4(data, start + first.size)
            .map(u32::from_le_bytes)
            .ok_or_else(|| malformed("file meta information is truncated"))?;
        let end = (start + first.size + 4)
            .checked_add(glen as usize)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| malformed("file meta group length runs past the end of the data"))?;
        Some(end)
    } else {
        tracing::debug!("file meta information without a group length");
        None
    };
    let limit = bound.unwrap_or(data.len());
    let mut meta = Meta {
        sop_class: None,
        sop_instance: None,
        transfer_syntax: None,
        end: start,
    };
    let mut pos = start;
    while pos < limit {
        if bound.is_none() {
            // Without a group length, meta ends at the first non-0002 group.
            match arr2(data, pos).map(u16::from_le_bytes) {
                Some(0x0002) => {}
                _ => break,
            }
        }
        let h = read_header(data, pos, Syntax::ExplicitLe)?;
        if h.tag >> 16 != 0x0002 {
            return Err(malformed(format!(
                "{} inside the file meta group",
                tag_str(h.tag)
            )));
        }
        if h.len == UNDEFINED {
            return Err(malformed("undefined length in the file meta group"));
        }
        let vstart = pos + h.size;
        let vend = vstart
            .checked_add(h.len as usize)
            .filter(|&e| e <= limit)
            .ok_or_else(|| malformed("file meta element runs past the meta group"))?;
        let value = data.get(vstart..vend);
        match h.tag {
            0x0002_0002 => meta.sop_class = value,
            0x0002_0003 => meta.sop_instance = value,
            0x0002_0010 => meta.transfer_syntax = value,
            _ => {}
        }
        pos = vend;
    }
    meta.end = pos;
    Ok(meta)
}

fn uid_of(raw: Option<&[u8]>, name: &'static str) -> Result<String, Reject> {
    let raw = raw.ok_or(Reject::Missing(name))?;
    let s = charset::decode_default(raw);
    if s.is_empty() {
        return Err(Reject::Missing(name));
    }
    if !is_valid_uid(&s) {
        return Err(Reject::BadUid(name));
    }
    Ok(s.into_owned())
}

/// Parses DA (`YYYYMMDD`, tolerating `YYYY.MM.DD` and `YYYY-MM-DD`); invalid → `None`.
pub fn parse_date(raw: &[u8]) -> Option<chrono::NaiveDate> {
    let s = charset::decode_default(raw);
    let digits: String = match s.len() {
        8 => s.to_string(),
        10 => {
            let b = s.as_bytes();
            let sep = *b.get(4)?;
            if (sep != b'.' && sep != b'-') || b.get(7) != Some(&sep) {
                return None;
            }
            s.chars().filter(|c| *c != char::from(sep)).collect()
        }
        _ => return None,
    };
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = digits.get(0..4)?.parse().ok()?;
    let m = digits.get(4..6)?.parse().ok()?;
    let d = digits.get(6..8)?.parse().ok()?;
    chrono::NaiveDate::from_ymd_opt(y, m, d)
}

fn parse_is(raw: Option<&[u8]>) -> Option<i64> {
    let s = charset::decode_default(raw?);
    let s = s.strip_prefix('+').unwrap_or(&s);
    s.parse().ok()
}

fn read_us(raw: Option<&[u8]>, syntax: Syntax) -> Option<u16> {
    raw.and_then(|r| arr2(r, 0)).map(|b| syntax.u16(b))
}

/// Decoded text fields and their problems.
struct TextDecoder {
    cs: SpecificCharacterSet,
    problems: Vec<String>,
}

impl TextDecoder {
    fn note(&mut self, field: &str, problem: Option<String>) {
        if let Some(p) = problem {
            if self.problems.len() < 4 {
                self.problems.push(format!("{field}: {p}"));
            }
        }
    }
    fn text(&mut self, raw: Option<&[u8]>, field: &str) -> String {
        let Some(raw) = raw else {
            return String::new();
        };
        let (s, p) = charset::decode_text(raw, &self.cs);
        self.note(field, p);
        s.trim_matches(|c: char| c == ' ' || c == '\0').to_string()
    }
    fn name(&mut self, raw: Option<&[u8]>, field: &str) -> PersonName {
        let Some(raw) = raw else {
            return PersonName::default();
        };
        let (n, p) = charset::decode_person_name(raw, &self.cs);
        self.note(field, p);
        n
    }
}

fn code_string(raw: Option<&[u8]>) -> String {
    raw.map(|r| charset::decode_default(r).into_owned())
        .unwrap_or_default()
}

/// Parses and validates a DICOM Part 10 file held in memory.
pub fn parse_instance(data: &[u8], limits: &Limits) -> Result<ParsedInstance, Reject> {
    if data.len() as u64 > limits.max_instance_bytes {
        return Err(Reject::TooLarge(limits.max_instance_bytes));
    }
    let (preamble, rest) = data
        .split_at_checked(128)
        .ok_or_else(|| Reject::NotDicom("shorter than a Part 10 preamble".into()))?;
    if rest.get(..4) != Some(b"DICM".as_slice()) {
        return Err(Reject::NotDicom("no DICM prefix after the preamble".into()));
    }
    if preamble.iter().any(|&b| b != 0) {
        // Preamble content is never interpreted (it may hold a TIFF header, or something
        // hostile); only noted.
        tracing::debug!(
            first_bytes = ?preamble.get(..8),
            "non-zero Part 10 preamble ignored"
        );
    }
    let meta = read_meta(data)?;
    let ts = charset::decode_default(
        meta.transfer_syntax
            .ok_or(Reject::Missing("TransferSyntaxUID"))?,
    )
    .into_owned();
    if ts.is_empty() {
        return Err(Reject::Missing("TransferSyntaxUID"));
    }
    let Some(&(ts_uid, _, encapsulated)) = TRANSFER_SYNTAXES.iter().find(|(u, _, _)| *u == ts)
    else {
        return Err(Reject::UnsupportedTransferSyntax(
            ts.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect(),
        ));
    };
    let syntax = match ts_uid {
        "1.2.840.10008.1.2" => Syntax::ImplicitLe,
        "1.2.840.10008.1.2.2" => Syntax::ExplicitBe,
        _ => Syntax::ExplicitLe,
    };
    let body = data.get(meta.end..).unwrap_or_default();
    let dataset: Cow<'_, [u8]> = if ts_uid == "1.2.840.10008.1.2.1.99" {
        Cow::Owned(inflate(body, limits.max_instance_bytes)?)
    } else {
        Cow::Borrowed(body)
    };

    let mut w = Walker {
        max_depth: limits.max_sequence_depth.min(HARD_MAX_DEPTH),
        found: [None; WANTED.len()],
        pixels: Pixels::Absent,
    };
    w.dataset(&dataset, 0, syntax, 0, false)?;

    // SOP class: file meta, cross-checked with the data set.
    let sop_class = uid_of(meta.sop_class, "MediaStorageSOPClassUID")?;
    let ds_class = uid_of(w.get(0x0008_0016), "SOPClassUID")?;
    if ds_class != sop_class {
        return Err(malformed(
            "SOP Class UID differs between file meta and data set",
        ));
    }
    let Some(&(_, _, needs_pixels)) = SOP_CLASSES.iter().find(|(u, _, _)| *u == sop_class) else {
        return Err(Reject::UnsupportedSopClass(sop_class));
    };
    let sop_instance = uid_of(w.get(0x0008_0018), "SOPInstanceUID")?;
    if let Some(raw) = meta.sop_instance {
        let m = charset::decode_default(raw);
        if !m.is_empty() && m != sop_instance {
            return Err(malformed(
                "SOP Instance UID differs between file meta and data set",
            ));
        }
    }
    let study_uid = uid_of(w.get(0x0020_000D), "StudyInstanceUID")?;
    let series_uid = uid_of(w.get(0x0020_000E), "SeriesInstanceUID")?;

    // Dimensions.
    let rows = read_us(w.get(0x0028_0010), syntax);
    let columns = read_us(w.get(0x0028_0011), syntax);
    for (name, v) in [("Rows", rows), ("Columns", columns)] {
        if let Some(v) = v {
            if v == 0 || v > limits.max_rows_columns {
                return Err(Reject::AbsurdDimensions(format!(
                    "{name} {v} (limit {})",
                    limits.max_rows_columns
                )));
            }
        }
    }
    let number_of_frames = match w.get(0x0028_0008) {
        Some(raw) if !charset::trim_bytes(raw).is_empty() => {
            let n = parse_is(Some(raw)).ok_or_else(|| {
                Reject::AbsurdDimensions("NumberOfFrames is not an integer".into())
            })?;
            if n < 1 || n > i64::from(limits.max_frames) {
                return Err(Reject::AbsurdDimensions(format!(
                    "NumberOfFrames {n} (limit {})",
                    limits.max_frames
                )));
            }
            u32::try_from(n).ok()
        }
        _ => None,
    };
    check_pixels(
        &w,
        syntax,
        encapsulated,
        needs_pixels,
        rows,
        columns,
        number_of_frames,
    )?;

    // Text.
    let cs_raw = w.get(0x0008_0005).unwrap_or_default();
    let cs = SpecificCharacterSet::from_raw(cs_raw);
    let specific_character_set = cs.declared().to_string();
    let mut t = TextDecoder {
        cs,
        problems: Vec::new(),
    };
    let patient_id = t.text(w.get(0x0010_0020), "PatientID");
    let patient_name = t.name(w.get(0x0010_0010), "PatientName");
    let referring_physician = t.name(w.get(0x0008_0090), "ReferringPhysicianName");
    let accession_number = t.text(w.get(0x0008_0050), "AccessionNumber");
    let study_description = t.text(w.get(0x0008_1030), "StudyDescription");
    let series_description = t.text(w.get(0x0008_103E), "SeriesDescription");
    let charset_problem = if t.problems.is_empty() {
        None
    } else {
        Some(t.problems.join("; "))
    };
    let patient_sex = match code_string(w.get(0x0010_0040))
        .to_ascii_uppercase()
        .as_str()
    {
        s @ ("M" | "F" | "O") => s.to_string(),
        _ => String::new(),
    };
    let study_time = code_string(w.get(0x0008_0030));
    let study_time = if study_time
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b':')
    {
        study_time
    } else {
        String::new()
    };

    Ok(ParsedInstance {
        sop_class_uid: sop_class,
        sop_instance_uid: sop_instance,
        study_instance_uid: study_uid,
        series_instance_uid: series_uid,
        transfer_syntax_uid: ts_uid.to_string(),
        patient_id,
        patient_name,
        patient_birth_date: w.get(0x0010_0030).and_then(parse_date),
        patient_sex,
        study_date: w.get(0x0008_0020).and_then(parse_date),
        study_time,
        accession_number,
        study_description,
        referring_physician,
        modality: code_string(w.get(0x0008_0060)),
        body_part_examined: code_string(w.get(0x0018_0015)),
        series_number: parse_is(w.get(0x0020_0011)).and_then(|n| i32::try_from(n).ok()),
        series_description,
        instance_number: parse_is(w.get(0x0020_0013)).and_then(|n| i32::try_from(n).ok()),
        rows,
        columns,
        number_of_frames,
        specific_character_set,
        charset_problem,
    })
}

fn check_pixels(
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
fn inflate(body: &[u8], max: u64) -> Result<Vec<u8>, Reject> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids() {
        assert!(is_valid_uid("1.2.840.10008.1.2"));
        assert!(is_valid_uid("1.2.0.3"));
        assert!(!is_valid_uid("1.2.03"));
        assert!(!is_valid_uid("1..2"));
        assert!(!is_valid_uid("1.2."));
        assert!(!is_valid_uid(""));
        assert!(!is_valid_uid("1.2.abc"));
        assert!(!is_valid_uid(&format!("1.{}", "2".repeat(63))));
        assert!(is_valid_uid(&format!("1.{}", "2".repeat(62))));
    }

    #[test]
    fn dates() {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 29);
        assert_eq!(parse_date(b"20240229"), d);
        assert_eq!(parse_date(b"2024.02.29"), d);
        assert_eq!(parse_date(b"2024-02-29 "), d);
        assert_eq!(parse_date(b"20230229"), None);
        assert_eq!(parse_date(b"2024.0229."), None);
        assert_eq!(parse_date(b""), None);
        assert_eq!(parse_date(b"\xff\xff\xff\xff\xff\xff\xff\xff"), None);
    }

    #[test]
    fn wanted_is_sorted() {
        assert!(WANTED.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn short_inputs() {
        let l = Limits::default();
        assert!(matches!(parse_instance(b"", &l), Err(Reject::NotDicom(_))));
        let mut d = vec![0u8; 128];
        d.extend_from_slice(b"DICM");
        assert!(matches!(parse_instance(&d, &l), Err(Reject::Malformed(_))));
        d.extend_from_slice(&[2, 0, 0, 0, b'U', b'L', 4, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(parse_instance(&d, &l), Err(Reject::Malformed(_))));
    }
}
