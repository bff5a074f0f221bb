//! The audit spool: a call's event made durable with one `write`, chained into the store moments
//! after the reply.
//!
//! Why: committing a SQLite transaction per call cost about 40 us in the server (ten system
//! calls: locks on the WAL index and two WAL frames), more than the whole budget for auth plus
//! audit on a `git_status` call over stdio (10%, about 26 us). What a crash must not lose is the
//! event of a call whose reply went out. A line appended to a file with one `write(2)` is in the
//! kernel's page cache when the call returns and survives a kill of the process exactly as a WAL
//! commit with `synchronous=NORMAL` does; neither survives a power loss, and `--durable` keeps
//! the commit-per-call path (with an fsync) for that.
//!
//! How:
//! - Each server process owns one spool file, `<db>-spool/<name>.spool`, holds an exclusive lock
//!   (`flock`) on it while it lives, and appends one line per event: `N\tMAC\tJSON\n`, with N
//!   counting from 1 and MAC an HMAC with the audit key over the file's name, N and the event's
//!   canonical JSON ([`AuditKey::spool_mac`]). A line edited, dropped, moved or copied from
//!   another file before it is chained fails its MAC or its number.
//! - A thread of the owner (the chainer, at nice 10) appends spooled lines to the hash chain in
//!   batches (when calls pause for 5 ms, at least every 250 ms), and advances the file's row in
//!   `audit_spools` (lines and bytes chained) in the same transaction: after a crash nothing is
//!   chained twice or skipped.
//! - Readers see the event of every call that returned: `query_audit`, `export_audit`,
//!   `verify_audit` and `checkpoint` first chain this process's spool, then the spools of
//!   processes that are gone (their lock is free: chained, then deleted), then wait for live
//!   processes' chainers to reach what their files held ([`settle`]).
//! - A starting server chains the spools of dead processes (a crash's last events) first.
//! - A spool file is replaced by a fresh one once 8 MiB of it is chained.
//!
//! Chain order is the order of chaining, not of the calls: events of two processes interleave
//! by when each chainer ran (every event keeps its own `time`).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;

use super::Error;
use super::sync_append::{AppenderSlot, SyncAppender, db_err, insert};
use crate::audit::{Appended, AuditEvent, AuditKey, Checkpoint, IndexedColumns};

/// Called with each event the chainer appended, in chain order (the JSON Lines mirror).
pub type OnChained = Box<dyn Fn(&Appended) + Send + Sync>;

const EXT: &str = "spool";
/// At most this many lines per transaction, so a backlog never holds the write lock for long.
const BATCH: usize = 512;
/// A spool file is replaced by a fresh one once this much of it is chained.
const ROTATE_BYTES: u64 = 8 << 20;
/// The chainer's pause before retrying a failed transaction (e.g. another writer held the
/// database past the busy timeout).
const RETRY: Duration = Duration::from_millis(200);
/// How long the chainer lets lines gather after the first one, at most, before chaining them in
/// one transaction; it starts earlier once no line came for [`IDLE`]. Chaining each line as it
/// came cost more than it saved: a commit and a wake-up per call, beside the next call on a
/// 2-core machine, slowed it by more than the commit the spool took off the request path (stdio
/// `git_status` +35% against +25% committing in line); fixed batches of 5-20 ms gave +5 to +16%.
/// Under a steady stream of calls the chainer now runs a few times a second, when idle at once.
/// Readers in other processes wait up to this long for a running server's newest events.
const GATHER: Duration = Duration::from_millis(250);
/// A pause in the calls this long ends the gathering early (see [`GATHER`]).
const IDLE: Duration = Duration::from_millis(5);
/// The spool's timings and sizes; tests shrink or stretch them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    pub(super) rotate_bytes: u64,
    pub(super) gather: Duration,
    pub(super) idle: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            rotate_bytes: ROTATE_BYTES,
            gather: GATHER,
            idle: IDLE,
        }
    }
}

/// How often a reader looks whether a live process has chained what it waits for.
const POLL: Duration = Duration::from_millis(1);

/// The spool directory of the database file `db`: `<db>-spool` beside it, like `-wal`.
pub(super) fn dir_of(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push("-spool");
    db.with_file_name(name)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every holder leaves its state consistent between statements; a panic elsewhere must not
    // stop the audit path.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Spool {
        path: path.display().to_string(),
        source,
    }
}

/// This process's spool: the file being written and the chainer thread. Dropping it chains
/// what is left, stops the thread and removes the file.
pub(super) struct Spool {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

struct Shared {
    key: AuditKey,
    appender: AppenderSlot,
    dir: PathBuf,
    /// Spool names are `<instance>.<generation>`.
    instance: String,
    tuning: Tuning,
    writer: Mutex<Writer>,
    /// Bytes of the current file written, whole lines only (mirrors `Writer::len`).
    written: AtomicU64,
    /// Held while chaining this process's spool (by the chainer, or a reader flushing first).
    chaining: Mutex<Chainer>,
    /// Set once a line could not be chained: the trail can no longer be completed without an
    /// operator, so calls are refused with `failure`.
    stuck: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Lines were written since the chainer last started a pass.
    pending: AtomicBool,
    wake: Mutex<Wake>,
    wake_cond: Condvar,
    on_chained: Option<OnChained>,
}

struct Writer {
    file: File,
    name: String,
    /// The number of the next line (from 1).
    next: u64,
    len: u64,
    generation: u64,
}

struct Chainer {
    name: String,
    path: PathBuf,
    reader: File,
    /// Bytes of the current file chained.
    chained: u64,
}

#[derive(Default)]
struct Wake {
    stop: bool,
}

/// Lowers the calling thread's (the chainer's) scheduling priority to nice 10. Its work is
/// never urgent, and at normal priority it competes with the next call for the CPU (on two
/// cores, with the client on the same machine). Not 19: under a sustained full load it still
/// gets about a tenth of a core, enough to chain some thousands of events a second, so the
/// spool does not grow without end. Failure is harmless (the thread keeps normal priority).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!(error = %crate::diagnostics::chain(&e), "could not lower the audit chainer's priority");
    }
}

/// A new spool file `<dir>/<instance>.<generation>.spool`, locked, for appending; and a handle
/// for reading it back.
fn create(
    dir: &Path,
    instance: &str,
    generation: u64,
) -> Result<(File, File, String, PathBuf), Error> {
    let name = format!("{instance}.{generation}");
    let path = dir.join(format!("{name}.{EXT}"));
    let mut options = OpenOptions::new();
    options.append(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(io_err(&path))?;
    // Nobody else can hold it yet; the lock says "alive" to other processes.
    file.try_lock()
        .map_err(|e| io_err(&path)(std::io::Error::from(e)))?;
    let reader = File::open(&path).map_err(io_err(&path))?;
    Ok((file, reader, name, path))
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    // Events name users, tools and (redacted) arguments: not for other local users.
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_err(dir))
}

impl Spool {
    /// Chains what processes that are gone left in the spool directory, then creates this
    /// process's spool file and starts its chainer.
    pub(super) fn start_with(
        appender: AppenderSlot,
        key: AuditKey,
        instance: &str,
        on_chained: Option<OnChained>,
        tuning: Tuning,
    ) -> Result<Self, Error> {
        let dir = dir_of(appender.path());
        create_dir(&dir)?;
        settle(
            &appender,
            &dir,
            None,
            Some(&key),
            on_chained.as_ref(),
            Duration::ZERO,
        )?;
        let (file, reader, name, path) = create(&dir, instance, 1)?;
        let shared = Arc::new(Shared {
            key,
            appender,
            dir,
            instance: instance.to_owned(),
            tuning,
            writer: Mutex::new(Writer {
                file,
                name: name.clone(),
                next: 1,
                len: 0,
                generation: 1,
            }),
            written: AtomicU64::new(0),
            chaining: Mutex::new(Chainer {
                name,
                path,
                reader,
                chained: 0,
            }),
            stuck: AtomicBool::new(false),
            failure: Mutex::new(None),
            pending: AtomicBool::new(false),
            wake: Mutex::new(Wake::default()),
            wake_cond: Condvar::new(),
            on_chained,
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("gitgate-audit-chainer".into())
            .spawn(move || {
                lower_priority();
                for_thread.run()
            })
            .map_err(|source| Error::Spool {
                path: shared.dir.display().to_string(),
                source,
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Writes `event` to the spool with one `write` and wakes the chainer. When this returns the
    /// event survives a crash of this process.
    pub(super) fn append(&self, event: &AuditEvent) -> Result<(), Error> {
        let shared = &*self.shared;
        if shared.stuck.load(Ordering::Acquire) {
            let failure = lock(&shared.failure).clone().unwrap_or_default();
            return Err(Error::Spool {
                path: shared.dir.display().to_string(),
                source: std::io::Error::other(failure),
            });
        }
        let event_json = super::audit_log::prepare_json(event)?;
        {
            let mut w = lock(&shared.writer);
            let n = w.next;
            let mac = shared.key.spool_mac(&w.name, n, &event_json);
            let line = format!("{n}\t{mac}\t{event_json}\n");
            if let Err(e) = w.file.write_all(line.as_bytes()) {
                // A short write (disk full) must not leave half a line for the next to follow.
                let _ = w.file.set_len(w.len);
                return Err(Error::Spool {
                    path: shared
                        .dir
                        .join(format!("{}.{EXT}", w.name))
                        .display()
                        .to_string(),
                    source: e,
                });
            }
            w.next += 1;
            w.len += line.len() as u64;
            shared.written.store(w.len, Ordering::Release);
        }
        // Only the first line of a batch wakes the chainer (see `GATHER`).
        if !shared.pending.swap(true, Ordering::AcqRel) {
            let _wake = lock(&shared.wake);
            shared.wake_cond.notify_one();
        }
        Ok(())
    }

    /// Chains everything this process spooled so far (blocking).
    pub(super) fn flush(&self) -> Result<(), Error> {
        self.shared.chain_own()
    }

    /// The name of the file being written (tests look at it).
    #[cfg(test)]
    pub(super) fn current_name(&self) -> String {
        lock(&self.shared.writer).name.clone()
    }

    pub(super) fn on_chained(&self) -> Option<&OnChained> {
        self.shared.on_chained.as_ref()
    }

    pub(super) fn key(&self) -> &AuditKey {
        &self.shared.key
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        lock(&self.shared.wake).stop = true;
        self.shared.wake_cond.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    /// The chainer thread: woken by the first line of a batch, it waits [`GATHER`] for more,
    /// then chains them all; on stop, it chains the rest and removes the file.
    fn run(&self) {
        let mut retry = false;
        let mut failures: u64 = 0;
        loop {
            {
                let mut wake = lock(&self.wake);
                while !self.pending.load(Ordering::Acquire) && !wake.stop {
                    if retry {
                        wake = self
                            .wake_cond
                            .wait_timeout(wake, RETRY)
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .0;
                        break;
                    }
                    wake = self
                        .wake_cond
                        .wait(wake)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                // Appends do not notify again while `pending` is set; only a stop ends these
                // waits early. Gather until the calls pause for `idle` or `gather` passed.
                let started = Instant::now();
                while !wake.stop && started.elapsed() < self.tuning.gather {
                    let seen = self.written.load(Ordering::Acquire);
                    wake = self
                        .wake_cond
                        .wait_timeout(wake, self.tuning.idle)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                    if self.written.load(Ordering::Acquire) == seen {
                        break;
                    }
                }
            }
            // Cleared before the pass: a line written from now on sets it again.
            self.pending.store(false, Ordering::Release);
            let stop = lock(&self.wake).stop;
            retry = match self.chain_own() {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(failures, "chaining spooled audit events works again");
                    }
                    failures = 0;
                    false
                }
                Err(e) => {
                    // The first failure, then one line a minute (retries come 5 a second).
                    if failures.is_multiple_of(300) {
                        tracing::error!(error = %crate::diagnostics::chain(&e), failures = failures + 1, "chaining spooled audit events failed; they stay in the spool and are retried");
                    }
                    failures += 1;
                    !self.stuck.load(Ordering::Acquire)
                }
            };
            if stop {
                self.remove_if_done();
                return;
            }
        }
    }

    /// At shutdown: the file goes once every line of it is chained (else the next process
    /// chains the rest).
    fn remove_if_done(&self) {
        let chainer = lock(&self.chaining);
        let writer = lock(&self.writer);
        if chainer.chained == writer.len
            && !self.stuck.load(Ordering::Acquire)
            && let Err(e) = std::fs::remove_file(&chainer.path)
        {
            tracing::warn!(error = %crate::diagnostics::chain(&e), path = %chainer.path.display(), "removing the audit spool file");
        }
    }

    /// Chains what this process spooled and not yet chained; rotates the file when due.
    fn chain_own(&self) -> Result<(), Error> {
        let mut chainer = lock(&self.chaining);
        if self.stuck.load(Ordering::Acquire) {
            let failure = lock(&self.failure).clone().unwrap_or_default();
            return Err(Error::Spool {
                path: chainer.path.display().to_string(),
                source: std::io::Error::other(failure),
            });
        }
        if chainer.chained < self.written.load(Ordering::Acquire) {
            self.chain_current(&mut chainer)?;
        }
        if chainer.chained >= self.tuning.rotate_bytes {
            self.rotate(&mut chainer)?;
        }
        Ok(())
    }

    fn chain_current(&self, chainer: &mut Chainer) -> Result<(), Error> {
        let Chainer {
            name, path, reader, ..
        } = chainer;
        let done = self
            .appender
            .with(|a| chain_file(a, &self.key, name, path, reader))?;
        chainer.chained = done.bytes;
        self.mirror(&done.appended);
        if let Some(bad) = done.bad {
            *lock(&self.failure) = Some(bad.to_string());
            self.stuck.store(true, Ordering::Release);
            return Err(bad);
        }
        Ok(())
    }

    fn mirror(&self, appended: &[Appended]) {
        if let Some(on_chained) = &self.on_chained {
            for a in appended {
                on_chained(a);
            }
        }
    }

    /// Swaps in a fresh file once the current one is chained to its end, then removes the old.
    fn rotate(&self, chainer: &mut Chainer) -> Result<(), Error> {
        let mut writer = lock(&self.writer);
        // Appends wait on the writer lock now, so this catches up with the end of the file.
        if chainer.chained < writer.len {
            self.chain_current(chainer)?;
        }
        if chainer.chained != writer.len {
            return Ok(());
        }
        let generation = writer.generation + 1;
        let (file, reader, name, path) = create(&self.dir, &self.instance, generation)?;
        let old = std::mem::replace(&mut chainer.path, path);
        writer.file = file;
        writer.name = name.clone();
        writer.next = 1;
        writer.len = 0;
        writer.generation = generation;
        self.written.store(0, Ordering::Release);
        chainer.name = name;
        chainer.reader = reader;
        chainer.chained = 0;
        drop(writer);
        // Its lock went with the old handle; a reader may be chaining (nothing) from it and race
        // us to remove it, which is fine.
        if let Err(e) = std::fs::remove_file(&old)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %crate::diagnostics::chain(&e), path = %old.display(), "removing a chained audit spool file");
        }
        Ok(())
    }
}

const SPOOL_STATE: &str = "SELECT lines, bytes FROM audit_spools WHERE name = ?1";
const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
const ADVANCE: &str = "INSERT INTO audit_spools (name, lines, bytes, updated_at) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET lines = excluded.lines, \
     bytes = excluded.bytes, updated_at = excluded.updated_at";

/// What one pass of [`chain_file`] did.
struct Chained {
    appended: Vec<Appended>,
    /// Bytes of the file chained now (all passes included).
    bytes: u64,
    /// The file ends in part of a line (being written, or cut by a power loss).
    partial_tail: bool,
    /// The line chaining stopped at, when it was not a valid spool line.
    bad: Option<Error>,
}

/// Chains every complete line of spool `name` (file `path`, read through `file`) not chained
/// yet, [`BATCH`] lines per transaction. A bad line stops it after the good ones before it were
/// committed; the error is returned in [`Chained::bad`] beside them.
fn chain_file(
    a: &mut SyncAppender,
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
        // Cached statements: parsing the SQL again on every pass was a visible part of the
        // chainer's cost.
        let (mut lines, mut bytes): (i64, i64) = tx
            .prepare_cached(SPOOL_STATE)
            .and_then(|mut st| {
                st.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(db_err)?
            .unwrap_or((0, 0));
        let start = u64::try_from(bytes).unwrap_or(0);
        file.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
        let mut reader = BufReader::new(&mut *file);
        let (mut seq, mut prev): (i64, String) = tx
            .prepare_cached(HEAD)
            .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(db_err)?;
        let mut appended = Vec::new();
        let mut buf = Vec::new();
        let mut full = true;
        for _ in 0..BATCH {
            buf.clear();
            let read = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
            if read == 0 {
                full = false;
                break;
            }
            if buf.last() != Some(&b'\n') {
                out.partial_tail = true;
                full = false;
                break;
            }
            let number = u64::try_from(lines).unwrap_or(0) + 1;
            let tampered = |reason: &str| Error::SpoolTampered {
                path: path.display().to_string(),
                line: number,
                reason: reason.to_owned(),
            };
            let (event_json, columns) = match parse_line(key, name, number, &buf) {
                Ok(parsed) => parsed,
                Err(reason) => {
                    out.bad = Some(tampered(reason));
                    full = false;
                    break;
                }
            };
            let hash = key.chain_hash(&prev, event_json);
            let next = u64::try_from(seq).unwrap_or(0) + 1;
            if insert(&tx, next, &prev, &hash, event_json, &columns)? != 1 {
                return Err(Error::ChainHeadMismatch);
            }
            appended.push(Appended {
                seq: next,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
                event_json: event_json.to_owned(),
            });
            seq += 1;
            lines += 1;
            bytes += i64::try_from(read).unwrap_or(i64::MAX);
        }
        out.bytes = u64::try_from(bytes).unwrap_or(0);
        if appended.is_empty() {
            // Nothing to record: the transaction rolls back when dropped.
            return Ok(out);
        }
        tx.prepare_cached(ADVANCE)
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    name,
                    lines,
                    bytes,
                    crate::audit::now_rfc3339()
                ])
            })
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        a.set_head(Some(Checkpoint {
            seq: u64::try_from(seq).unwrap_or(0),
            hash: prev,
        }));
        out.appended.extend(appended);
        if !full {
            return Ok(out);
        }
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
    let own_path = own.map(|s| lock(&s.shared.chaining).path.clone());
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

/// How long a reader waits for live processes' chainers before answering without their newest
/// events (they normally chain within a millisecond).
const READ_WAIT: Duration = Duration::from_secs(5);

impl super::Store {
    /// Starts this process's audit spool, so that [`Store::spool_audit`] can record an event
    /// with one file write. `on_chained` sees every event the spool chains (the JSON Lines
    /// mirror). First chains what crashed processes left spooled. Returns `false`, doing
    /// nothing, where events are committed one by one instead: PostgreSQL, in-memory SQLite,
    /// and [`super::Durability::Full`] (whose fsync per commit is the point).
    ///
    /// [`Store::spool_audit`]: super::Store::spool_audit
    pub fn start_audit_spool(
        &self,
        key: &AuditKey,
        instance: &str,
        on_chained: Option<OnChained>,
    ) -> Result<bool, Error> {
        self.start_audit_spool_with(key, instance, on_chained, Tuning::default())
    }

    pub(super) fn start_audit_spool_with(
        &self,
        key: &AuditKey,
        instance: &str,
        on_chained: Option<OnChained>,
        tuning: Tuning,
    ) -> Result<bool, Error> {
        let Some(slot) = &self.inner.sync_appender else {
            return Ok(false);
        };
        if slot.durability() == super::Durability::Full || self.inner.spool.get().is_some() {
            return Ok(false);
        }
        let spool = Spool::start_with(slot.clone(), key.clone(), instance, on_chained, tuning)?;
        // Only this caller can have started one (checked just above; recorders start once).
        let _ = self.inner.spool.set(spool);
        Ok(true)
    }

    /// Records `event` in this process's spool (see [`Store::start_audit_spool`]); `None` when
    /// no spool was started. Blocking (one `write`); the event is chained right after.
    pub fn spool_audit(&self, event: &AuditEvent) -> Option<Result<(), Error>> {
        Some(self.inner.spool.get()?.append(event))
    }

    /// Chains every spooled event: this process's, those of processes that are gone (only with
    /// `key`), and waits (up to 5 s) for running processes to chain theirs. Readers of the log
    /// call it first, so they see the event of every call that has returned.
    pub async fn settle_audit(&self, key: Option<&AuditKey>) -> Result<(), Error> {
        let Some(slot) = self.inner.sync_appender.clone() else {
            return Ok(());
        };
        let dir = dir_of(slot.path());
        let own = self.inner.spool.get().is_some();
        if !own && !dir.exists() {
            return Ok(());
        }
        let store = self.clone();
        let key = key.cloned();
        let shown = dir.display().to_string();
        tokio::task::spawn_blocking(move || {
            let own = store.inner.spool.get();
            let key = key.as_ref().or(own.map(Spool::key));
            settle(
                &slot,
                &dir,
                own,
                key,
                own.and_then(Spool::on_chained),
                READ_WAIT,
            )
        })
        .await
        .map_err(|e| Error::Spool {
            path: shown,
            source: std::io::Error::other(e.to_string()),
        })?
    }

    /// The spool directory of this store, if it is a SQLite file.
    pub fn audit_spool_dir(&self) -> Option<PathBuf> {
        self.inner.sync_appender.as_ref().map(|s| dir_of(s.path()))
    }
}
