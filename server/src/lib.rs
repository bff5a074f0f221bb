//! gitgate: an MCP server that exposes git and GitHub operations to AI agents.
//!
//! See ARCHITECTURE.md for the path a tool call takes through these modules.

pub mod audit;
pub mod cmdline;
pub mod completion;
pub mod config;
pub mod diagnostics;
pub mod git;
pub mod github;
pub mod identity;
pub mod jq;
pub mod jwt;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod output;
pub mod policy;
pub mod prompts;
pub mod schemas;
pub mod secrets;
pub mod server;
pub mod service;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod transport;
