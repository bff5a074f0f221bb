//! Instrument: injected faults (`POST /_forge/faults`): added latency, a share of 5xx answers, and
//! the rate-limit budget. The 5xx share is deterministic: with rate r, request i fails when
//! floor((i+1)·r) > floor(i·r), so exactly r of any long run fails with no randomness.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Default primary rate limit, as GitHub gives authenticated users.
pub const DEFAULT_LIMIT: u64 = 5000;

/// The fault settings, as posted and reported.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Milliseconds added before every API answer.
    #[serde(default)]
    pub latency_ms: u64,
    /// Share (0..=1) of API requests answered with `error_status`.
    #[serde(default)]
    pub error_rate: f64,
    /// Status of injected errors (500..=599).
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    /// Requests allowed per user and resource before rate limiting.
    #[serde(default = "default_limit")]
    pub rate_limit: u64,
    /// Status once the budget is spent: 403 (GitHub's primary limit) or 429.
    #[serde(default = "default_rate_status")]
    pub rate_limit_status: u16,
}

fn default_error_status() -> u16 {
    500
}
fn default_limit() -> u64 {
    DEFAULT_LIMIT
}
fn default_rate_status() -> u16 {
    403
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            error_status: 500,
            rate_limit: DEFAULT_LIMIT,
            rate_limit_status: 403,
        }
    }
}

/// A partial update: only the named fields change; `rate_limit_remaining` sets what every user has
/// left from now on (`rate_limit - remaining` counted as used).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    latency_ms: Option<u64>,
    error_rate: Option<f64>,
    error_status: Option<u16>,
    rate_limit: Option<u64>,
    rate_limit_remaining: Option<u64>,
    rate_limit_status: Option<u16>,
    /// Resets everything to defaults first.
    #[serde(default)]
    reset: bool,
}

/// What to do with one API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Milliseconds to wait first.
    pub latency_ms: u64,
    /// Answer with this 5xx instead.
    pub fail: Option<u16>,
}

/// The rate-limit view of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Limit.
    pub limit: u64,
    /// Used, including this request when it was allowed.
    pub used: u64,
    /// Reset instant (seconds since the epoch).
    pub reset: i64,
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Status to answer when not allowed.
    pub status: u16,
}

impl Rate {
    /// Remaining requests.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Fault state.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<Inner>,
    reset_at: i64,
}

#[derive(Debug, Default)]
struct Inner {
    settings: Settings,
    seen: u64,
    base_used: u64,
    used: HashMap<(i64, &'static str), u64>,
}

impl Faults {
    /// No faults; rate-limit windows "reset" at `reset_at` (a fixed logical instant).
    pub fn new(reset_at: i64) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            reset_at,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current settings.
    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    /// Applies an update; rejects values out of range.
    pub fn update(&self, u: &Update) -> Result<Settings, String> {
        let mut inner = self.lock();
        if u.reset {
            *inner = Inner::default();
        }
        if let Some(r) = u.error_rate {
            if !(0.0..=1.0).contains(&r) {
                return Err("error_rate must be between 0 and 1".into());
            }
            inner.settings.error_rate = r;
            inner.seen = 0;
        }
        if let Some(s) = u.error_status {
            if !(500..=599).contains(&s) {
                return Err("error_status must be a 5xx status".into());
            }
            inner.settings.error_status = s;
        }
        if let Some(s) = u.rate_limit_status {
            if s != 403 && s != 429 {
                return Err("rate_limit_status must be 403 or 429".into());
            }
            inner.settings.rate_limit_status = s;
        }
        if let Some(l) = u.latency_ms {
            inner.settings.latency_ms = l;
        }
        if let Some(l) = u.rate_limit {
            inner.settings.rate_limit = l;
        }
        if let Some(rem) = u.rate_limit_remaining {
            inner.base_used = inner.settings.rate_limit.saturating_sub(rem);
            inner.used.clear();
        }
        Ok(inner.settings.clone())
    }

    /// Decides latency and failure for the next API request.
    pub fn plan(&self) -> Plan {
        let mut inner = self.lock();
        let i = inner.seen;
        inner.seen += 1;
        let r = inner.settings.error_rate;
        let fail = ((i + 1) as f64 * r).floor() > (i as f64 * r).floor();
        Plan {
            latency_ms: inner.settings.latency_ms,
            fail: fail.then_some(inner.settings.error_status),
        }
    }

    /// Charges one request of `user` against `resource` (core, search, graphql).
    pub fn charge(&self, user: i64, resource: &'static str) -> Rate {
        let mut inner = self.lock();
        let base = inner.base_used;
        let limit = inner.settings.rate_limit;
        let status = inner.settings.rate_limit_status;
        let used = inner.used.entry((user, resource)).or_insert(0);
        let before = base + *used;
        let allowed = before < limit;
        if allowed {
            *used += 1;
        }
        Rate {
            limit,
            used: if allowed { before + 1 } else { before },
            reset: self.reset_at,
            allowed,
            status,
        }
    }

    /// The budget of `user` for `resource` without charging.
    pub fn peek(&self, user: i64, resource: &'static str) -> Rate {
        let inner = self.lock();
        let used = inner.base_used + inner.used.get(&(user, resource)).copied().unwrap_or(0);
        Rate {
            limit: inner.settings.rate_limit,
            used: used.min(inner.settings.rate_limit),
            reset: self.reset_at,
            allowed: used < inner.settings.rate_limit,
            status: inner.settings.rate_limit_status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rate: f64, n: usize, expected_failures: usize) {
        let f = Faults::new(0);
        f.update(&Update {
            error_rate: Some(rate),
            ..Default::default()
        })
        .expect("valid");
        let failures = (0..n).filter(|_| f.plan().fail.is_some()).count();
        assert_eq!(failures, expected_failures, "rate {rate} over {n}");
    }

    #[test]
    fn error_share_is_exact() {
        check(0.0, 100, 0);
        check(0.25, 100, 25);
        check(0.5, 10, 5);
        check(1.0, 7, 7);
    }

    #[test]
    fn budget_runs_out() {
        let f = Faults::new(0);
        f.update(&Update {
            rate_limit_remaining: Some(2),
            ..Default::default()
        })
        .expect("valid");
        assert!(f.charge(1, "core").allowed);
        assert!(f.charge(1, "core").allowed);
        let r = f.charge(1, "core");
        assert!(!r.allowed);
        assert_eq!(r.remaining(), 0);
        assert!(f.charge(1, "search").allowed);
    }
}
