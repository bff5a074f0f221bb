//! This process's blocking read-write connection to a SQLite file store.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and wakes the task afterwards;
//! for the audit append on every call that cost two thread hand-offs per statement, on the order
//! of 100 µs, half of a whole `git_status`. So the audit log appends on this rusqlite connection
//! from the caller's thread (`audit::sync_append`, and the spool's chainer thread), and the
//! per-request token lookup borrows it while it is idle (see `Store::read_blocking`): the
//! connection that wrote keeps its page cache.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use super::Durability;

/// The connection, opened on first use; cheap to clone (every clone is the same connection).
#[derive(Debug, Clone)]
pub(crate) struct SyncWriter {
    path: PathBuf,
    durability: Durability,
    conn: Arc<Mutex<Option<rusqlite::Connection>>>,
}

impl SyncWriter {
    pub(super) fn new(path: &Path, durability: Durability) -> Self {
        Self {
            path: path.to_owned(),
            durability,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The durability its commits are made with.
    pub(crate) fn durability(&self) -> Durability {
        self.durability
    }

    /// The connection (waiting for it if busy), opened now if this is its first use.
    pub(crate) fn lock(&self) -> Result<WriterGuard<'_>, rusqlite::Error> {
        // A panic while writing leaves nothing half-done in memory that matters: its users
        // re-read what they rely on (the chain head) from the database after any failure.
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(open(&self.path, self.durability)?);
        }
        Ok(WriterGuard(guard))
    }

    /// The connection if nobody holds it and it is open.
    pub(super) fn try_lock(&self) -> Option<MutexGuard<'_, Option<rusqlite::Connection>>> {
        match self.conn.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// Opens a connection to the (already migrated) database file.
fn open(path: &Path, durability: Durability) -> Result<rusqlite::Connection, rusqlite::Error> {
    let conn = rusqlite::Connection::open(path)?;
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
    ))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// The locked, open connection of a [`SyncWriter`].
pub(crate) struct WriterGuard<'a>(MutexGuard<'a, Option<rusqlite::Connection>>);

impl Deref for WriterGuard<'_> {
    type Target = rusqlite::Connection;

    fn deref(&self) -> &rusqlite::Connection {
        self.0.as_ref().expect("SyncWriter::lock opened it")
    }
}

impl DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut rusqlite::Connection {
        self.0.as_mut().expect("SyncWriter::lock opened it")
    }
}
