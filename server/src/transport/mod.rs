//! Transports: stdio for one local user, Streamable HTTP (at `/mcp`) for many.

pub mod connections;
mod drain;
pub mod http;
pub mod jsonrpc;
pub mod ops;
mod refusals;
pub mod screen;
pub mod sessions;
pub mod stdio;
mod stdio_guard;
pub mod throttle;
