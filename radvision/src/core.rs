//! RadVision's rules (requests, assignment, reports, pricing): no actix, no HTTP.
//! Empty until the read-request issue adds the first ones.
