//! `radvision`: the teleradiology system (RadVision) — ingest, store, requests, worklist,
//! viewer data, reports, pricing and notifications.
//!
//! - [`store`]: the blob store for DICOM instances (filesystem or S3-compatible)
//! - [`ingest`]: parsing and validating instances, the ingest pipeline (store + index +
//!   audit), the DICOM listener (C-STORE/C-ECHO SCP)
//! - [`pixels`]: frames of a stored instance (native or decoded), rendered images
//! - [`send`]: sending a study to a facility's workstation (C-STORE SCU), an outbox job
//! - [`worker`]: the outbox worker (claims, runs, retries jobs)
//!
//! Nothing here knows HTTP: the portal's handlers (which own sign-in and sessions) call into
//! it. Request, worklist, report and pricing rules join as later issues land.

pub mod core;
pub mod dimse;
pub mod ingest;
pub mod pixels;
pub mod send;
pub mod store;
pub mod worker;
