//! End-to-end tests of the gitgate binary through a real MCP client (rmcp's), over stdio and HTTP.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod admin;
mod audit_hygiene;
mod call_slots;
mod ci_runs;
mod cli;
mod cmd_filters;
mod git_tools;
mod github;
mod github_hostile;
mod harness;
mod http_auth;
mod http_limits;
mod in_process;
mod jq_sandbox;
mod jsonrpc_screen;
mod lean;
mod logging_prompts;
mod memory;
mod ops;
mod protocol;
mod releases;
mod remote;
mod replicas;
mod review_threads;
mod run_form;
mod run_gh;
mod run_writes;
mod shutdown;
mod stateless;
mod stdio;
