//! The audit log's persistence: append in chain order, query, verify, export, checkpoints.
//!
//! Ordering: an event's `seq` is its predecessor's plus one and its `prev_hash` the predecessor's
//! hash, and the insert only succeeds if the row `audit_head` (advanced by a trigger in the same
//! transaction) still says so. PostgreSQL locks that row first (`SELECT ... FOR UPDATE`), so
//! replicas append one after another. SQLite takes its database write lock at the start of the
//! single conditional `INSERT`, so the check and the insert are atomic; if another process
//! appended since this one last did, the insert matches no row and the append is redone under
//! `BEGIN IMMEDIATE`.

use std::io::Write;

use crate::audit::{
    Appended, AuditEvent, AuditFilter, AuditKey, ChainRow, ChainVerifier, Checkpoint,
    IndexedColumns, StoredEvent, VerifyReport,
};

use super::{Backend, Error, Store, now, on_backend, to_i64, to_u64};

/// Inserts the event if, and only if, `audit_head` is still `($1 - 1, $10)`.
const APPEND: &str = "INSERT INTO audit_events \
     (seq, id, time, user_name, tool, repo, allowed, ok, event, prev_hash, hash) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM audit_head \
     WHERE id = 1 AND seq = $1 - 1 AND hash = $10";
const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
const LOCK_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

macro_rules! filtered {
    ($order:literal) => {
        concat!(
            "SELECT seq, prev_hash, hash, event FROM audit_events \
             WHERE ($1 IS NULL OR user_name = $1) AND ($2 IS NULL OR tool = $2) \
             AND ($3 IS NULL OR repo = $3) AND ($4 IS NULL OR allowed = $4) \
             AND ($5 IS NULL OR ok = $5) AND ($6 IS NULL OR time >= $6) \
             AND ($7 IS NULL OR time < $7) AND seq > $8 ORDER BY seq ",
            $order,
            " LIMIT $9"
        )
    };
}
/// The most recent matches (for `limit`).
const QUERY_NEWEST: &str = filtered!("DESC");
/// Matches after a sequence number, oldest first (paging through everything).
const QUERY_PAGE: &str = filtered!("ASC");
const VERIFY_PAGE: &str = "SELECT seq, id, time, user_name, tool, repo, allowed, ok, event, \
     prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2";
/// Rows per round trip when walking the whole log.
const PAGE: i64 = 1000;

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    prev_hash: String,
    hash: String,
    event: String,
}

impl EventRow {
    fn into_stored(self) -> Result<StoredEvent, Error> {
        let seq = to_u64(self.seq);
        let event = serde_json::from_str(&self.event)
            .map_err(|source| Error::CorruptEvent { seq, source })?;
        Ok(StoredEvent {
            seq,
            prev_hash: self.prev_hash,
            hash: self.hash,
            event,
            event_json: self.event,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChainRowDb {
    seq: i64,
    id: String,
    time: String,
    user_name: String,
    tool: String,
    repo: Option<String>,
    allowed: bool,
    ok: bool,
    event: String,
    prev_hash: String,
    hash: String,
}

impl From<ChainRowDb> for ChainRow {
    fn from(row: ChainRowDb) -> Self {
        Self {
            seq: to_u64(row.seq),
            prev_hash: row.prev_hash,
            hash: row.hash,
            event_json: row.event,
            columns: IndexedColumns {
                id: row.id,
                time: row.time,
                user: row.user_name,
                tool: row.tool,
                repo: row.repo,
                allowed: row.allowed,
                ok: row.ok,
            },
        }
    }
}

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

/// This process's appending state (see `Inner::appender`).
#[derive(Debug, Default)]
pub(super) struct Appender {
    /// The head this process last wrote; re-checked by the insert.
    head: Option<Checkpoint>,
    /// A connection of its own, taken out of the pool: an append skips the pool's bookkeeping
    /// (about a third of its cost on SQLite).
    sqlite: Option<sqlx::SqliteConnection>,
    postgres: Option<sqlx::PgConnection>,
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

/// Appends on PostgreSQL under the head row's lock; returns `(prev_hash, new head)`.
async fn append_postgres(
    appender: &mut Appender,
    pool: &sqlx::PgPool,
    key: &AuditKey,
    event_json: &str,
    columns: &IndexedColumns,
) -> Result<(String, Checkpoint), Error> {
    use sqlx::Connection;
    if appender.postgres.is_none() {
        appender.postgres = Some(pool.acquire().await?.detach());
    }
    let Appender {
        postgres: Some(conn),
        ..
    } = appender
    else {
        unreachable!("the connection was set just above")
    };
    let mut tx = conn.begin().await?;
    let (seq, prev): (i64, String) = sqlx::query_as(LOCK_HEAD).fetch_one(&mut *tx).await?;
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

impl Store {
    /// Appends `event` to the chain and returns after the commit: the event is then on disk (see
    /// [`super::Durability`]) and holds the next sequence number. `arguments` are redacted again
    /// before hashing. Safe with any number of tasks and processes writing the same store.
    pub async fn append_audit(
        &self,
        event: &AuditEvent,
        key: &AuditKey,
    ) -> Result<Appended, Error> {
        let (event_json, columns) = prepare(event)?;
        // Held across the database round trips on purpose: see `Inner::appender`.
        let mut appender = self.inner.appender.lock().await;
        let appended = match &self.inner.backend {
            Backend::Sqlite(pool) => {
                append_sqlite(&mut appender, pool, key, &event_json, &columns).await
            }
            Backend::Postgres(pool) => {
                append_postgres(&mut appender, pool, key, &event_json, &columns).await
            }
        };
        let (prev_hash, new) = match appended {
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

    /// [`Store::append_audit`] from a blocking context, without any thread hand-off: returns
    /// `None` when this store has no blocking path (PostgreSQL, in-memory SQLite), so the caller
    /// uses the async one. Call it only where blocking is allowed (e.g. `spawn_blocking`).
    pub fn append_audit_blocking(
        &self,
        event: &AuditEvent,
        key: &AuditKey,
    ) -> Option<Result<Appended, Error>> {
        let slot = self.inner.sync_appender.as_ref()?;
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

    /// Events matching `filter`, in sequence order (with `limit`, the most recent ones).
    pub async fn query_audit(&self, filter: &AuditFilter) -> Result<Vec<StoredEvent>, Error> {
        self.settle_audit(None).await?;
        self.query_settled(filter).await
    }

    /// [`Store::query_audit`] once spools are settled.
    async fn query_settled(&self, filter: &AuditFilter) -> Result<Vec<StoredEvent>, Error> {
        if let Some(limit) = filter.limit {
            let mut rows = self
                .query_rows(QUERY_NEWEST, filter, 0, to_i64(limit))
                .await?;
            rows.reverse();
            return rows.into_iter().map(EventRow::into_stored).collect();
        }
        let mut events = Vec::new();
        self.for_each_page(filter, |page| {
            events.extend(page);
            Ok(())
        })
        .await?;
        Ok(events)
    }

    /// Writes the events matching `filter` to `out` as JSON Lines (`{seq, prev_hash, hash,
    /// event}`, see [`StoredEvent::to_jsonl`]), a page at a time. Returns the number written.
    pub async fn export_audit(
        &self,
        out: &mut (dyn Write + Send),
        filter: &AuditFilter,
    ) -> Result<u64, Error> {
        self.settle_audit(None).await?;
        let mut written = 0u64;
        let mut write = |page: Vec<StoredEvent>| -> Result<(), Error> {
            for event in page {
                let mut line = event.to_jsonl();
                line.push('\n');
                out.write_all(line.as_bytes()).map_err(Error::Export)?;
                written += 1;
            }
            Ok(())
        };
        if filter.limit.is_some() {
            write(self.query_settled(filter).await?)?;
        } else {
            self.for_each_page(filter, write).await?;
        }
        out.flush().map_err(Error::Export)?;
        Ok(written)
    }

    async fn for_each_page(
        &self,
        filter: &AuditFilter,
        mut each: impl FnMut(Vec<StoredEvent>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut after = 0i64;
        loop {
            let rows = self.query_rows(QUERY_PAGE, filter, after, PAGE).await?;
            let full = rows.len() == usize::try_from(PAGE).unwrap_or(usize::MAX);
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.seq;
            each(
                rows.into_iter()
                    .map(EventRow::into_stored)
                    .collect::<Result<_, _>>()?,
            )?;
            if !full {
                return Ok(());
            }
        }
    }

    async fn query_rows(
        &self,
        sql: &'static str,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, Error> {
        let since = filter.since.as_ref().map(crate::audit::format_time);
        let until = filter.until.as_ref().map(crate::audit::format_time);
        let rows = on_backend!(self, pool => sqlx::query_as(sql)
            .bind(&filter.user)
            .bind(&filter.tool)
            .bind(&filter.repo)
            .bind(filter.allowed)
            .bind(filter.ok)
            .bind(&since)
            .bind(&until)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// Walks the whole log recomputing the chain with `key`, checking the stored checkpoints,
    /// `checkpoint` (one exported earlier, to catch truncation) and the recorded head. Appends may
    /// continue meanwhile. Tampering is reported in the result, not as an error.
    pub async fn verify_audit(
        &self,
        key: &AuditKey,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<VerifyReport, Error> {
        self.settle_audit(Some(key)).await?;
        let mut checkpoints = self.list_checkpoints().await?;
        checkpoints.extend(checkpoint.cloned());
        let head_before = self.head().await?;
        let mut verifier = ChainVerifier::new(key, &checkpoints);
        let mut after = 0i64;
        loop {
            let rows: Vec<ChainRowDb> = on_backend!(self, pool => sqlx::query_as(VERIFY_PAGE)
                .bind(after)
                .bind(PAGE)
                .fetch_all(pool)
                .await?);
            let full = rows.len() == usize::try_from(PAGE).unwrap_or(usize::MAX);
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in rows {
                verifier.push(&ChainRow::from(row));
            }
            if !full {
                break;
            }
        }
        let head_after = self.head().await?;
        Ok(verifier.finish(Some((&head_before, &head_after))))
    }

    /// The current end of the chain (genesis for an empty log), spooled events chained first:
    /// export it to detect truncation.
    pub async fn checkpoint(&self) -> Result<Checkpoint, Error> {
        self.settle_audit(None).await?;
        self.head().await
    }

    async fn head(&self) -> Result<Checkpoint, Error> {
        let (seq, hash): (i64, String) =
            on_backend!(self, pool => sqlx::query_as(HEAD).fetch_one(pool).await?);
        Ok(Checkpoint {
            seq: to_u64(seq),
            hash,
        })
    }

    /// Records the current head in `audit_checkpoints` (checked by every verify) and returns it.
    pub async fn save_checkpoint(&self) -> Result<Checkpoint, Error> {
        let checkpoint = self.checkpoint().await?;
        on_backend!(self, pool => sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(to_i64(checkpoint.seq))
        .bind(&checkpoint.hash)
        .bind(now())
        .execute(pool)
        .await
        .map(drop)?);
        Ok(checkpoint)
    }

    /// The checkpoints recorded with [`Store::save_checkpoint`], oldest first.
    pub async fn list_checkpoints(&self) -> Result<Vec<Checkpoint>, Error> {
        let rows: Vec<(i64, String)> = on_backend!(self, pool =>
            sqlx::query_as("SELECT seq, hash FROM audit_checkpoints ORDER BY seq")
                .fetch_all(pool)
                .await?);
        Ok(rows
            .into_iter()
            .map(|(seq, hash)| Checkpoint {
                seq: to_u64(seq),
                hash,
            })
            .collect())
    }
}
