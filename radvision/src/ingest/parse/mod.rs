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

mod header;
mod imaging;
mod meta;
mod pixels;
mod registry;
mod values;
mod walker;

use std::borrow::Cow;

use super::charset::{self, SpecificCharacterSet};
use super::model::{ParsedInstance, Reject};

use header::{malformed, Syntax};
use imaging::imaging_attributes;
use meta::read_meta;
use pixels::{check_pixels, inflate};
pub use registry::{SOP_CLASSES, TRANSFER_SYNTAXES};
use values::{code_string, parse_is, read_us, uid_of, TextDecoder};
pub use values::{is_valid_uid, parse_date};
use walker::{Pixels, Walker, WANTED};

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
        imaging: imaging_attributes(&w, syntax),
        specific_character_set,
        charset_problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
