//! Instrument: requests and accepted TCP connections, in total and per token name
//! (`GET /_forge/stats`, reset with `DELETE /_forge/stats`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// Counters; cheap to update from every request.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: u64,
    per_token: BTreeMap<String, PerToken>,
}

#[derive(Debug, Default)]
struct PerToken {
    requests: u64,
    connections: BTreeSet<u64>,
}

impl Stats {
    /// Counts an accepted connection and returns its id.
    pub fn accepted(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts a request on connection `conn` made with token `name` (`None`: unauthenticated).
    pub fn request(&self, name: Option<&str>, conn: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.requests += 1;
        if let Some(name) = name {
            let t = inner.per_token.entry(name.to_string()).or_default();
            t.requests += 1;
            t.connections.insert(conn);
        }
    }

    /// The JSON report.
    pub fn report(&self) -> Value {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let tokens: serde_json::Map<String, Value> = inner
            .per_token
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!({"requests": v.requests, "connections": v.connections.len()}),
                )
            })
            .collect();
        json!({
            "connections": self.connections.load(Ordering::Relaxed),
            "requests": inner.requests,
            "tokens": tokens,
        })
    }

    /// Zeroes the request counters (connection ids keep counting so old ones are not confused).
    pub fn reset(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner = Inner::default();
    }
}
