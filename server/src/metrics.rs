//! Prometheus metrics (`GET /metrics` on the operations listener, see `transport::ops`).
//!
//! One process-wide set, updated where the work happens: tool calls where their audit event is
//! written (`tools::call`), GitHub requests in the client's retry loop, refused HTTP requests
//! where they are recorded (`transport::refusals`), sessions where the session table changes.
//! Label values come from bounded sets only (catalogue tool names, decision rules cut to their
//! kind, status classes), so no caller can grow the series count.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub tool: String,
    /// `ok` or `error`.
    pub outcome: &'static str,
    /// `allowed` or `denied`.
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabel {
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `2xx`, `3xx`, `4xx`, `5xx`.
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric gitgate exports.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    call_seconds: HistogramFamily<ToolLabel>,
    denied: Family<ReasonLabel, Counter>,
    github_requests: Family<StatusLabel, Counter>,
    github_retries: Counter,
    github_rate_limited: Counter,
    github_seconds: Histogram,
    refused_requests: Family<ReasonLabel, Counter>,
    sessions: Gauge,
    spool_lag: Gauge,
}

/// Latency buckets from 0.5 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics.
pub fn get() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

/// The kind of a decision rule: `denied:missing-scope:git:read` → `denied:missing-scope`.
fn rule_kind(rule: &str) -> String {
    let mut parts = rule.splitn(3, ':');
    let kind = match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => format!("{a}:{b}"),
        (Some(a), None) => a.to_owned(),
        _ => String::new(),
    };
    // A rule is ours, but bound it anyway: a label must never carry caller input at length.
    kind.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
        .take(48)
        .collect()
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("gitgate");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls by tool, outcome and policy decision (run-form operations included)",
            calls.clone(),
        );
        let call_seconds: HistogramFamily<ToolLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "tool_call_seconds",
            "Tool call latency, from the request to its audit event",
            call_seconds.clone(),
        );
        let denied = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "tool_calls_denied",
            "Tool calls policy refused, by rule",
            denied.clone(),
        );
        let github_requests = Family::<StatusLabel, Counter>::default();
        registry.register(
            "github_requests",
            "GitHub API answers by status class (each attempt)",
            github_requests.clone(),
        );
        let github_retries = Counter::default();
        registry.register(
            "github_retries",
            "GitHub requests retried after a 5xx, 429 or connection failure",
            github_retries.clone(),
        );
        let github_rate_limited = Counter::default();
        registry.register(
            "github_rate_limited",
            "GitHub answers saying the user's rate limit is spent",
            github_rate_limited.clone(),
        );
        let github_seconds = latency_histogram();
        registry.register(
            "github_request_seconds",
            "GitHub request latency (each attempt)",
            github_seconds.clone(),
        );
        let refused_requests = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_refused",
            "HTTP requests and connections refused before any tool ran, by reason",
            refused_requests.clone(),
        );
        let sessions = Gauge::default();
        registry.register("sessions", "Open MCP sessions (HTTP)", sessions.clone());
        let spool_lag = Gauge::default();
        registry.register(
            "audit_spool_lag",
            "Audit events spooled by this process and not yet chained into the store",
            spool_lag.clone(),
        );
        Self {
            registry,
            calls,
            call_seconds,
            denied,
            github_requests,
            github_retries,
            github_rate_limited,
            github_seconds,
            refused_requests,
            sessions,
            spool_lag,
        }
    }

    /// A tool call ended; `tool` is a catalogue name or `unknown`.
    pub fn tool_call(&self, tool: &str, ok: bool, rule: Option<&str>, took: Duration) {
        let decision = if rule.is_some() { "denied" } else { "allowed" };
        self.calls
            .get_or_create(&CallLabels {
                tool: tool.to_owned(),
                outcome: if ok { "ok" } else { "error" },
                decision,
            })
            .inc();
        if let Some(rule) = rule {
            self.denied
                .get_or_create(&ReasonLabel {
                    reason: rule_kind(rule),
                })
                .inc();
        }
        self.call_seconds
            .get_or_create(&ToolLabel {
                tool: tool.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// One GitHub answer.
    pub fn github_answer(&self, status: u16, took: Duration) {
        self.github_requests
            .get_or_create(&StatusLabel {
                status: status_class(status),
            })
            .inc();
        self.github_seconds.observe(took.as_secs_f64());
    }

    pub fn github_retry(&self) {
        self.github_retries.inc();
    }

    pub fn github_rate_limited(&self) {
        self.github_rate_limited.inc();
    }

    /// A request or connection refused at the transport, with the audit rule it was given.
    pub fn refused(&self, rule: &str) {
        self.refused_requests
            .get_or_create(&ReasonLabel {
                reason: rule_kind(rule),
            })
            .inc();
    }

    pub fn set_sessions(&self, open: usize) {
        self.sessions.set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// The text exposition, with the audit spool's lag read now.
    pub fn render(&self, spool_lag: Option<u64>) -> String {
        self.spool_lag
            .set(spool_lag.map_or(0, |l| i64::try_from(l).unwrap_or(i64::MAX)));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_become_bounded_kinds() {
        assert_eq!(
            rule_kind("denied:missing-scope:git:read"),
            "denied:missing-scope"
        );
        assert_eq!(rule_kind("denied:no-grant:acme/secret"), "denied:no-grant");
        assert_eq!(rule_kind("denied:busy"), "denied:busy");
        assert_eq!(rule_kind("x\"}\n:y"), "x:y");
        assert!(rule_kind(&"a".repeat(1000)).len() <= 48);
    }
}
