//! Membership, the medical association's job: facilities, their users, contracts between
//! requesting and supporting facilities, and facilities' DICOM nodes. Every change is
//! validated here and audited in the same transaction.

pub mod contracts;
pub mod dicom_nodes;
pub mod facilities;
pub mod users;

pub use contracts::{Contract, ContractForm, DirectoryEntry};
pub use dicom_nodes::{DicomNode, DicomNodeForm};
pub use facilities::{Facility, FacilityForm};
pub use users::{User, UserForm, UserWithRoles};
