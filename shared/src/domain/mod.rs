//! Validated domain types: each can only hold a valid value, parsed once at the edge.
//! Parse errors are translation keys (`err.*`).

/// A closed set of string codes: `ALL`, `as_str`, `parse` (errors are `err.invalid_choice`)
/// and `Display`, serialised in snake_case.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Result<Self, &'static str> {
                match s { $($s => Ok($name::$variant),)+ _ => Err("err.invalid_choice") }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod dicom;
pub mod japanese;
mod membership;
mod reading;

pub use dicom::{AddressAllowList, AeTitle, Modality};
pub use membership::{
    EmailList, FacilityKind, FacilityStatus, Password, Phone, Role, UserKind, Username,
};
pub use reading::{
    format_yen, BodyRegion, Category, ClinicalInfo, Exam, Purpose, RequestStatus, Rounding,
    TimeOfDay, Urgency, Yen,
};
