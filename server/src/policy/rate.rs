//! The per-user rate limit: a token bucket per user, charged last by policy.
//!
//! Hand-written on purpose rather than a crate such as `governor`: the limit differs per user and can
//! change between calls (an administrator lowers it, the next call obeys), the clock is injected
//! so tests need no sleeping, and a refusal must say how long to wait in whole seconds. That is
//! thirty lines over a map; a keyed limiter crate fixes the quota at construction.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long until the next call is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// Per-user token buckets: a user holds up to `limit` calls, refilled continuously at `limit` per
/// minute, so bursts up to the limit are allowed and the long-run rate is the limit.
///
/// Per replica: with several replicas each enforces the limit on its own.
/// The map has one entry per user that called with a limit, which is bounded by the user store.
#[derive(Debug, Default)]
pub struct RateLimiter {
    // std Mutex: the critical section is a map lookup and arithmetic, never held across an await.
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes one call from `user`'s bucket at time `now`, or says how long to wait.
    ///
    /// A limit of 0 denies every call. `now` earlier than a previous call (an injected clock going
    /// backwards) refills nothing rather than panicking.
    pub fn check(&self, user: &str, limit_per_minute: u32, now: Instant) -> Result<(), RetryAfter> {
        if limit_per_minute == 0 {
            return Err(RetryAfter(Duration::from_secs(60)));
        }
        let capacity = f64::from(limit_per_minute);
        let per_second = capacity / 60.0;
        // A poisoned lock only means another thread panicked mid-update of plain numbers; the
        // worst case is one slightly wrong bucket, better than refusing every call from now on.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(user.to_owned()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        // min(capacity): a lowered limit takes effect at once.
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        if now > bucket.last {
            bucket.last = now;
        }
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(RetryAfter(Duration::from_secs_f64(wait)))
        }
    }
}

pub(super) fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}
