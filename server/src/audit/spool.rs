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
//! - Readers see the event of every call that returned: [`Log::query`], [`Log::export`],
//!   [`Log::verify`] and [`Log::checkpoint`] first chain this process's spool, then the spools
//!   of processes that are gone (their lock is free: chained, then deleted), then wait for live
//!   processes' chainers to reach what their files held ([`Log::settle`], `spool_chain.rs`).
//! - A starting server chains the spools of dead processes (a crash's last events) first.
//! - A spool file is replaced by a fresh one once 8 MiB of it is chained.
//!
//! Chain order is the order of chaining, not of the calls: events of two processes interleave
//! by when each chainer ran (every event keeps its own `time`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::spool_chain::{chain_file, settle};
use super::sync_append::AppenderSlot;
use super::{Appended, AuditEvent, AuditKey, Error, Log};
use crate::store::Durability;

/// Called with each event the chainer appended, in chain order (the JSON Lines mirror).
pub type OnChained = Box<dyn Fn(&Appended) + Send + Sync>;

/// The extension of spool files.
pub(super) const EXT: &str = "spool";
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

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
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
    /// Events this process spooled, and of them chained (by anyone): their difference is the
    /// spool's lag (`/metrics`, `/readyz`).
    spooled_events: AtomicU64,
    chained_events: AtomicU64,
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
            spooled_events: AtomicU64::new(0),
            chained_events: AtomicU64::new(0),
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
        let event_json = super::append::prepare_json(event)?;
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
            shared.spooled_events.fetch_add(1, Ordering::AcqRel);
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

    /// The file the chainer reads: the one being written.
    pub(super) fn chaining_path(&self) -> PathBuf {
        lock(&self.shared.chaining).path.clone()
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
            // Already gone (a reader settling the spool removed it): the state wanted.
            && e.kind() != std::io::ErrorKind::NotFound
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
        self.chained_events
            .fetch_add(done.appended.len() as u64, Ordering::AcqRel);
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

/// How long a reader waits for live processes' chainers before answering without their newest
/// events (they normally chain within a millisecond).
const READ_WAIT: Duration = Duration::from_secs(5);

impl Log {
    /// Starts this process's audit spool, so that [`Log::spool`] can record an event with one
    /// file write. `on_chained` sees every event the spool chains (the JSON Lines mirror). First
    /// chains what crashed processes left spooled. Returns `false`, doing nothing, where events
    /// are committed one by one instead: PostgreSQL, in-memory SQLite, and
    /// [`crate::store::Durability::Full`] (whose fsync per commit is the point).
    pub fn start_spool(
        &self,
        key: &AuditKey,
        instance: &str,
        on_chained: Option<OnChained>,
    ) -> Result<bool, Error> {
        self.start_spool_with(key, instance, on_chained, Tuning::default())
    }

    pub(super) fn start_spool_with(
        &self,
        key: &AuditKey,
        instance: &str,
        on_chained: Option<OnChained>,
        tuning: Tuning,
    ) -> Result<bool, Error> {
        let Some(slot) = &self.state.sync_appender else {
            return Ok(false);
        };
        if slot.durability() == Durability::Full || self.state.spool.get().is_some() {
            return Ok(false);
        }
        let spool = Spool::start_with(slot.clone(), key.clone(), instance, on_chained, tuning)?;
        // Only this caller can have started one (checked just above; recorders start once).
        let _ = self.state.spool.set(spool);
        Ok(true)
    }

    /// Records `event` in this process's spool (see [`Log::start_spool`]); `None` when no spool
    /// was started. Blocking (one `write`); the event is chained right after.
    pub fn spool(&self, event: &AuditEvent) -> Option<Result<(), Error>> {
        Some(self.state.spool.get()?.append(event))
    }

    /// Chains every spooled event: this process's, those of processes that are gone (only with
    /// `key`), and waits (up to 5 s) for running processes to chain theirs. Readers of the log
    /// call it first, so they see the event of every call that has returned.
    pub async fn settle(&self, key: Option<&AuditKey>) -> Result<(), Error> {
        let Some(slot) = self.state.sync_appender.clone() else {
            return Ok(());
        };
        let dir = dir_of(slot.path());
        let own = self.state.spool.get().is_some();
        if !own && !dir.exists() {
            return Ok(());
        }
        let log = self.clone();
        let key = key.cloned();
        let shown = dir.display().to_string();
        tokio::task::spawn_blocking(move || {
            let own = log.state.spool.get();
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

    /// Events this process spooled and not yet chained, and whether the spool is stuck (a line
    /// could not be chained: calls are refused until an operator looks); `None` without a spool.
    pub fn spool_state(&self) -> Option<(u64, bool)> {
        let shared = &self.state.spool.get()?.shared;
        let spooled = shared.spooled_events.load(Ordering::Acquire);
        let chained = shared.chained_events.load(Ordering::Acquire);
        Some((
            spooled.saturating_sub(chained),
            shared.stuck.load(Ordering::Acquire),
        ))
    }

    /// The spool directory of the store, if it is a SQLite file.
    pub fn spool_dir(&self) -> Option<PathBuf> {
        self.state.sync_appender.as_ref().map(|s| dir_of(s.path()))
    }
}
