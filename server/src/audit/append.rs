//! Appending to the chain over the store's pool, from async code (either database).
//!
//! Ordering: an event's `seq` is its predecessor's plus one and its `prev_hash` the predecessor's
//! hash, and the insert only succeeds if the row `audit_head` (advanced by a trigger in the same
//! transaction) still says so. PostgreSQL appends go through `group_commit.rs`: concurrent
//! appends of a process share one statement and one commit under the head row's lock
//! (`FOR UPDATE`), so replicas append one batch after another. SQLite takes its database write
//! lock at the start of the single conditional `INSERT`, so the check and the insert are atomic;
//! if another process appended since this one last did, the insert matches no row and the append
//! is redone under `BEGIN IMMEDIATE`.

use super::log::HEAD;
use super::{Appended, AuditEvent, AuditKey, Checkpoint, Error, IndexedColumns, Log};
use crate::store::{Pool, to_i64, to_u64};

/// Inserts the event if, and only if, `audit_head` is still `($1 - 1, $10)`.
const APPEND: &str = "INSERT INTO audit_events \
     (seq, id, time, user_name, tool, repo, allowed, ok, event, prev_hash, hash) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM audit_head \
     WHERE id = 1 AND seq = $1 - 1 AND hash = $10";

/// The bound values of one append.
struct Insert<'a> {
    seq: u64,
    prev_hash: &'a str,
    hash: &'a str,
    event_json: &'a str,
    columns: &'a IndexedColumns,
}

/// Binds an [`Insert`] to [`APPEND`] for either driver.
macro_rules! append_query {
    ($insert:expr) => {{
        let i: &Insert<'_> = $insert;
        sqlx::query(APPEND)
            .bind(to_i64(i.seq))
            .bind(&i.columns.id)
            .bind(&i.columns.time)
            .bind(&i.columns.user)
            .bind(&i.columns.tool)
            .bind(&i.columns.repo)
            .bind(i.columns.allowed)
            .bind(i.columns.ok)
            .bind(i.event_json)
            .bind(i.prev_hash)
            .bind(i.hash)
    }};
}

/// Inserts the event after head `(seq, prev)` inside a transaction `tx` that holds the chain
/// lock; evaluates to the new head. A macro so that it serves both drivers' transactions.
macro_rules! insert_locked {
    ($tx:expr, $key:expr, $seq:expr, $prev:expr, $event_json:expr, $columns:expr) => {{
        let hash = $key.chain_hash($prev, $event_json);
        let insert = Insert {
            seq: $seq + 1,
            prev_hash: $prev,
            hash: &hash,
            event_json: $event_json,
            columns: $columns,
        };
        let rows = append_query!(&insert)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if rows != 1 {
            // We hold the lock and just read the head: only a hand-edited head gets here.
            return Err(Error::ChainHeadMismatch);
        }
        Checkpoint {
            seq: insert.seq,
            hash,
        }
    }};
}

/// This process's appending state on SQLite (see `log::State::appender`; PostgreSQL's is in
/// `group_commit.rs`).
#[derive(Debug, Default)]
pub(super) struct Appender {
    /// The head this process last wrote; re-checked by the insert.
    head: Option<Checkpoint>,
    /// A connection of its own, taken out of the pool: an append skips the pool's bookkeeping
    /// (about a third of its cost on SQLite).
    sqlite: Option<sqlx::SqliteConnection>,
}

/// Appends on SQLite; returns `(prev_hash, new head)`.
async fn append_sqlite(
    appender: &mut Appender,
    pool: &sqlx::SqlitePool,
    key: &AuditKey,
    event_json: &str,
    columns: &IndexedColumns,
) -> Result<(String, Checkpoint), Error> {
    use sqlx::Connection;
    if appender.sqlite.is_none() {
        appender.sqlite = Some(pool.acquire().await?.detach());
    }
    let Appender {
        head,
        sqlite: Some(conn),
        ..
    } = appender
    else {
        unreachable!("the connection was set just above")
    };
    // Fast path: one autocommit statement against the head this process last wrote. SQLite takes
    // the write lock when the statement starts, so the head check and the insert are atomic.
    if let Some(head) = head.take() {
        let hash = key.chain_hash(&head.hash, event_json);
        let insert = Insert {
            seq: head.seq + 1,
            prev_hash: &head.hash,
            hash: &hash,
            event_json,
            columns,
        };
        if append_query!(&insert)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1
        {
            let seq = insert.seq;
            return Ok((head.hash, Checkpoint { seq, hash }));
        }
    }
    // First append of this process, or another process appended since: lock, read, insert.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let (seq, prev): (i64, String) = sqlx::query_as(HEAD).fetch_one(&mut *tx).await?;
    let new = insert_locked!(tx, key, to_u64(seq), &prev, event_json, columns);
    tx.commit().await?;
    Ok((prev, new))
}

/// The canonical text and the indexed columns of `event`, or why it cannot be stored.
pub(super) fn prepare(event: &AuditEvent) -> Result<(String, IndexedColumns), Error> {
    let event_json = event.to_canonical_json().map_err(|e| Error::InvalidEvent {
        reason: e.to_string(),
    })?;
    // From the text, not the event: the text is redacted and bounded, and the columns must be
    // what the verifier derives from it.
    let columns = IndexedColumns::from_json(&event_json).ok_or_else(|| Error::InvalidEvent {
        reason: format!("time {:?} is not RFC 3339", event.time),
    })?;
    Ok((event_json, columns))
}

/// The canonical JSON of `event` alone, for the spool's request path: its indexed columns are
/// derived from this text when the line is chained, so deriving them here too (a second parse
/// of the text) would only cost the caller time. The time is checked the cheap way.
pub(super) fn prepare_json(event: &AuditEvent) -> Result<String, Error> {
    if chrono::DateTime::parse_from_rfc3339(&event.time).is_err() {
        return Err(Error::InvalidEvent {
            reason: format!("time {:?} is not RFC 3339", event.time),
        });
    }
    event.to_canonical_json().map_err(|e| Error::InvalidEvent {
        reason: e.to_string(),
    })
}

impl Log {
    /// Appends `event` to the chain and returns after the commit: the event is then on disk (see
    /// [`crate::store::Durability`]) and holds the next sequence number. `arguments` are redacted
    /// again before hashing. Safe with any number of tasks and processes writing the same store.
    pub async fn append(&self, event: &AuditEvent, key: &AuditKey) -> Result<Appended, Error> {
        let (event_json, columns) = prepare(event)?;
        let pool = match self.store.pool() {
            Pool::Sqlite(pool) => pool,
            Pool::Postgres(pool) => {
                let (prev_hash, new) = self
                    .state
                    .group
                    .append(pool, key, event_json.clone(), columns)
                    .await?;
                return Ok(Appended {
                    seq: new.seq,
                    prev_hash,
                    hash: new.hash,
                    event_json,
                });
            }
        };
        // Held across the database round trips on purpose: see `log::State::appender`.
        let mut appender = self.state.appender.lock().await;
        let (prev_hash, new) =
            match append_sqlite(&mut appender, pool, key, &event_json, &columns).await {
                Ok(done) => done,
                Err(e) => {
                    // The connection may be broken and the head unknown: start afresh next time.
                    *appender = Appender::default();
                    return Err(e);
                }
            };
        appender.head = Some(new.clone());
        Ok(Appended {
            seq: new.seq,
            prev_hash,
            hash: new.hash,
            event_json,
        })
    }

    /// [`Log::append`] from a blocking context, without any thread hand-off: returns `None` when
    /// the store has no blocking path (PostgreSQL, in-memory SQLite), so the caller uses the
    /// async one. Call it only where blocking is allowed (e.g. `spawn_blocking`).
    pub fn append_blocking(
        &self,
        event: &AuditEvent,
        key: &AuditKey,
    ) -> Option<Result<Appended, Error>> {
        let slot = self.state.sync_appender.as_ref()?;
        let run = || -> Result<Appended, Error> {
            let (event_json, columns) = prepare(event)?;
            let (prev_hash, new) = slot.with(|a| a.append(key, &event_json, &columns))?;
            Ok(Appended {
                seq: new.seq,
                prev_hash,
                hash: new.hash,
                event_json,
            })
        };
        Some(run())
    }
}
