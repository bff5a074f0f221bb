//! The tamper-evident audit log: events, the HMAC hash chain, and the log itself (append, spool,
//! query, verify, export) on top of [`crate::store`].
//!
//! This module owns what an event is, how the chain is computed and checked, and how events are
//! kept: [`Log`] appends in chain order over the store's pool (`log.rs`, `append.rs`; on
//! PostgreSQL concurrent appends share one statement and commit, `group_commit.rs`), on
//! SQLite files also on the store's blocking connection (`sync_append.rs`) or through a
//! per-process spool file (`spool.rs`, `spool_chain.rs`); [`Recorder`] is what the server
//! writes through. The store only holds the tables and connections. The chain:
//!
//! ```text
//! hash(n) = hex(HMAC-SHA256(key, prev_hash(n) || canonical_json(event(n))))
//! prev_hash(1) = "000…0" (64 zeros), prev_hash(n) = hash(n-1)
//! ```
//!
//! where `prev_hash` enters the MAC as its 64 ASCII hex characters and `canonical_json` is
//! [`canonical_json`]: object keys sorted recursively, no whitespace. The store keeps the exact
//! canonical text that was hashed, so verification never depends on re-serialising numbers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gitgate::audit::{AuditEvent, AuditKey, AuthMethod, Decision, Log, Outcome};
//! use gitgate::store::Store;
//!
//! let store = Store::connect("sqlite:///var/lib/gitgate/gitgate.db").await?;
//! let log = Log::new(store);
//! let key = AuditKey::from_bytes(&std::fs::read("/etc/gitgate/audit.key")?)?;
//! let args = serde_json::json!({ "repo": "acme/widgets" });
//! let event = AuditEvent::builder("replica-1", "alice", AuthMethod::Token, "git_status", &args)
//!     .decision(Decision::allow("scope git:read"))
//!     .outcome(Outcome::success())
//!     .build();
//! let appended = log.append(&event, &key).await?; // committed when this returns
//! assert!(log.verify(&key, None).await?.is_ok());
//! # let _ = appended.seq;
//! # Ok(())
//! # }
//! ```

mod append;
pub mod bench;
mod chain;
mod event;
mod group_commit;
mod log;
mod mirror;
mod recorder;
mod scrub;
mod spool;
mod spool_chain;
mod sync_append;

/// The log's time format is the store's (its text columns sort by it).
pub use crate::store::{format_time, now_rfc3339};
pub use chain::{
    AuditKey, ChainRow, ChainVerifier, Checkpoint, GENESIS_HASH, IndexedColumns, Tamper,
    TamperKind, VerifyReport,
};
pub use event::{
    ARGUMENTS_MAX, AuditEvent, AuthMethod, ClientInfo, Decision, EventBuilder, NAME_MAX, Outcome,
    REDACTED, STRING_MAX, TOOL_MAX, Target, canonical_json, event_schema, new_event_id, redact,
    redact_object,
};
pub use log::Log;
pub use mirror::JsonlMirror;
pub use recorder::{RecordError, Recorder};
pub use scrub::{cap, clean, escape_for_terminal, escape_json_text, redact_text};
pub use spool::OnChained;

/// Errors of the audit module's own operations: keys, the mirror file, and the log (appends,
/// the spool, reads). Messages name the object; none contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("audit key is {len} bytes; at least {min} random bytes are required")]
    KeyTooShort { len: usize, min: usize },
    #[error("audit mirror {path}")]
    Mirror {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("audit append failed")]
    SyncAppend(#[source] rusqlite::Error),
    #[error("invalid audit event: {reason}")]
    InvalidEvent { reason: String },
    #[error("stored audit event {seq} is not a valid event (run `gitgate audit verify`)")]
    CorruptEvent {
        seq: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("the audit chain head does not match the last event; run `gitgate audit verify`")]
    ChainHeadMismatch,
    /// PostgreSQL group commit: the batch this event was in failed as a whole, none of its
    /// events was written.
    #[error("a batch of {events} audit events could not be committed")]
    Batch {
        events: usize,
        #[source]
        source: std::sync::Arc<Error>,
    },
    /// PostgreSQL group commit: the task writing this event's batch died before answering, so
    /// whether it was written is unknown (the call is treated as not audited).
    #[error("the audit batch holding this event was abandoned before it answered")]
    BatchLost,
    #[error("audit spool {path}: {source}")]
    Spool {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "audit spool {path}, line {line}: {reason}; the file was altered before its events were \
         chained: keep it for investigation, move it out of the spool directory to go on"
    )]
    SpoolTampered {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("writing the audit export")]
    Export(#[source] std::io::Error),
    #[error("store query failed")]
    Database(#[from] sqlx::Error),
}

/// What [`Log::query`] and [`Log::export`] select. Every field is optional; `None` matches all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub tool: Option<String>,
    /// Exact `owner/name` or local repository name, as recorded in `target.repo`.
    pub repo: Option<String>,
    /// `Some(true)`: only allowed calls; `Some(false)`: only denied ones.
    pub allowed: Option<bool>,
    /// `Some(false)`: only calls whose outcome was an error; `Some(true)`: only successes.
    pub ok: Option<bool>,
    /// Events at or after this instant.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Events strictly before this instant.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Keep only the most recent `limit` matches (results are still in sequence order).
    pub limit: Option<u64>,
}

/// One event as stored: its place in the chain and the event itself.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    pub event: AuditEvent,
    /// The canonical JSON text of `event` exactly as hashed.
    pub event_json: String,
}

impl StoredEvent {
    /// The JSON Lines form used by export and the mirror:
    /// `{"seq":N,"prev_hash":"…","hash":"…","event":{…}}` (no trailing newline). The event is the
    /// stored canonical text with line separators and other invisible controls escaped
    /// (`\u2028`), so parsing it and taking [`canonical_json`] gives the hashed text back.
    pub fn to_jsonl(&self) -> String {
        jsonl_line(self.seq, &self.prev_hash, &self.hash, &self.event_json)
    }
}

/// The receipt of an append: where the event landed in the chain. Returned only after commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    /// The canonical JSON text that was hashed and stored (arguments already redacted).
    pub event_json: String,
}

impl Appended {
    /// The JSON Lines form, the same as [`StoredEvent::to_jsonl`].
    pub fn to_jsonl(&self) -> String {
        jsonl_line(self.seq, &self.prev_hash, &self.hash, &self.event_json)
    }

    /// This entry as a checkpoint (e.g. to export the head after a batch).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

fn jsonl_line(seq: u64, prev_hash: &str, hash: &str, event_json: &str) -> String {
    // `event_json` is already JSON; the hashes are quoted properly even if a tampered row holds
    // something other than hex.
    let prev_hash = serde_json::Value::from(prev_hash);
    let hash = serde_json::Value::from(hash);
    let line =
        format!(r#"{{"seq":{seq},"prev_hash":{prev_hash},"hash":{hash},"event":{event_json}}}"#);
    // U+2028/U+2029/U+0085 end a line for some JSON Lines readers and bidi controls reorder what
    // a viewer shows: escaped here, on output, the stored text and its hash stay as they were,
    // and a parser reads the same event (re-canonicalising it gives the hashed text).
    if let std::borrow::Cow::Owned(escaped) = scrub::escape_json_text(&line) {
        return escaped;
    }
    line
}

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod spool_tests;
#[cfg(test)]
mod tests;
