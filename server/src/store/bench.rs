//! The per-call cost of authentication and audit, measured for the benchmark (never asserted).
//!
//! Each function runs an operation `n` times one after another and returns every sample, so the
//! caller can report medians and spread (as hyperfine does).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::audit::{AuditEvent, AuditKey, Decision, Outcome, Target};

use super::{Error, Store};

/// Raw durations of repeated runs of one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    /// The median (zero when empty).
    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The `q` quantile, `q` in `0.0..=1.0` (nearest rank; zero when empty).
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let Some(max_index) = sorted.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        // Rounding a rank in 0..=len-1 to an index cannot go out of range.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((max_index as f64) * q.clamp(0.0, 1.0)).round() as usize;
        sorted[index.min(max_index)]
    }
}

/// A typical event: a `git_status` call by `bench` with small arguments.
pub fn sample_event(instance: &str) -> AuditEvent {
    let mut event = AuditEvent::new(
        instance,
        "bench",
        crate::audit::AuthMethod::Token,
        "git_status",
        &json!({ "repo": "acme/widgets", "short": true }),
        Decision {
            allowed: true,
            rule: "scope git:read".to_owned(),
        },
        Outcome {
            ok: true,
            code: None,
            message: None,
        },
    );
    event.session = Some("7d4c2a9e-bench".to_owned());
    event.target = Target {
        repo: Some("acme/widgets".to_owned()),
        git_ref: None,
        issue: None,
    };
    event.duration_ms = 1.25;
    event.bytes_in = 48;
    event.bytes_out = 312;
    event
}

/// Appends `n` events (fresh ids and times) and times each [`Store::append_audit`].
pub async fn bench_append(store: &Store, key: &AuditKey, n: usize) -> Result<Samples, Error> {
    let template = sample_event("bench");
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut event = template.clone();
        event.id = crate::audit::new_event_id();
        event.time = crate::audit::now_rfc3339();
        let start = Instant::now();
        store.append_audit(&event, key).await?;
        samples.push(start.elapsed());
    }
    Ok(Samples(samples))
}

/// Times `n` calls of [`Store::authenticate_token`] with `token` (issue one first).
pub async fn bench_authenticate(store: &Store, token: &str, n: usize) -> Result<Samples, Error> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let user = store.authenticate_token(token).await?;
        samples.push(start.elapsed());
        std::hint::black_box(user);
    }
    Ok(Samples(samples))
}
