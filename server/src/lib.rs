//! gitgate: an MCP server that exposes git and GitHub operations to AI agents.
//!
//! See ARCHITECTURE.md for the path a tool call takes through these modules.

pub mod git;
