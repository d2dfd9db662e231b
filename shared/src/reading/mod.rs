//! Reading (読影) on the requesting side: the body-part catalogue, price tables, each
//! supporting facility's reading policy, and read requests with their price snapshots.

pub mod catalogue;
pub mod duty;
pub mod key_images;
pub mod policy;
pub mod pricing;
pub mod report_templates;
pub mod reports;
pub mod requests;
pub mod specialties;
pub mod worklist;
