//! Persistent state shared by replicas: users, tokens, grants, audit events (sqlx; SQLite or PostgreSQL).
//!
//! A [`Store`] is opened from a URL: `sqlite://PATH` (the file is created if missing; WAL) or
//! `postgres://...`. Opening runs the migrations in `server/migrations/{sqlite,postgres}`, two
//! spellings of the same schema. Every method is one short query or transaction and nothing is
//! cached across calls except this process's view of the audit chain head (which is re-checked in
//! the inserting statement), so a revocation made through any replica holds on the next call
//! everywhere.
//!
//! - users and tokens: [`Store::add_user`], [`Store::issue_token`], [`Store::authenticate_token`],
//!   [`Store::revoke_user`], [`Store::revoke_token`], ... (`users.rs`)
//! - the audit log: [`Store::append_audit`], [`Store::query_audit`], [`Store::verify_audit`],
//!   [`Store::export_audit`], [`Store::checkpoint`] (`audit_log.rs`; the chain itself is
//!   [`crate::audit`])
//! - [`bench`]: per-call cost of authentication and audit, for the benchmark.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gitgate::audit::{AuditEvent, AuditKey, AuthMethod, Decision, Outcome};
//! use gitgate::store::Store;
//!
//! let store = Store::connect("sqlite:///var/lib/gitgate/gitgate.db").await?;
//! store.add_user("alice", &["git:read".into()], &["acme/*".into()], None).await?;
//! let (_token_id, token) = store.issue_token("alice").await?; // show once
//! let alice = store.authenticate_token(&token).await?.expect("active token");
//!
//! let key = AuditKey::from_bytes(&std::fs::read("/etc/gitgate/audit.key")?)?;
//! let args = serde_json::json!({ "repo": "acme/widgets" });
//! let decision = Decision { allowed: true, rule: "scope git:read".into() };
//! let outcome = Outcome { ok: true, code: None, message: None };
//! let event = AuditEvent::new("replica-1", &alice.name, AuthMethod::Token, "git_status", &args, decision, outcome);
//! let appended = store.append_audit(&event, &key).await?; // committed when this returns
//! assert!(store.verify_audit(&key, None).await?.is_ok());
//! # let _ = appended.seq;
//! # Ok(())
//! # }
//! ```

mod audit_log;
pub mod bench;
mod spool;
mod sync_append;
mod sync_read;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use spool::OnChained;
pub use users::{GitIdentity, TokenRecord, UserRecord};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How hard a commit tries to survive failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Survives a crash of the server process once a call returns (SQLite: WAL with
    /// `synchronous=NORMAL`, the commit is in the WAL file before it returns; PostgreSQL: the
    /// server's own setting). A power loss may lose the last transactions.
    #[default]
    Normal,
    /// Also survives power loss: SQLite `synchronous=FULL` (fsync of the WAL on every commit);
    /// PostgreSQL `synchronous_commit=on` for this server's sessions.
    Full,
}

/// How to open a store; `StoreOptions::default()` suits a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Pool size; `None` picks 8 for SQLite and 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long a SQLite writer waits for another process's write lock.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Normal,
            max_connections: None,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Errors of the store. Messages name the object; none contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("audit append failed")]
    SyncAppend(#[source] rusqlite::Error),
    #[error("store query failed")]
    SyncRead(#[source] rusqlite::Error),
    #[error("unsupported store URL {url:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl { url: String },
    #[error("cannot open store {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate store {url}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("user {name:?} already exists")]
    DuplicateUser { name: String },
    #[error("no user {name:?}")]
    UnknownUser { name: String },
    #[error("user {name:?} is revoked")]
    RevokedUser { name: String },
    #[error("invalid {field} {value:?}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("JWT subject {subject:?} is already mapped to another user")]
    DuplicateJwtSubject { subject: String },
    #[error("no token {token:?} (give a token id, its prefix, or the token)")]
    UnknownToken { token: String },
    #[error("{count} tokens start with {prefix:?}; give the token id instead")]
    AmbiguousToken { prefix: String, count: usize },
    #[error("the operating system's random number generator failed")]
    Rng(#[source] rand::rngs::SysError),
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

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

#[derive(Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool. The two arms are type-checked
/// separately, so the body can use `sqlx::query(...)` against either driver; the SQL is shared
/// (SQLite understands PostgreSQL's `$1` placeholders).
macro_rules! on_backend {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.inner.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// A handle on the store; cheap to clone (an `Arc` around the connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    /// The URL with any password removed, for messages.
    display_url: String,
    /// Appends of this process go one at a time (tokio's Mutex: held across the insert's await,
    /// so tasks queue here instead of racing for the database's write lock). Holds a dedicated
    /// connection and the chain head this process last wrote, which lets SQLite append in one
    /// statement; the statement re-checks the head, so another process's append costs a retry.
    appender: tokio::sync::Mutex<audit_log::Appender>,
    /// SQLite file stores only: the blocking append path (its connection opened lazily).
    sync_appender: Option<sync_append::AppenderSlot>,
    /// This process's audit spool, once a recorder started it (see `spool`).
    spool: std::sync::OnceLock<spool::Spool>,
    /// SQLite file stores only: connections for the token lookup on the caller's thread.
    sync_readers: Option<sync_read::SyncReaders>,
}

impl Store {
    /// Opens the store at `url` with default options and migrates it.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// Opens the store at `url` (`sqlite://PATH`, `sqlite:PATH`, `postgres://...`,
    /// `postgresql://...`) and migrates it.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Self, Error> {
        let display_url = redact_url(url);
        let connect_err = |source| Error::Connect {
            url: display_url.clone(),
            source,
        };
        let migrate_err = |source| Error::Migrate {
            url: display_url.clone(),
            source,
        };
        let backend = if url.starts_with("sqlite:") {
            let synchronous = match options.durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            };
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(options.busy_timeout)
                .foreign_keys(true);
            // No ping before handing out a connection: `authenticate_token` must stay one round
            // trip. A connection that broke fails its query and is replaced.
            let pool = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections.unwrap_or(8))
                .connect_with(connect)
                .await
                .map_err(connect_err)?;
            SQLITE_MIGRATIONS.run(&pool).await.map_err(migrate_err)?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut connect = PgConnectOptions::from_str(url).map_err(connect_err)?;
            if options.durability == Durability::Full {
                connect = connect.options([("synchronous_commit", "on")]);
            }
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections.unwrap_or(10))
                .connect_with(connect)
                .await
                .map_err(connect_err)?;
            POSTGRES_MIGRATIONS.run(&pool).await.map_err(migrate_err)?;
            Backend::Postgres(pool)
        } else {
            return Err(Error::UnsupportedUrl { url: display_url });
        };
        let appender = tokio::sync::Mutex::new(audit_log::Appender::default());
        let sqlite_file = match &backend {
            Backend::Sqlite(_) => SqliteConnectOptions::from_str(url)
                .ok()
                .map(|o| (o.get_filename().to_owned(), options.durability))
                // In-memory databases are private to their connection: no second one.
                .filter(|(path, _)| path.as_os_str() != ":memory:"),
            Backend::Postgres(_) => None,
        };
        let sync_readers = sqlite_file
            .as_ref()
            .map(|(path, _)| sync_read::SyncReaders::new(path, options.busy_timeout));
        let inner = Inner {
            backend,
            display_url,
            appender,
            sync_appender: sqlite_file
                .as_ref()
                .map(|(path, durability)| sync_append::AppenderSlot::new(path, *durability)),
            spool: std::sync::OnceLock::new(),
            sync_readers,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> BackendKind {
        match self.inner.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The store's URL without its password.
    pub fn display_url(&self) -> &str {
        &self.inner.display_url
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await)
    }

    /// Runs raw SQL (several statements allowed): tests use it to tamper with the log.
    #[cfg(test)]
    pub(crate) async fn execute_raw(&self, sql: String) -> Result<(), Error> {
        let sql = sqlx::AssertSqlSafe(sql);
        on_backend!(self, pool => sqlx::raw_sql(sql).execute(pool).await.map(drop)?);
        Ok(())
    }
}

/// `url` with the password of `scheme://user:password@host` replaced by `***`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// The current time in the store's text form (RFC 3339 UTC, milliseconds).
fn now() -> String {
    crate::audit::now_rfc3339()
}

/// `u64` for a `BIGINT` column; values past `i64::MAX` cannot occur in practice.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod spool_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
