//! What parsing an instance yields, and why an instance is refused.

use serde::Serialize;

/// A DICOM person name with its three component groups kept apart (PS3.5 6.2):
/// alphabetic (romaji), ideographic (kanji) and phonetic (kana). Each group keeps its `^`
/// component separators; all are UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PersonName {
    pub alphabetic: String,
    pub ideographic: String,
    pub phonetic: String,
}

/// The attributes of one instance that the index keeps. UIDs are validated (digits and dots,
/// at most 64 characters); text is decoded from its Specific Character Set to UTF-8.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedInstance {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub transfer_syntax_uid: String,
    /// Patient ID (0010,0020); empty when absent.
    pub patient_id: String,
    pub patient_name: PersonName,
    pub patient_birth_date: Option<chrono::NaiveDate>,
    /// `M`, `F`, `O` or empty.
    pub patient_sex: String,
    pub study_date: Option<chrono::NaiveDate>,
    pub study_time: String,
    pub accession_number: String,
    pub study_description: String,
    pub referring_physician: PersonName,
    pub modality: String,
    pub body_part_examined: String,
    pub series_number: Option<i32>,
    pub series_description: String,
    pub instance_number: Option<i32>,
    pub rows: Option<u16>,
    pub columns: Option<u16>,
    pub number_of_frames: Option<u32>,
    /// Pixel description, spacing, window, rescale, position (kept in the index).
    pub imaging: shared::imaging::ImagingAttributes,
    /// The Specific Character Set as sent, and whether every value decoded cleanly.
    pub specific_character_set: String,
    pub charset_problem: Option<String>,
}

/// Why an instance was refused. Each maps to a DICOM failure status and an HTTP status; the
/// message is safe to log (no patient data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    #[error("instance larger than the limit ({0} bytes)")]
    TooLarge(u64),
    #[error("not a DICOM file: {0}")]
    NotDicom(String),
    #[error("malformed data set: {0}")]
    Malformed(String),
    #[error("missing required attribute {0}")]
    Missing(&'static str),
    #[error("invalid UID in {0}")]
    BadUid(&'static str),
    #[error("unsupported SOP class {0}")]
    UnsupportedSopClass(String),
    #[error("unsupported transfer syntax {0}")]
    UnsupportedTransferSyntax(String),
    #[error("implausible image dimensions: {0}")]
    AbsurdDimensions(String),
    #[error("pixel data shorter than its dimensions require")]
    TruncatedPixelData,
    /// Same SOP Instance UID already stored with different content (first write wins).
    #[error("a different instance with this SOP Instance UID is already stored")]
    Conflict,
    /// The study would exceed its size limit.
    #[error("study larger than the limit")]
    StudyTooLarge,
}

impl Reject {
    /// The C-STORE response status (PS3.4 B.2.3 / PS3.7 C).
    pub fn dicom_status(&self) -> u16 {
        match self {
            Reject::TooLarge(_) | Reject::StudyTooLarge => 0xA700,
            Reject::UnsupportedSopClass(_) => 0x0122,
            Reject::Conflict => 0xA900,
            Reject::Missing(_)
            | Reject::BadUid(_)
            | Reject::AbsurdDimensions(_)
            | Reject::TruncatedPixelData => 0xA900,
            Reject::NotDicom(_) | Reject::Malformed(_) | Reject::UnsupportedTransferSyntax(_) => {
                0xC000
            }
        }
    }

    /// The HTTP status for STOW-RS and uploads.
    pub fn http_status(&self) -> u16 {
        match self {
            Reject::TooLarge(_) | Reject::StudyTooLarge => 413,
            Reject::Conflict => 409,
            Reject::UnsupportedSopClass(_) | Reject::UnsupportedTransferSyntax(_) => 415,
            _ => 400,
        }
    }
}
