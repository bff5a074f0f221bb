//! The tamper-evident audit log: events, the HMAC hash chain, query, verify, export.
