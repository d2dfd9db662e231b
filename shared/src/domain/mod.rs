//! Validated domain types: each can only hold a valid value, parsed once at the edge.
//! Parse errors are translation keys (`err.*`).

mod dicom;
pub mod japanese;
mod membership;

pub use dicom::{AddressAllowList, AeTitle, Modality};
pub use membership::{
    EmailList, FacilityKind, FacilityStatus, Password, Phone, Role, UserKind, Username,
};
