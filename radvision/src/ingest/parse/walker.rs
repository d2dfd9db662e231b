//! The bounded data-set walker: nested sequences, encapsulated fragments and the
//! top-level attributes kept.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use super::header::{
    malformed, read_header, tag_str, Syntax, ITEM, ITEM_DELIM, PIXEL_DATA, SEQ_DELIM, UNDEFINED,
};
use crate::ingest::model::Reject;

/// What the top level of the data set declares about Pixel Data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pixels {
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
pub(super) const WANTED: &[u32] = &[
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
    0x0018_0050, // SliceThickness
    0x0018_1164, // ImagerPixelSpacing
    0x0018_5101, // ViewPosition
    0x0020_000D, // StudyInstanceUID
    0x0020_000E, // SeriesInstanceUID
    0x0020_0011, // SeriesNumber
    0x0020_0013, // InstanceNumber
    0x0020_0032, // ImagePositionPatient
    0x0020_0037, // ImageOrientationPatient
    0x0020_0052, // FrameOfReferenceUID
    0x0020_0062, // ImageLaterality
    0x0020_1041, // SliceLocation
    0x0028_0002, // SamplesPerPixel
    0x0028_0004, // PhotometricInterpretation
    0x0028_0006, // PlanarConfiguration
    0x0028_0008, // NumberOfFrames
    0x0028_0010, // Rows
    0x0028_0011, // Columns
    0x0028_0030, // PixelSpacing
    0x0028_0100, // BitsAllocated
    0x0028_0101, // BitsStored
    0x0028_0102, // HighBit
    0x0028_0103, // PixelRepresentation
    0x0028_1050, // WindowCenter
    0x0028_1051, // WindowWidth
    0x0028_1052, // RescaleIntercept
    0x0028_1053, // RescaleSlope
    0x0028_1054, // RescaleType
];

pub(super) struct Walker<'a> {
    pub(super) max_depth: u32,
    pub(super) found: [Option<&'a [u8]>; WANTED.len()],
    pub(super) pixels: Pixels,
}

impl<'a> Walker<'a> {
    /// Walks a data set in `buf` from `pos`. With `until_delim`, stops after an item
    /// delimitation item (undefined-length item); otherwise at the end of `buf`.
    /// Returns the position after the data set.
    pub(super) fn dataset(
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

    pub(super) fn get(&self, tag: u32) -> Option<&'a [u8]> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_is_sorted() {
        assert!(WANTED.windows(2).all(|w| w[0] < w[1]));
    }
}
