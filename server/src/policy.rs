//! Authorization: scopes, repository grants, per-user rate limits, the read-only switch.
