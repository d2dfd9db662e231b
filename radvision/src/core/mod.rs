//! RadVision's rules, free of HTTP and templates: pricing, the calendar (Japan time,
//! holidays, after-hours, due times), routing of requests without a chosen facility, and
//! the filing of read requests, and the assignment of requests to radiologists.

pub mod assignment;
pub mod auto_assign;
pub mod calendar;
pub mod pricing;
pub mod requests;
pub mod routing;
