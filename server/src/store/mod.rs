//! Persistent state shared by replicas: users, tokens, grants, the audit log's tables (sqlx;
//! SQLite or PostgreSQL).
//!
//! A [`Store`] is opened from a URL: `sqlite://PATH` (the file is created if missing; WAL) or
//! `postgres://...`. Opening runs the migrations in `server/migrations/{sqlite,postgres}`, two
//! spellings of the same schema. Every method is one short query or transaction and nothing is
//! cached across calls, so a revocation made through any replica holds on the next call
//! everywhere.
//!
//! - users and tokens: [`Store::add_user`], [`Store::issue_token`], [`Store::authenticate_token`],
//!   [`Store::revoke_user`], [`Store::revoke_token`], ... (`users.rs`)
//! - for the audit log, which lives on top of the store (`audit::Log`): the pool
//!   (`Store::pool`) and, on a SQLite file, this process's blocking read-write connection
//!   (`Store::sync_writer`, `sync_write.rs`); the audit tables are in the migrations here.
//! - [`bench`](mod@bench): per-call cost of authentication, for the benchmark.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gitgate::store::Store;
//!
//! let store = Store::connect("sqlite:///var/lib/gitgate/gitgate.db").await?;
//! store.add_user("alice", &["git:read".into()], &["acme/*".into()], None).await?;
//! let (_token_id, token) = store.issue_token("alice").await?; // show once
//! let alice = store.authenticate_token(&token).await?.expect("active token");
//! # let _ = alice;
//! # Ok(())
//! # }
//! ```

pub mod bench;
mod sync_read;
mod sync_write;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub(crate) use sync_write::SyncWriter;
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
    /// Pool size; `None` picks 8 for SQLite and [`postgres_pool_size`] for PostgreSQL.
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
    #[error("store query failed")]
    Database(#[from] sqlx::Error),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// A store's connection pool, of one driver or the other.
#[derive(Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool. The two arms are type-checked
/// separately, so the body can use `sqlx::query(...)` against either driver; the SQL is shared
/// (SQLite understands PostgreSQL's `$1` placeholders).
macro_rules! on_backend {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
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
    pool: Pool,
    /// The URL with any password removed, for messages.
    display_url: String,
    /// SQLite file stores only: this process's blocking read-write connection (opened lazily),
    /// which the audit log appends on and the token lookup borrows when it is idle.
    sync_writer: Option<SyncWriter>,
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
        let pool = if url.starts_with("sqlite:") {
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
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut connect = PgConnectOptions::from_str(url).map_err(connect_err)?;
            if options.durability == Durability::Full {
                connect = connect.options([("synchronous_commit", "on")]);
            }
            // Statements run with sqlx's `persistent` default: each connection prepares a query
            // once and keeps it in its statement cache (100 by default, far more than the dozen
            // distinct queries a server runs), so the per-call token lookup and the audit batch
            // insert are parsed and planned once per connection, then only bound and executed.
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections.unwrap_or_else(postgres_pool_size))
                .connect_with(connect)
                .await
                .map_err(connect_err)?;
            POSTGRES_MIGRATIONS.run(&pool).await.map_err(migrate_err)?;
            Pool::Postgres(pool)
        } else {
            return Err(Error::UnsupportedUrl { url: display_url });
        };
        let sqlite_file = match &pool {
            Pool::Sqlite(_) => SqliteConnectOptions::from_str(url)
                .ok()
                .map(|o| (o.get_filename().to_owned(), options.durability))
                // In-memory databases are private to their connection: no second one.
                .filter(|(path, _)| path.as_os_str() != ":memory:"),
            Pool::Postgres(_) => None,
        };
        let sync_readers = sqlite_file
            .as_ref()
            .map(|(path, _)| sync_read::SyncReaders::new(path, options.busy_timeout));
        let inner = Inner {
            pool,
            display_url,
            sync_writer: sqlite_file
                .as_ref()
                .map(|(path, durability)| SyncWriter::new(path, *durability)),
            sync_readers,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> BackendKind {
        match self.inner.pool {
            Pool::Sqlite(_) => BackendKind::Sqlite,
            Pool::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The connection pool, for queries of the modules built on the store (the audit log).
    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// SQLite file stores only: this process's blocking read-write connection, `None` for
    /// PostgreSQL and in-memory SQLite.
    pub(crate) fn sync_writer(&self) -> Option<&SyncWriter> {
        self.inner.sync_writer.as_ref()
    }

    /// One round trip to the database (`/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        on_backend!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
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

/// The default PostgreSQL pool size: twice the cores of this machine, between 4 and 10.
///
/// Why that small: per call the pool serves one short query (the token lookup, about 0.1 ms on
/// the database; the audit log writes on a connection of its own, see `audit/group_commit.rs`),
/// so even at 5,000 calls/s fewer than one connection is busy on average and the rest is slack
/// for bursts. More connections do not make a query faster: each is a backend process on the
/// database host, and past about twice its cores they only add context switches (the classic
/// `cores * 2 + spindles` rule); on a 2-core machine running both server and database, 4 is
/// enough. The cap of 10 (the old fixed size) keeps replicas within PostgreSQL's default
/// `max_connections` of 100: each replica holds at most this many plus its audit connection.
pub fn postgres_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(2))
        .unwrap_or(u32::MAX)
        .clamp(4, 10)
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

/// Now, as RFC 3339 UTC with millisecond precision: `2026-05-01T12:00:00.123Z`. This fixed-width
/// form sorts chronologically as text, which the store relies on (times are `TEXT` columns,
/// compared as text by the audit log's filters).
pub fn now_rfc3339() -> String {
    format_time(&chrono::Utc::now())
}

/// `time` in the store's fixed-width RFC 3339 form (`2026-05-01T12:00:00.123Z`).
pub fn format_time(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The current time in the store's text form (RFC 3339 UTC, milliseconds).
fn now() -> String {
    now_rfc3339()
}

/// `u64` for a `BIGINT` column; values past `i64::MAX` cannot occur in practice.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A `BIGINT` column's value as `u64` (negative values, which the schema never holds, as 0).
pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
