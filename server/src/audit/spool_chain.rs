//! Chaining spool files into the store: the complete lines of one file not chained yet
//! ([`chain_file`], a transaction per batch), and every spool file of a directory ([`settle`]:
//! this process's, those of processes that are gone, and waiting for live ones).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;

use super::log::HEAD;
use super::spool::{EXT, OnChained, Spool, io_err};
use super::sync_append::{AppenderSlot, SyncAppender, db_err, insert};
use super::{Appended, AuditKey, Checkpoint, Error, IndexedColumns, now_rfc3339};

/// At most this many lines per transaction, so a backlog never holds the write lock for long.
const BATCH: usize = 512;
/// How often a reader looks whether a live process has chained what it waits for.
const POLL: Duration = Duration::from_millis(1);

const SPOOL_STATE: &str = "SELECT lines, bytes FROM audit_spools WHERE name = ?1";
const ADVANCE: &str = "INSERT INTO audit_spools (name, lines, bytes, updated_at) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET lines = excluded.lines, \
     bytes = excluded.bytes, updated_at = excluded.updated_at";

/// What [`chain_file`] did.
pub(super) struct Chained {
    pub(super) appended: Vec<Appended>,
    /// Bytes of the file chained now (all passes included).
    pub(super) bytes: u64,
    /// The file ends in part of a line (being written, or cut by a power loss).
    pub(super) partial_tail: bool,
    /// The line chaining stopped at, when it was not a valid spool line.
    pub(super) bad: Option<Error>,
}

/// Chains every complete line of spool `name` (file `path`, read through `file`) not chained
/// yet, [`BATCH`] lines per transaction. A bad line stops it after the good ones before it were
/// committed; the error is returned in [`Chained::bad`] beside them.
pub(super) fn chain_file(
    a: &mut SyncAppender<'_>,
    key: &AuditKey,
    name: &str,
    path: &Path,
    file: &mut File,
) -> Result<Chained, Error> {
    let mut out = Chained {
        appended: Vec::new(),
        bytes: 0,
        partial_tail: false,
        bad: None,
    };
    loop {
        let tx = a
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let mut pass = Pass::begin(&tx, name, path, file)?;
        let full = pass.chain_batch(&tx, key, name, path, file, &mut out)?;
        out.bytes = u64::try_from(pass.bytes).unwrap_or(0);
        if pass.appended.is_empty() {
            // Nothing to record: the transaction rolls back when dropped.
            return Ok(out);
        }
        let (head, appended) = pass.commit(tx, name)?;
        a.set_head(Some(head));
        out.appended.extend(appended);
        if !full {
            return Ok(out);
        }
    }
}

/// One transaction of [`chain_file`]: how far the file and the chain are, both advanced line by
/// line, and the events appended so far.
struct Pass {
    /// Lines and bytes of the file chained (its row in `audit_spools`).
    lines: i64,
    bytes: i64,
    /// The chain head.
    seq: i64,
    prev: String,
    appended: Vec<Appended>,
}

impl Pass {
    /// Reads where the file and the chain stand, and moves `file` to the first line not chained.
    fn begin(
        tx: &rusqlite::Transaction<'_>,
        name: &str,
        path: &Path,
        file: &mut File,
    ) -> Result<Self, Error> {
        // Cached statements: parsing the SQL again on every pass was a visible part of the
        // chainer's cost.
        let (lines, bytes): (i64, i64) = tx
            .prepare_cached(SPOOL_STATE)
            .and_then(|mut st| {
                st.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(db_err)?
            .unwrap_or((0, 0));
        let start = u64::try_from(bytes).unwrap_or(0);
        file.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
        let (seq, prev): (i64, String) = tx
            .prepare_cached(HEAD)
            .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(db_err)?;
        Ok(Self {
            lines,
            bytes,
            seq,
            prev,
            appended: Vec::new(),
        })
    }

    /// Chains up to [`BATCH`] complete lines of `file`; returns whether the batch was full (more
    /// may follow). A partial last line or a bad line ends it early and is noted in `out`.
    fn chain_batch(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        key: &AuditKey,
        name: &str,
        path: &Path,
        file: &mut File,
        out: &mut Chained,
    ) -> Result<bool, Error> {
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        for _ in 0..BATCH {
            buf.clear();
            let read = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
            if read == 0 {
                return Ok(false);
            }
            if buf.last() != Some(&b'\n') {
                out.partial_tail = true;
                return Ok(false);
            }
            let number = u64::try_from(self.lines).unwrap_or(0) + 1;
            match parse_line(key, name, number, &buf) {
                Ok((event_json, columns)) => {
                    self.chain_line(tx, key, event_json, &columns, read)?
                }
                Err(reason) => {
                    out.bad = Some(Error::SpoolTampered {
                        path: path.display().to_string(),
                        line: number,
                        reason: reason.to_owned(),
                    });
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Appends the event of a line of `read` bytes after the head, and advances past it.
    fn chain_line(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        key: &AuditKey,
        event_json: &str,
        columns: &IndexedColumns,
        read: usize,
    ) -> Result<(), Error> {
        let hash = key.chain_hash(&self.prev, event_json);
        let next = u64::try_from(self.seq).unwrap_or(0) + 1;
        if insert(tx, next, &self.prev, &hash, event_json, columns)? != 1 {
            return Err(Error::ChainHeadMismatch);
        }
        self.appended.push(Appended {
            seq: next,
            prev_hash: std::mem::replace(&mut self.prev, hash.clone()),
            hash,
            event_json: event_json.to_owned(),
        });
        self.seq += 1;
        self.lines += 1;
        self.bytes += i64::try_from(read).unwrap_or(i64::MAX);
        Ok(())
    }

    /// Records how far the file is chained in the same transaction as its events (so a crash
    /// neither chains a line twice nor skips one), commits, and returns the new chain head and
    /// the events appended.
    fn commit(
        self,
        tx: rusqlite::Transaction<'_>,
        name: &str,
    ) -> Result<(Checkpoint, Vec<Appended>), Error> {
        tx.prepare_cached(ADVANCE)
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    name,
                    self.lines,
                    self.bytes,
                    now_rfc3339()
                ])
            })
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        let head = Checkpoint {
            seq: u64::try_from(self.seq).unwrap_or(0),
            hash: self.prev,
        };
        Ok((head, self.appended))
    }
}

/// The event of spool line `number` (`N\tMAC\tJSON\n`), checked; or why it is not valid.
fn parse_line<'a>(
    key: &AuditKey,
    name: &str,
    number: u64,
    line: &'a [u8],
) -> Result<(&'a str, IndexedColumns), &'static str> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8")?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut parts = text.splitn(3, '\t');
    let (Some(n), Some(mac), Some(event_json)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not a spool line (N, MAC, event)");
    };
    if n.parse::<u64>().ok() != Some(number) {
        return Err("its number is out of order: a line was removed, moved or inserted");
    }
    if mac != key.spool_mac(name, number, event_json) {
        return Err("its MAC does not match: edited, moved from another file, or another key");
    }
    let columns = IndexedColumns::from_json(event_json).ok_or("its event is not an audit event")?;
    Ok((event_json, columns))
}

/// Brings the chain up to date with every spool in `dir`: this process's (`own`), those whose
/// process is gone (chained with `key`, then removed; skipped without a key), and those of live
/// processes, whose chainers it waits for (up to `wait`) to reach what their files held.
pub(super) fn settle(
    appender: &AppenderSlot,
    dir: &Path,
    own: Option<&Spool>,
    key: Option<&AuditKey>,
    on_chained: Option<&OnChained>,
    wait: Duration,
) -> Result<(), Error> {
    if let Some(own) = own {
        own.flush()?;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let own_path = own.map(Spool::chaining_path);
    let mut live = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_err(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXT)
            || Some(&path) == own_path.as_ref()
        {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            // Removed by its owner or another reader since the listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&path)(e)),
        };
        match file.try_lock() {
            Ok(()) => {
                let Some(key) = key else { continue };
                let done = appender.with(|a| chain_file(a, key, &name, &path, &mut file))?;
                if let Some(on_chained) = on_chained {
                    done.appended.iter().for_each(on_chained);
                }
                if let Some(bad) = done.bad {
                    return Err(bad);
                }
                if done.partial_tail {
                    tracing::warn!(path = %path.display(), "audit spool ends in a partial line (cut by a power loss?); kept");
                } else if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(io_err(&path)(e));
                }
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let size = file.metadata().map_err(io_err(&path))?.len();
                live.push((name, path, size));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
    }
    wait_for_live(appender, &live, wait)
}

/// Waits until each live spool `(name, path, size)` is chained up to `size` bytes, or `wait`
/// passed (then logs what is still pending: a busy or stuck process).
fn wait_for_live(
    appender: &AppenderSlot,
    live: &[(String, PathBuf, u64)],
    wait: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + wait;
    for (name, path, size) in live {
        loop {
            let chained: i64 = appender.with(|a| {
                a.conn()
                    .query_row(
                        "SELECT bytes FROM audit_spools WHERE name = ?1",
                        [name],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)
                    .map(Option::unwrap_or_default)
            })?;
            if u64::try_from(chained).unwrap_or(0) >= *size {
                break;
            }
            if Instant::now() >= deadline {
                if !wait.is_zero() {
                    tracing::warn!(
                        path = %path.display(),
                        pending_bytes = size.saturating_sub(u64::try_from(chained).unwrap_or(0)),
                        "a running gitgate has not chained its latest audit events yet; they are not in this result"
                    );
                }
                break;
            }
            std::thread::sleep(POLL);
        }
    }
    Ok(())
}
