//! The load generator: many calls at once over the users' sessions, closed loop (a fixed number
//! of callers, each sending its next call when the last one is answered) or open loop (calls
//! sent on a fixed schedule whatever the server does).
//!
//! Open-loop latency is measured from the time a call was *scheduled*, not from when it was
//! sent: when the server falls behind, the calls queued behind a slow one are charged the wait,
//! which a closed loop hides (coordinated omission).
//!
//! The open loop sends over a fixed number of callers, as a fleet of clients holds a fixed set
//! of connections (wrk2's design): a call due while every caller is busy waits for the next
//! free one and is charged the wait. An earlier version spawned a task per scheduled call;
//! when the server slowed, the calls in flight outgrew the connection pool, the HTTP client
//! opened new connections for them, and that churn (on the same 2 cores as the server) tipped
//! a server with headroom into collapse at well under its closed-loop rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use super::session::Session;

/// How the load is applied.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Load {
    /// `concurrency` callers, each with one call in flight at a time.
    Closed { concurrency: usize },
    /// `rate` calls per second on a fixed schedule, sent by `callers` callers (the calls in
    /// flight at most).
    Open { rate: f64, callers: usize },
}

/// What happened to one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The call's sequence number in the run (unique across phases).
    pub seq: u64,
    /// Closed loop: from send to reply; open loop: from the scheduled send time to reply.
    pub latency: Duration,
    /// `None` for a success, else the error's kind and whether the call surely reached its tool
    /// (see [`super::session::CallError::reached_tool`]).
    pub error: Option<(&'static str, bool)>,
}

/// The tool and arguments of call `seq`: git_status and git_log alternate. With `marked`, each
/// git_log carries a `grep` pattern unique to the call, which the audit event records among
/// its arguments, so a test can find the event of every call that got a reply.
pub fn call_for(seq: u64, marked: bool) -> (&'static str, Value) {
    if seq.is_multiple_of(2) {
        ("git_status", json!({}))
    } else if marked {
        ("git_log", json!({"max_count": 5, "grep": marker(seq)}))
    } else {
        ("git_log", json!({"max_count": 5}))
    }
}

/// The `grep` marker of call `seq` (matching no commit of the fixture).
pub fn marker(seq: u64) -> String {
    format!("load-marker-{seq:010}")
}

/// Live counts, read by the progress line and by tests waiting for the load to be under way.
#[derive(Debug)]
pub struct Counters {
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    /// Calls that reached their tool (successes and tool errors), as a channel one can wait on.
    pub reached_tool: watch::Sender<u64>,
}

/// The sessions under load and the state shared by every caller.
#[derive(Debug)]
pub struct Driver {
    sessions: Vec<Arc<Session>>,
    marked: bool,
    seq: AtomicU64,
    halt: AtomicBool,
    pub counters: Counters,
}

impl Driver {
    /// A driver over `sessions` (calls go to them round-robin), `marked` as in [`call_for`].
    pub fn new(sessions: Vec<Arc<Session>>, marked: bool) -> Arc<Self> {
        Arc::new(Self {
            sessions,
            marked,
            seq: AtomicU64::new(0),
            halt: AtomicBool::new(false),
            counters: Counters {
                ok: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                reached_tool: watch::Sender::new(0),
            },
        })
    }

    /// Stops every running phase: callers finish their call in flight and return.
    pub fn halt(&self) {
        self.halt.store(true, Ordering::SeqCst);
    }

    /// The sessions, for closing them.
    pub fn sessions(&self) -> &[Arc<Session>] {
        &self.sessions
    }

    /// Applies `load` for `duration` (or until [`Driver::halt`]) and returns every call's outcome.
    pub async fn run(self: &Arc<Self>, load: Load, duration: Duration) -> Vec<Outcome> {
        match load {
            Load::Closed { concurrency } => self.closed(concurrency, duration).await,
            Load::Open { rate, callers } => self.open(rate, callers, duration).await,
        }
    }

    async fn closed(self: &Arc<Self>, concurrency: usize, duration: Duration) -> Vec<Outcome> {
        let deadline = Instant::now() + duration;
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..concurrency.max(1) {
            let driver = Arc::clone(self);
            workers.spawn(async move {
                let session = Arc::clone(&driver.sessions[w % driver.sessions.len()]);
                let mut out = Vec::new();
                while Instant::now() < deadline && !driver.halt.load(Ordering::SeqCst) {
                    let seq = driver.seq.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    out.push(driver.one(&session, seq, sent).await);
                }
                out
            });
        }
        gather(workers).await
    }

    async fn open(self: &Arc<Self>, rate: f64, callers: usize, duration: Duration) -> Vec<Outcome> {
        let start = Instant::now();
        let end = start + duration;
        let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
        // The schedule's next slot: slot k is due at start + k * interval, whoever sends it.
        let next_slot = Arc::new(AtomicU64::new(0));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..callers.max(1) {
            let driver = Arc::clone(self);
            let next_slot = Arc::clone(&next_slot);
            workers.spawn(async move {
                let mut out = Vec::new();
                loop {
                    let k = next_slot.fetch_add(1, Ordering::Relaxed);
                    let Some(scheduled) = u32::try_from(k)
                        .ok()
                        .and_then(|k| interval.checked_mul(k))
                        .map(|offset| start + offset)
                        .filter(|due| *due < end)
                    else {
                        break;
                    };
                    if driver.halt.load(Ordering::SeqCst) {
                        break;
                    }
                    tokio::time::sleep_until(scheduled.into()).await;
                    // Users in turn, by slot, whichever caller sends it.
                    let session = &driver.sessions[k as usize % driver.sessions.len()];
                    let seq = driver.seq.fetch_add(1, Ordering::Relaxed);
                    out.push(driver.one(session, seq, scheduled).await);
                }
                out
            });
        }
        gather(workers).await
    }

    /// Makes call `seq` on `session`; its latency counts from `since`.
    async fn one(&self, session: &Session, seq: u64, since: Instant) -> Outcome {
        let (tool, args) = call_for(seq, self.marked);
        let result = session.call(tool, args).await;
        let latency = since.elapsed();
        let error = match &result {
            Ok(()) => {
                self.counters.ok.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                Some((e.kind(), e.reached_tool()))
            }
        };
        if error.is_none_or(|(_, reached)| reached) {
            self.counters.reached_tool.send_modify(|n| *n += 1);
        }
        Outcome {
            seq,
            latency,
            error,
        }
    }
}

/// Every caller's outcomes, once all have returned.
async fn gather(mut workers: tokio::task::JoinSet<Vec<Outcome>>) -> Vec<Outcome> {
    let mut all = Vec::new();
    while let Some(done) = workers.join_next().await {
        // A caller panicking is a bug in this module; its calls are lost, not the run.
        if let Ok(out) = done {
            all.extend(out);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_alternates_and_marks_only_when_asked() {
        let check = |seq: u64, marked: bool, expected: (&str, Value)| {
            assert_eq!(call_for(seq, marked), expected, "seq {seq} marked {marked}");
        };
        check(0, true, ("git_status", json!({})));
        check(1, false, ("git_log", json!({"max_count": 5})));
        check(
            3,
            true,
            (
                "git_log",
                json!({"max_count": 5, "grep": "load-marker-0000000003"}),
            ),
        );
        assert_ne!(marker(1), marker(11));
    }
}
