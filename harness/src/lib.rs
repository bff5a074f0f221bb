//! gitgate-bench: measures agent tool interfaces side by side.
//!
//! The harness sees gitgate only through MCP (it spawns the binary) and through the committed
//! `schemas/`; it never links the server crate.

pub mod agent;
pub mod agent_model;
#[cfg(test)]
mod architecture;
pub mod arm;
pub mod check;
pub mod config;
pub mod executor;
pub mod fixture;
pub mod forge;
pub mod load;
pub mod meta;
pub mod micro;
pub mod model;
pub mod prices;
pub mod report;
pub mod run;
pub mod run_line;
pub mod scenarios;
pub mod signal;
pub mod stats;
pub mod summary;
pub mod task;
pub mod tokens;
pub mod trace;
pub mod workspace;
