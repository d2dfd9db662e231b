//! `radvision`: the teleradiology system (RadVision) — ingest, store, requests, worklist,
//! viewer data, reports, pricing and notifications. It grows issue by issue; today it
//! provides the mount point that the portal registers.
//!
//! Layers: `web` (actix handlers and views) → `core` (rules, no HTTP) → `shared`.

pub mod core;
pub mod web;
