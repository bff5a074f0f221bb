//! Blocking reads on SQLite for the per-request token lookup, without sqlx's thread hand-offs.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and wakes the task afterwards:
//! two cross-thread hand-offs that cost more than the indexed lookup itself (about 90 us of an
//! HTTP request against ~10 us for the query). Here the caller's thread runs the query on an idle
//! rusqlite connection (opened on first use, kept with its prepared statements). Nothing is
//! cached but the connections: each query reads the committed state of the file, so a revocation
//! by any process holds on the very next lookup.
//!
//! The caller blocks for one short indexed read. In WAL mode a reader never waits for a writer,
//! so this is as brief as a `std::sync::Mutex` section; the busy timeout only matters while
//! another process recovers the WAL.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::Error;

impl super::Store {
    /// Runs `read` on this thread, or returns `None` when the store has no blocking path
    /// (PostgreSQL, in-memory SQLite).
    ///
    /// The audit appender's connection (the [`super::SyncWriter`]) is used when it is idle:
    /// every call appends to the audit log, and a commit by any other connection makes SQLite
    /// drop a reader's whole page cache, so a separate reader re-read every page of the lookup
    /// (about 5 `pread`s and as many page set-ups, a third of the lookup's cost). The connection that wrote keeps its cache. It is
    /// still a fresh read transaction per call: a commit by another connection or process (a
    /// revocation) changes the WAL index, and SQLite then drops the cache and reads again.
    /// When an append holds the appender, the idle readers serve instead; an append arriving
    /// during the lookup waits for this one short indexed read.
    pub(super) fn read_blocking<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, Error>> {
        let readers = self.inner.sync_readers.as_ref()?;
        if let Some(guard) = self.inner.sync_writer.as_ref()?.try_lock()
            && let Some(conn) = guard.as_ref()
        {
            return Some(read(conn).map_err(db_err));
        }
        Some(readers.with(read))
    }
}

/// Idle read connections to one database file.
pub(super) struct SyncReaders {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl std::fmt::Debug for SyncReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncReaders")
            .field("path", &self.path)
            .finish()
    }
}

/// At most this many idle connections are kept; more concurrent readers open and close their own.
const MAX_IDLE: usize = 8;

pub(super) fn db_err(e: rusqlite::Error) -> Error {
    Error::SyncRead(e)
}

impl SyncReaders {
    pub(super) fn new(path: &Path, busy_timeout: Duration) -> Self {
        Self {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (or a new one). A connection whose query failed is
    /// dropped rather than reused.
    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let idle = self.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn).map_err(db_err)?;
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        Ok(result)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        // The list holds only idle connections: nothing is half-done if a holder panicked.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self) -> Result<rusqlite::Connection, Error> {
        let conn = rusqlite::Connection::open(&self.path).map_err(db_err)?;
        conn.busy_timeout(self.busy_timeout).map_err(db_err)?;
        // Reads only: a bug here must not be able to write the store.
        conn.execute_batch("PRAGMA query_only = ON;")
            .map_err(db_err)?;
        Ok(conn)
    }
}
