//! `radvision`: the teleradiology system (RadVision) — ingest, store, requests, worklist,
//! viewer data, reports, pricing and notifications.
//!
//! - [`store`]: the blob store for DICOM instances (filesystem or S3-compatible)
//! - [`ingest`]: parsing and validating instances, the ingest pipeline (store + index +
//!   audit), the DICOM listener (C-STORE/C-ECHO SCP) and STOW-RS bodies
//! - [`core`]: rules without HTTP
//! - [`web`]: RadVision's own routes (mounted by the portal)

pub mod core;
pub mod ingest;
pub mod store;
pub mod web;
