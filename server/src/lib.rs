//! gitgate: an MCP server that exposes git and GitHub operations to AI agents.
//!
//! See ARCHITECTURE.md for the path a tool call takes through these modules.

pub mod git;
pub mod identity;
pub mod tools;
pub mod service;
pub mod config;
pub mod transport;
pub mod schemas;
pub mod audit;
pub mod jwt;
pub mod policy;
pub mod secrets;
pub mod store;
