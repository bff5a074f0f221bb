//! End-to-end tests of the gitgate binary through a real MCP client (rmcp's), over stdio and HTTP.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod admin;
mod cli;
mod github;
mod harness;
mod http_auth;
mod http_limits;
mod lean;
mod protocol;
mod replicas;
