//! The per-call cost of an audit append, measured for the benchmark (never asserted); that of
//! authentication is [`crate::store::bench`].
//!
//! Each function runs an operation `n` times one after another and returns every sample, so the
//! caller can report medians and spread (as hyperfine does).

use std::time::Instant;

use serde_json::json;

use super::{AuditEvent, AuditKey, AuthMethod, Decision, Error, Log, Outcome, Target};
use crate::store::bench::Samples;

/// A typical event: a `git_status` call by `bench` with small arguments.
pub fn sample_event(instance: &str) -> AuditEvent {
    let args = json!({ "repo": "acme/widgets", "short": true });
    AuditEvent::builder(instance, "bench", AuthMethod::Token, "git_status", &args)
        .decision(Decision::allow("scope git:read"))
        .outcome(Outcome::success())
        .session(Some("7d4c2a9e-bench".to_owned()))
        .target(Target {
            repo: Some("acme/widgets".to_owned()),
            git_ref: None,
            issue: None,
        })
        .duration_ms(1.25)
        .bytes_in(48)
        .bytes_out(312)
        .build()
}

/// Appends `n` events (fresh ids and times) and times each [`Log::append`].
pub async fn bench_append(log: &Log, key: &AuditKey, n: usize) -> Result<Samples, Error> {
    let template = sample_event("bench");
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut event = template.clone();
        event.id = super::new_event_id();
        event.time = super::now_rfc3339();
        let start = Instant::now();
        log.append(&event, key).await?;
        samples.push(start.elapsed());
    }
    Ok(Samples(samples))
}
