//! The audit log in a store: [`Log`], this process's appending state over the store's tables,
//! and the reading side (query, export, verify, checkpoints). Appends are in `append.rs`
//! (async), `sync_append.rs` (blocking, SQLite) and `spool.rs` (one file write per event).

use std::io::Write;
use std::sync::{Arc, OnceLock};

use super::spool::Spool;
use super::sync_append::AppenderSlot;
use super::{
    AuditFilter, AuditKey, ChainRow, ChainVerifier, Checkpoint, Error, IndexedColumns, StoredEvent,
    VerifyReport, append, format_time, group_commit, now_rfc3339,
};
use crate::store::{Store, on_backend, to_i64, to_u64};

/// The audit log kept in a [`Store`]: appends in chain order (committed one by one on SQLite,
/// in groups of concurrent appends on PostgreSQL, or spooled where the store allows it), and
/// reads that see the event of every call that returned.
///
/// Holds this process's appending state, so keep one per store in a process and clone it
/// (clones share it): the server's [`super::Recorder`] owns one, each CLI command opens one.
/// Another `Log` over the same database (another process, or a second one here) is safe too:
/// every append re-checks the chain head it builds on.
#[derive(Debug, Clone)]
pub struct Log {
    pub(super) store: Store,
    pub(super) state: Arc<State>,
}

#[derive(Debug)]
pub(super) struct State {
    /// SQLite: appends of this process go one at a time (tokio's Mutex: held across the insert's await,
    /// so tasks queue here instead of racing for the database's write lock). Holds a dedicated
    /// connection and the chain head this process last wrote, which lets SQLite append in one
    /// statement; the statement re-checks the head, so another process's append costs a retry.
    pub(super) appender: tokio::sync::Mutex<append::Appender>,
    /// PostgreSQL only: the queue and the leader's connection of the group commit.
    pub(super) group: group_commit::GroupCommit,
    /// SQLite file stores only: the blocking append path, on the store's blocking connection.
    pub(super) sync_appender: Option<AppenderSlot>,
    /// This process's audit spool, once a recorder started it (see `spool`).
    pub(super) spool: OnceLock<Spool>,
}

/// The end of the chain: the last event's sequence number and hash (0 and the genesis hash for
/// an empty log), kept by a trigger on `audit_events`.
pub(super) const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

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

impl Log {
    /// The audit log kept in `store`.
    pub fn new(store: Store) -> Self {
        let sync_appender = store.sync_writer().cloned().map(AppenderSlot::new);
        Self {
            store,
            state: Arc::new(State {
                appender: tokio::sync::Mutex::new(append::Appender::default()),
                group: group_commit::GroupCommit::default(),
                sync_appender,
                spool: OnceLock::new(),
            }),
        }
    }

    /// The store the log is kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Events matching `filter`, in sequence order (with `limit`, the most recent ones).
    pub async fn query(&self, filter: &AuditFilter) -> Result<Vec<StoredEvent>, Error> {
        self.settle(None).await?;
        self.query_settled(filter).await
    }

    /// [`Log::query`] once spools are settled.
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
    pub async fn export(
        &self,
        out: &mut (dyn Write + Send),
        filter: &AuditFilter,
    ) -> Result<u64, Error> {
        self.settle(None).await?;
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
        let since = filter.since.as_ref().map(format_time);
        let until = filter.until.as_ref().map(format_time);
        let rows = on_backend!(self.store, pool => sqlx::query_as(sql)
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
    pub async fn verify(
        &self,
        key: &AuditKey,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<VerifyReport, Error> {
        self.settle(Some(key)).await?;
        let mut checkpoints = self.list_checkpoints().await?;
        checkpoints.extend(checkpoint.cloned());
        let head_before = self.head().await?;
        let mut verifier = ChainVerifier::new(key, &checkpoints);
        let mut after = 0i64;
        loop {
            let rows: Vec<ChainRowDb> = on_backend!(self.store, pool => sqlx::query_as(VERIFY_PAGE)
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
        self.settle(None).await?;
        self.head().await
    }

    async fn head(&self) -> Result<Checkpoint, Error> {
        let (seq, hash): (i64, String) =
            on_backend!(self.store, pool => sqlx::query_as(HEAD).fetch_one(pool).await?);
        Ok(Checkpoint {
            seq: to_u64(seq),
            hash,
        })
    }

    /// Records the current head in `audit_checkpoints` (checked by every verify) and returns it.
    pub async fn save_checkpoint(&self) -> Result<Checkpoint, Error> {
        let checkpoint = self.checkpoint().await?;
        on_backend!(self.store, pool => sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(to_i64(checkpoint.seq))
        .bind(&checkpoint.hash)
        .bind(now_rfc3339())
        .execute(pool)
        .await
        .map(drop)?);
        Ok(checkpoint)
    }

    /// The checkpoints recorded with [`Log::save_checkpoint`], oldest first.
    pub async fn list_checkpoints(&self) -> Result<Vec<Checkpoint>, Error> {
        let rows: Vec<(i64, String)> = on_backend!(self.store, pool =>
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
