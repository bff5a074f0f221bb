//! Test databases: a SQLite file in a temporary directory, or a fresh schema on the local
//! PostgreSQL, so the same test bodies run on both (see [`backend_tests!`]).

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::{BackendKind, Store, StoreOptions};

/// The PostgreSQL the tests use (trust authentication on loopback), unless
/// `GITGATE_TEST_POSTGRES_URL` names another.
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn postgres_url() -> String {
    std::env::var("GITGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.to_owned())
}

/// One empty database for one test. Dropping it removes the PostgreSQL schema.
pub(crate) struct TestDb {
    pub(crate) kind: BackendKind,
    pub(crate) url: String,
    /// The server's URL and the schema to drop.
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("gitgate.db").display());
        Self {
            kind: BackendKind::Sqlite,
            url,
            schema: None,
            _dir: Some(dir),
        }
    }

    /// A fresh schema on the test PostgreSQL, or `None` (with a note) when
    /// `GITGATE_TEST_NO_POSTGRES=1` and the server is not reachable. Otherwise an unreachable
    /// server fails the test with instructions.
    pub(crate) async fn postgres() -> Option<Self> {
        let base = postgres_url();
        let connected =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&base)).await;
        let mut admin = match connected {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return postgres_unavailable(&base, &e.to_string()),
            Err(_) => return postgres_unavailable(&base, "timed out"),
        };
        let schema = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create a test schema");
        let url = format!("{base}?options[search_path]={schema}");
        Some(Self {
            kind: BackendKind::Postgres,
            url,
            schema: Some((base, schema)),
            _dir: None,
        })
    }

    /// Opens the database (a new pool each call, like another replica would).
    pub(crate) async fn store(&self) -> Store {
        self.store_with(&StoreOptions::default()).await
    }

    pub(crate) async fn store_with(&self, options: &StoreOptions) -> Store {
        // Small pools: tests run in parallel against one PostgreSQL server.
        let options = StoreOptions {
            max_connections: Some(4),
            ..options.clone()
        };
        Store::connect_with(&self.url, &options)
            .await
            .expect("open the test store")
    }

    /// Runs `sqlite` or `postgres`, whichever fits this database (for hand-made tampering).
    pub(crate) async fn exec(&self, store: &Store, sqlite: &str, postgres: &str) {
        let sql = match self.kind {
            BackendKind::Sqlite => sqlite,
            BackendKind::Postgres => postgres,
        };
        store
            .execute_raw(sql.to_owned())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

fn postgres_unavailable(url: &str, why: &str) -> Option<TestDb> {
    if std::env::var("GITGATE_TEST_NO_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("note: skipping a PostgreSQL test (GITGATE_TEST_NO_POSTGRES=1): {why}");
        return None;
    }
    panic!(
        "PostgreSQL is not reachable at {url} ({why}).\n\
         Start it with `pg_ctlcluster $(ls /etc/postgresql) main start` (the database `test` must \
         exist: `createdb -h 127.0.0.1 -U postgres test`), or set GITGATE_TEST_NO_POSTGRES=1 to \
         skip the PostgreSQL variants."
    );
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((url, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs outside any async context we could borrow; a short-lived runtime on its own
        // thread does the cleanup (also after a failed test).
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("note: could not drop a test schema: {e}");
        }
    }
}

/// Defines each test twice, in modules `sqlite` and `postgres`, with `$db: TestDb` bound to a
/// fresh database of that kind. Test names read `...::sqlite::name` and `...::postgres::name`.
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $db = $crate::store::testing::TestDb::sqlite();
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some($db) = $crate::store::testing::TestDb::postgres().await else { return };
                    $body
                }
            )*
        }
    };
}
pub(crate) use backend_tests;
