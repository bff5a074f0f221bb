//! A blocking append path for SQLite, used from the thread that just ran a tool call.
//!
//! Appending through sqlx's SQLite driver costs two thread hand-offs per statement (its worker
//! thread, then the async task) — on the order of 100 µs per call, half of a whole `git_status`.
//! This path runs the same conditional `INSERT` (see `append`) on a rusqlite connection of its
//! own (the store's `SyncWriter`), in the caller's thread: the chain protocol is identical, so it
//! interleaves safely with the async path and with other processes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::log::HEAD;
use super::{AuditKey, Checkpoint, Error, IndexedColumns};
use crate::store::{Durability, SyncWriter};

/// The blocking appender of a store: its blocking connection (see [`SyncWriter`]: opened on
/// first use, shared with the token lookup when idle, see `Store::read_blocking`) and the head
/// this process last wrote through it; shared by the request path and the spool's chainer
/// thread.
#[derive(Debug, Clone)]
pub(super) struct AppenderSlot {
    writer: SyncWriter,
    /// Locked only while holding the writer's connection, so never waited for: it is the
    /// connection's state, kept here because it is the audit log's.
    head: Arc<Mutex<Option<Checkpoint>>>,
}

impl AppenderSlot {
    pub(super) fn new(writer: SyncWriter) -> Self {
        Self {
            writer,
            head: Arc::new(Mutex::new(None)),
        }
    }

    pub(super) fn path(&self) -> &Path {
        self.writer.path()
    }

    pub(super) fn durability(&self) -> Durability {
        self.writer.durability()
    }

    /// Runs `f` on the appender (waiting for it if busy). After an error the head is forgotten,
    /// so the next append re-reads it under the write lock.
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut SyncAppender<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut conn = self.writer.lock().map_err(db_err)?;
        // A panic while appending leaves nothing half-done in memory that matters: the head is
        // re-read from the database after any failure.
        let mut head = self
            .head
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut appender = SyncAppender {
            conn: &mut conn,
            head: &mut head,
        };
        let result = f(&mut appender);
        if result.is_err() {
            appender.set_head(None);
        }
        result
    }
}

/// One process's blocking appender, while it is held: the connection and the head it last wrote.
pub(super) struct SyncAppender<'a> {
    conn: &'a mut rusqlite::Connection,
    head: &'a mut Option<Checkpoint>,
}

pub(super) fn db_err(e: rusqlite::Error) -> Error {
    Error::SyncAppend(e)
}

const APPEND: &str = "INSERT INTO audit_events \
     (seq, id, time, user_name, tool, repo, allowed, ok, event, prev_hash, hash) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 FROM audit_head \
     WHERE id = 1 AND seq = ?1 - 1 AND hash = ?10";

impl SyncAppender<'_> {
    /// The connection, for reads between appends (see `spool_chain`).
    pub(super) fn conn(&self) -> &rusqlite::Connection {
        &*self.conn
    }

    /// The connection, for a transaction that appends several events (see `spool`); the caller
    /// reports the head it left with [`SyncAppender::set_head`].
    pub(super) fn conn_mut(&mut self) -> &mut rusqlite::Connection {
        &mut *self.conn
    }

    /// The head this process last wrote (`None`: unknown, re-read on the next append).
    pub(super) fn set_head(&mut self, head: Option<Checkpoint>) {
        *self.head = head;
    }

    /// Appends after the head this process last wrote (one statement), or, when another writer
    /// moved the head, under `BEGIN IMMEDIATE`; returns `(prev_hash, new head)`.
    pub(super) fn append(
        &mut self,
        key: &AuditKey,
        event_json: &str,
        columns: &IndexedColumns,
    ) -> Result<(String, Checkpoint), Error> {
        let result = self.try_append(key, event_json, columns);
        match &result {
            Ok((_, new)) => *self.head = Some(new.clone()),
            Err(_) => *self.head = None,
        }
        result
    }

    fn try_append(
        &mut self,
        key: &AuditKey,
        event_json: &str,
        columns: &IndexedColumns,
    ) -> Result<(String, Checkpoint), Error> {
        if let Some(head) = self.head.take() {
            let hash = key.chain_hash(&head.hash, event_json);
            if insert(
                &*self.conn,
                head.seq + 1,
                &head.hash,
                &hash,
                event_json,
                columns,
            )? == 1
            {
                return Ok((
                    head.hash,
                    Checkpoint {
                        seq: head.seq + 1,
                        hash,
                    },
                ));
            }
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let (seq, prev): (i64, String) = tx
            .query_row(HEAD, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?;
        let seq = u64::try_from(seq).map_err(|_| Error::ChainHeadMismatch)?;
        let hash = key.chain_hash(&prev, event_json);
        if insert(&tx, seq + 1, &prev, &hash, event_json, columns)? != 1 {
            return Err(Error::ChainHeadMismatch);
        }
        tx.commit().map_err(db_err)?;
        Ok((prev, Checkpoint { seq: seq + 1, hash }))
    }
}

/// Runs the conditional insert of one event after head `(seq - 1, prev_hash)`; returns the rows
/// inserted (0 when the head moved).
pub(super) fn insert(
    conn: &rusqlite::Connection,
    seq: u64,
    prev_hash: &str,
    hash: &str,
    event_json: &str,
    c: &IndexedColumns,
) -> Result<usize, Error> {
    let seq = i64::try_from(seq).map_err(|_| Error::ChainHeadMismatch)?;
    let mut stmt = conn.prepare_cached(APPEND).map_err(db_err)?;
    stmt.execute(rusqlite::params![
        seq, c.id, c.time, c.user, c.tool, c.repo, c.allowed, c.ok, event_json, prev_hash, hash
    ])
    .map_err(db_err)
}
