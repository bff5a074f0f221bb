//! Figures from the raw outcomes (calls/s, latency quantiles, errors by kind), the JSON result,
//! and the table printed at the end of a run.

use std::collections::BTreeMap;

use super::drive::Outcome;
use super::rss::Memory;
use super::setup::Verify;
use crate::stats::quantile;

/// Latency of the successful calls, in microseconds (errors are counted, not timed: a refusal
/// answered in 50 us would make a saturated server look fast).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    pub p50_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// The measured calls of one binary (all its rounds together).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Measured {
    /// Calls made in the measured time.
    pub calls: u64,
    pub ok: u64,
    pub errors: u64,
    /// Errors by kind (`transport`, `http_429`, `http_503`, `http_status`, `jsonrpc_error`,
    /// `tool_error`, `malformed`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Calls that reached their tool (successes and tool errors): each has one audit event.
    pub reached_tool: u64,
    /// Measured wall time.
    pub seconds: f64,
    /// Successful calls per second of measured time.
    pub calls_per_s: f64,
    pub latency_us: Latency,
}

/// Summarises outcomes that took `seconds` of wall time.
pub fn measure(outcomes: &[Outcome], seconds: f64) -> Measured {
    let mut m = Measured {
        calls: outcomes.len() as u64,
        seconds,
        ..Measured::default()
    };
    let mut us = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        match o.error {
            None => {
                m.ok += 1;
                m.reached_tool += 1;
                us.push(o.latency.as_secs_f64() * 1e6);
            }
            Some((kind, reached)) => {
                m.errors += 1;
                m.reached_tool += u64::from(reached);
                *m.errors_by_kind.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }
    us.sort_by(f64::total_cmp);
    m.latency_us = Latency {
        p50_us: quantile(&us, 0.50),
        p95_us: quantile(&us, 0.95),
        p99_us: quantile(&us, 0.99),
        max_us: us.last().copied().unwrap_or(f64::NAN),
    };
    m.calls_per_s = if seconds > 0.0 {
        m.ok as f64 / seconds
    } else {
        0.0
    };
    m
}

/// The server's resident memory around the load, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct MemoryReport {
    /// VmRSS after setup (users' sessions open), before any load.
    pub idle_kib: u64,
    /// The largest VmRSS sampled (every 100 ms) while load ran.
    pub peak_kib: u64,
    /// VmHWM after the load: the kernel's own high-water mark, between samples too.
    pub hwm_kib: u64,
    /// VmRSS once the load stopped.
    pub after_kib: u64,
    /// VmRSS after every session was closed and the server stood idle `settle_s` seconds:
    /// what it kept of the burst.
    pub settled_kib: u64,
}

impl MemoryReport {
    /// From the idle reading, the sampled peak and the reading after.
    pub fn new(idle: Memory, peak_rss_kib: u64, after: Memory, settled: Memory) -> Self {
        Self {
            idle_kib: idle.rss_kib,
            peak_kib: peak_rss_kib.max(after.rss_kib),
            hwm_kib: after.hwm_kib.max(settled.hwm_kib),
            after_kib: after.rss_kib,
            settled_kib: settled.rss_kib,
        }
    }
}

/// Whether the audit log holds one event per call that reached its tool.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditReport {
    /// Events in the store (`gitgate audit verify`).
    pub events: u64,
    /// Calls that reached their tool: setup, warm-up and measured.
    pub expected: u64,
    /// Other failed calls, which may or may not have an event: refusals before the tool are
    /// audited bounded in rate, and a call cut off without a reply may have run.
    pub unanswered: u64,
    /// `expected <= events <= expected + unanswered`.
    pub consistent: bool,
    /// The hash chain verified.
    pub verify_ok: bool,
    pub verify_output: String,
}

impl AuditReport {
    /// Compares the verified store with the calls made.
    pub fn new(verify: Verify, expected: u64, unanswered: u64) -> Self {
        Self {
            events: verify.events,
            expected,
            unanswered,
            consistent: verify.ok
                && verify.events >= expected
                && verify.events <= expected + unanswered,
            verify_ok: verify.ok,
            verify_output: verify.output,
        }
    }
}

/// The result for one gitgate binary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunReport {
    /// The binary, as given.
    pub gitgate: String,
    pub store: &'static str,
    pub users: usize,
    pub load: super::drive::Load,
    pub warmup_s: f64,
    pub settle_s: f64,
    /// Rounds this binary ran (1 unless comparing).
    pub rounds: usize,
    /// One tool call per user after opening its session, checking it works.
    pub setup_calls: u64,
    /// Calls of the warm-up that reached their tool (not measured, but audited).
    pub warmup_calls: u64,
    #[serde(flatten)]
    pub measured: Measured,
    /// Successful calls per second of each round, to show the spread.
    pub round_calls_per_s: Vec<f64>,
    pub memory: MemoryReport,
    pub audit: AuditReport,
}

/// Side by side: the first binary over the second (`--gitgate` over `--compare`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Ratio {
    pub calls_per_s: f64,
    pub p50: f64,
    pub p99: f64,
}

/// Ratio of `a` over `b`.
pub fn ratio(a: &RunReport, b: &RunReport) -> Ratio {
    Ratio {
        calls_per_s: a.measured.calls_per_s / b.measured.calls_per_s,
        p50: a.measured.latency_us.p50_us / b.measured.latency_us.p50_us,
        p99: a.measured.latency_us.p99_us / b.measured.latency_us.p99_us,
    }
}

/// What `--json` writes: one report per binary and, with `--compare`, their ratio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadResult {
    pub runs: Vec<RunReport>,
    pub ratio: Option<Ratio>,
    /// Per round, calls/s of the first binary over the second.
    pub round_ratios: Vec<f64>,
}

impl LoadResult {
    /// Builds the result; with two runs, their ratio (overall and round by round).
    pub fn new(runs: Vec<RunReport>) -> Self {
        let (ratio, round_ratios) = match runs.as_slice() {
            [a, b] => (
                Some(ratio(a, b)),
                a.round_calls_per_s
                    .iter()
                    .zip(&b.round_calls_per_s)
                    .map(|(x, y)| x / y)
                    .collect(),
            ),
            _ => (None, Vec::new()),
        };
        Self {
            runs,
            ratio,
            round_ratios,
        }
    }

    /// Every run had no errors and a consistent, verified audit log.
    pub fn clean(&self) -> bool {
        self.runs
            .iter()
            .all(|r| r.measured.errors == 0 && r.audit.consistent)
    }
}

/// A Markdown table of the result.
pub fn table(result: &LoadResult) -> String {
    let mut out = String::from(
        "| gitgate | store | load | calls | calls/s | p50 | p95 | p99 | errors | RSS idle / peak / after / settled | audit |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    for r in &result.runs {
        let m = &r.measured;
        let load = match r.load {
            super::drive::Load::Closed { concurrency } => format!("closed c={concurrency}"),
            super::drive::Load::Open { rate, callers } => format!("open {rate:.0}/s c={callers}"),
        };
        let audit = if r.audit.consistent {
            format!("ok ({} events)", r.audit.events)
        } else {
            format!(
                "MISMATCH: {} events, {} expected{}",
                r.audit.events,
                r.audit.expected,
                if r.audit.verify_ok {
                    ""
                } else {
                    ", chain broken"
                }
            )
        };
        out.push_str(&format!(
            "| {} | {} | {load} | {} | {:.0} | {} | {} | {} | {} | {} / {} / {} / {} MiB | {audit} |\n",
            r.gitgate,
            r.store,
            m.calls,
            m.calls_per_s,
            ms(m.latency_us.p50_us),
            ms(m.latency_us.p95_us),
            ms(m.latency_us.p99_us),
            m.errors,
            mib(r.memory.idle_kib),
            mib(r.memory.peak_kib),
            mib(r.memory.after_kib),
            mib(r.memory.settled_kib),
        ));
    }
    if let Some(ratio) = &result.ratio {
        let rounds: Vec<String> = result
            .round_ratios
            .iter()
            .map(|x| format!("{x:.3}"))
            .collect();
        out.push_str(&format!(
            "\nfirst / second: calls/s {:.3} (rounds: {}), p50 {:.3}, p99 {:.3}\n",
            ratio.calls_per_s,
            rounds.join(", "),
            ratio.p50,
            ratio.p99
        ));
    }
    out
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome(us: u64, error: Option<(&'static str, bool)>) -> Outcome {
        Outcome {
            seq: us,
            latency: Duration::from_micros(us),
            error,
        }
    }

    #[test]
    fn figures_from_outcomes() {
        let mut outcomes: Vec<Outcome> = (1..=100).map(|us| outcome(us, None)).collect();
        outcomes.push(outcome(5, Some(("tool_error", true))));
        outcomes.push(outcome(7, Some(("transport", false))));
        let m = measure(&outcomes, 2.0);
        assert_eq!(
            (m.calls, m.ok, m.errors, m.reached_tool),
            (102, 100, 2, 101)
        );
        assert_eq!(m.calls_per_s, 50.0);
        assert_eq!(
            m.latency_us,
            Latency {
                p50_us: 50.0,
                p95_us: 95.0,
                p99_us: 99.0,
                max_us: 100.0
            }
        );
        let kinds: Vec<(&str, u64)> = m
            .errors_by_kind
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(kinds, [("tool_error", 1), ("transport", 1)]);
    }

    #[test]
    fn nothing_measured() {
        let m = measure(&[], 0.0);
        assert_eq!((m.calls, m.calls_per_s), (0, 0.0));
        assert!(m.latency_us.p50_us.is_nan());
    }

    #[test]
    fn audit_consistency() {
        let check = |events: u64, ok: bool, expected: u64, unanswered: u64, want: bool| {
            let verify = Verify {
                ok,
                events,
                output: String::new(),
            };
            let got = AuditReport::new(verify, expected, unanswered).consistent;
            assert_eq!(
                got, want,
                "{events} events, {expected} expected, {unanswered} unanswered"
            );
        };
        check(10, true, 10, 0, true);
        check(9, true, 10, 0, false);
        check(11, true, 10, 0, false);
        check(11, true, 10, 1, true);
        check(10, false, 10, 0, false);
    }
}
