//! What a running call tells its client, and hears from it:
//!
//! - log messages (`notifications/message`): what the work wants the agent's user to know (a
//!   GitHub retry and its wait, a rate limit, the audit log failing), sent at the client's
//!   `logging/setLevel` level or above ([`emit`]);
//! - progress (`notifications/progress`) of long calls, when the request carried a progress
//!   token: each operation of a command line, each call of a pipeline ([`progress`]);
//! - cancellation (`notifications/cancelled`): loops over operations stop at the next one
//!   ([`cancelled`]), and the call is audited as cancelled.
//!
//! Work deep in a call (the GitHub client's retry loop, the run form's executor) does not know
//! the session it serves. The call installs a [`Scope`] for the thread it runs on (tool calls
//! run on one blocking thread, and GitHub futures are polled on it through
//! `Handle::block_on`); the session forwards the notes to its client before the call's result.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// A note's severity, the levels of MCP's logging utility (RFC 5424's), least severe first.
/// Ours rather than rmcp's `Level`: the 2026-07-28 protocol deprecates the logging
/// utility (SEP-2577), so rmcp's type is used only where the 2025-11-25 wire needs it
/// (`service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

/// Notes one call may send; more are dropped (a retry storm must not flood the client).
pub const NOTES_PER_CALL: usize = 32;
/// A note's text is cut to this many characters.
const NOTE_MAX: usize = 400;

/// One message for the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Log {
        level: Level,
        text: String,
    },
    Progress {
        done: f64,
        total: Option<f64>,
        message: String,
    },
}

/// Where a call's notes go: a bounded channel to its session's forwarder.
pub type Sink = tokio::sync::mpsc::Sender<Note>;

/// What a call running on this thread talks to.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub sink: Option<Sink>,
    /// Cancelled when the client cancels the request.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// Whether the client asked for progress (sent a progress token).
    pub progress: bool,
}

thread_local! {
    static SCOPE: RefCell<Scope> = RefCell::new(Scope::default());
}

/// Runs `work` with `scope` in place for the notes emitted on this thread meanwhile.
pub fn scope<R>(scope: Scope, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                SCOPE.with(|s| *s.borrow_mut() = previous);
            }
        }
    }
    let previous = SCOPE.with(|s| s.replace(scope));
    let _restore = Restore(Some(previous));
    work()
}

fn bounded(text: String) -> String {
    if text.chars().count() > NOTE_MAX {
        text.chars().take(NOTE_MAX).collect::<String>() + "…"
    } else {
        text
    }
}

/// Sends `text` at `level` to the client of the call running on this thread, if it listens.
/// Never blocks: a full channel drops the note.
pub fn emit(level: Level, text: impl Into<String>) {
    SCOPE.with(|s| {
        if let Some(sink) = s.borrow().sink.as_ref() {
            let text = bounded(text.into());
            let _ = sink.try_send(Note::Log { level, text });
        }
    });
}

/// Reports that `done` of `total` (if known) units of the call's work are done, `message`
/// saying which; sent only when the client asked for progress.
pub fn progress(done: u64, total: Option<u64>, message: impl Into<String>) {
    SCOPE.with(|s| {
        let s = s.borrow();
        if !s.progress {
            return;
        }
        if let Some(sink) = s.sink.as_ref() {
            let _ = sink.try_send(Note::Progress {
                done: done as f64,
                total: total.map(|t| t as f64),
                message: bounded(message.into()),
            });
        }
    });
}

/// Whether the client cancelled the call running on this thread.
pub fn cancelled() -> bool {
    SCOPE.with(|s| {
        s.borrow()
            .cancel
            .as_ref()
            .is_some_and(tokio_util::sync::CancellationToken::is_cancelled)
    })
}

/// A session's `logging/setLevel` choice; no notes until the client sets one.
#[derive(Debug, Clone, Default)]
pub struct SessionLevel(Arc<AtomicU8>);

/// Stored value meaning "the client set no level".
const UNSET: u8 = 0;

impl SessionLevel {
    pub fn set(&self, level: Level) {
        self.0.store(rank(level) + 1, Ordering::Relaxed);
    }

    /// The least severe level the client wants, if it set one.
    pub fn get(&self) -> Option<u8> {
        match self.0.load(Ordering::Relaxed) {
            UNSET => None,
            n => Some(n - 1),
        }
    }

    /// Whether a note at `level` goes to the client.
    pub fn wants(&self, level: Level) -> bool {
        self.get().is_some_and(|min| rank(level) >= min)
    }
}

/// Severity order, least severe first.
pub fn rank(level: Level) -> u8 {
    level as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_reach_the_sink_of_their_thread_only_while_it_is_installed() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(NOTES_PER_CALL);
        emit(Level::Warning, "before");
        let sink = Scope {
            sink: Some(tx),
            ..Scope::default()
        };
        scope(sink, || {
            emit(Level::Warning, "inside");
            std::thread::spawn(|| emit(Level::Warning, "other thread"))
                .join()
                .unwrap_or_else(|_| panic!("thread"));
        });
        emit(Level::Warning, "after");
        let got = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&got, Note::Log { text, .. } if text == "inside"),
            "{got:?}"
        );
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_full_sink_drops_notes_instead_of_blocking() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let sink = Scope {
            sink: Some(tx),
            ..Scope::default()
        };
        scope(sink, || {
            for i in 0..10 {
                emit(Level::Info, format!("note {i}"));
            }
        });
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn progress_only_when_asked_and_cancellation_is_seen() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(NOTES_PER_CALL);
        let cancel = tokio_util::sync::CancellationToken::new();
        scope(
            Scope {
                sink: Some(tx.clone()),
                cancel: Some(cancel.clone()),
                progress: false,
            },
            || {
                progress(1, Some(2), "silent");
                assert!(!cancelled());
                cancel.cancel();
                assert!(cancelled());
            },
        );
        assert!(!cancelled());
        assert!(rx.try_recv().is_err());
        scope(
            Scope {
                sink: Some(tx),
                cancel: None,
                progress: true,
            },
            || progress(1, Some(2), "git log"),
        );
        let got = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            Note::Progress {
                done: 1.0,
                total: Some(2.0),
                message: "git log".into()
            }
        );
    }

    #[test]
    fn the_level_filters_by_severity() {
        let level = SessionLevel::default();
        assert!(!level.wants(Level::Emergency));
        level.set(Level::Warning);
        assert!(!level.wants(Level::Info));
        assert!(level.wants(Level::Warning));
        assert!(level.wants(Level::Error));
        level.set(Level::Debug);
        assert!(level.wants(Level::Debug));
    }
}
