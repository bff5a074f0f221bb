//! The operator's log: errors written with their whole cause chain, since the top-level message
//! of a library error names only what failed, not why (its source says why).

use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Displays an error and each of its sources, `top: cause: root cause`, as `anyhow`'s `{:#}`
/// does, for `tracing` fields: `error = %chain(&e)`.
pub fn chain<E: std::error::Error + ?Sized>(error: &E) -> Chain<'_, E> {
    Chain(error)
}

/// See [`chain`].
pub struct Chain<'a, E: ?Sized>(&'a E);

impl<E: std::error::Error + ?Sized> fmt::Display for Chain<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Lines one cause may write in a burst.
const LOG_BURST: f64 = 5.0;
/// After the burst, one line per this long per cause.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Per-cause budgets of log lines: a failure that repeats on every request (a full disk, an
/// unreachable store, the file-descriptor limit) must not turn each request into a log line,
/// or the log itself fills the disk and buries the first, telling, line.
static LOG_BUDGETS: LazyLock<Mutex<HashMap<&'static str, Budget>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

#[derive(Debug, Clone, Copy)]
struct Budget {
    tokens: f64,
    last: Instant,
    suppressed: u64,
}

/// Whether a line for `cause` may be written now; `Some(n)` with the number of its lines left
/// out since the last one written (log it as a field: `suppressed = n`).
///
/// ```
/// # let e = std::io::Error::other("disk full");
/// if let Some(suppressed) = gitgate::diagnostics::admit("audit-write") {
///     tracing::error!(suppressed, error = %e, "audit write failed");
/// }
/// ```
pub fn admit(cause: &'static str) -> Option<u64> {
    admit_at(cause, Instant::now())
}

fn admit_at(cause: &'static str, now: Instant) -> Option<u64> {
    // A poisoned lock holds plain counters: go on with them.
    let mut budgets = LOG_BUDGETS.lock().unwrap_or_else(PoisonError::into_inner);
    let budget = budgets.entry(cause).or_insert(Budget {
        tokens: LOG_BURST,
        last: now,
        suppressed: 0,
    });
    let refill = now.saturating_duration_since(budget.last).as_secs_f64() / LOG_EVERY.as_secs_f64();
    budget.tokens = (budget.tokens + refill).min(LOG_BURST);
    budget.last = budget.last.max(now);
    if budget.tokens >= 1.0 {
        budget.tokens -= 1.0;
        Some(std::mem::take(&mut budget.suppressed))
    } else {
        budget.suppressed += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the audit log could not be written")]
    struct Top(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause() {
        let e = Top(std::io::Error::other("disk full"));
        assert_eq!(
            chain(&e).to_string(),
            "the audit log could not be written: disk full"
        );
    }

    #[test]
    fn a_repeating_cause_writes_a_burst_then_one_line_per_interval() {
        let start = Instant::now();
        let written: Vec<Option<u64>> = (0..100).map(|_| admit_at("test-flood", start)).collect();
        assert_eq!(written.iter().flatten().count(), LOG_BURST as usize);
        assert!(written[..5].iter().all(|w| *w == Some(0)));
        // Another cause has its own budget.
        assert_eq!(admit_at("test-other", start), Some(0));
        // One interval later: one line, saying how many were left out.
        assert_eq!(admit_at("test-flood", start + LOG_EVERY), Some(95));
        assert_eq!(admit_at("test-flood", start + LOG_EVERY), None);
        // A clock going backwards refills nothing.
        assert_eq!(admit_at("test-flood", start), None);
    }
}
