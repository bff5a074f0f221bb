//! Transports: stdio for one local user, Streamable HTTP (at `/mcp`) for many.

pub mod http;
pub mod stdio;
