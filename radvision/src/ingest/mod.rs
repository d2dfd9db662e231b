//! Getting instances in: parse and validate ([`parse`], [`charset`]), then the one pipeline
//! every channel uses ([`pipeline`]): durable blob → index row → audit event.

pub mod charset;
pub mod model;
pub mod parse;
pub mod part10;
pub mod pipeline;
pub mod scp;
