//! gitgate-bench: measures agent tool interfaces side by side.
//!
//! The harness sees gitgate only through MCP (it spawns the binary) and through the committed
//! `schemas/`; it never links the server crate.

pub mod fixture;
pub mod micro;
pub mod model;
pub mod report;
pub mod scenarios;
pub mod stats;
