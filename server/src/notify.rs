//! Log messages for the MCP client (`notifications/message`): what a call's work wants the
//! agent's user to know while it runs (a GitHub retry and its wait, a rate limit, the audit log
//! failing), sent at the client's `logging/setLevel` level or above.
//!
//! Work deep in a call (the GitHub client's retry loop) does not know the session it serves.
//! The call installs a [`Sink`] for the thread it runs on (tool calls run on one blocking
//! thread, and GitHub futures are polled on it through `Handle::block_on`), and [`emit`] puts
//! a note there; the session forwards the notes to its client before the call's result.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: Level,
    pub text: String,
}

/// Where a call's notes go: a bounded channel to its session's forwarder.
pub type Sink = tokio::sync::mpsc::Sender<Note>;

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Runs `work` with `sink` receiving the notes emitted on this thread meanwhile.
pub fn scope<R>(sink: Option<Sink>, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<Sink>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SINK.with(|s| *s.borrow_mut() = previous);
        }
    }
    let previous = SINK.with(|s| s.replace(sink));
    let _restore = Restore(previous);
    work()
}

/// Sends `text` at `level` to the client of the call running on this thread, if it listens.
/// Never blocks: a full channel drops the note.
pub fn emit(level: Level, text: impl Into<String>) {
    SINK.with(|s| {
        if let Some(sink) = s.borrow().as_ref() {
            let mut text: String = text.into();
            if text.chars().count() > NOTE_MAX {
                text = text.chars().take(NOTE_MAX).collect::<String>() + "…";
            }
            let _ = sink.try_send(Note { level, text });
        }
    });
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
        scope(Some(tx), || {
            emit(Level::Warning, "inside");
            std::thread::spawn(|| emit(Level::Warning, "other thread"))
                .join()
                .unwrap_or_else(|_| panic!("thread"));
        });
        emit(Level::Warning, "after");
        let got = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.text, "inside");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_full_sink_drops_notes_instead_of_blocking() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        scope(Some(tx), || {
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
