//! What a load run stands on: a small seeded repository, a fresh store (a SQLite file in a
//! temporary directory, or a new schema on a PostgreSQL server), users with their own tokens
//! made through `gitgate users`, the `gitgate serve --http` process, and the audit check after.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::signal::{self, Signal};

/// Where the server keeps users, tokens and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// A SQLite file in the run's temporary data directory (what `gitgate serve` uses by default).
    Sqlite,
    /// A PostgreSQL server (`postgres://USER@HOST:PORT/DB`); each run gets a schema of its own
    /// there, dropped afterwards, so runs never see each other's users or events.
    Postgres(String),
}

impl Store {
    /// `sqlite` or `postgres`, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}

/// The repository served, in the run's configuration.
pub const REPO: &str = "bench";

/// Commits in the seeded repository: enough for `git_log` to walk a few, small enough that the
/// benchmark measures the server rather than git.
const COMMITS: usize = 20;

/// A seeded repository plus a fresh store, owned by one server (and its restarts).
#[derive(Debug)]
pub struct Fixture {
    root: tempfile::TempDir,
    store: Store,
    /// `(base URL, schema)` of a PostgreSQL schema to drop in [`Fixture::cleanup`].
    schema: Option<(String, String)>,
}

impl Fixture {
    /// Builds the repository and creates the store's schema (PostgreSQL).
    pub async fn new(store: &Store) -> Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("gitgate-bench-load-")
            .tempdir()
            .context("creating the load directory")?;
        let repo = root.path().join("repo");
        std::fs::create_dir(&repo).context("creating the repository directory")?;
        crate::fixture::linear_history(&repo, COMMITS)?;
        std::fs::create_dir(root.path().join("data")).context("creating the data directory")?;
        let schema = match store {
            Store::Sqlite => None,
            Store::Postgres(base) => Some((base.clone(), create_schema(base).await?)),
        };
        Ok(Self {
            root,
            store: store.clone(),
            schema,
        })
    }

    /// The repository served.
    pub fn repo(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    /// The data directory (SQLite file, audit key, spool).
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The options every `gitgate` subcommand needs to find this store and its audit key.
    pub fn state_args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_owned(),
            self.data_dir().display().to_string(),
        ];
        if let Some((base, schema)) = &self.schema {
            args.push("--store".into());
            args.push(schema_url(base, schema));
        }
        args
    }

    /// Which kind of store this is.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Drops the PostgreSQL schema. Async, so it is a call rather than `Drop`; a run that dies
    /// before it leaves a `load_*` schema behind.
    pub async fn cleanup(self) -> Result<()> {
        if let Some((base, schema)) = &self.schema {
            use sqlx::Connection;
            let mut conn = sqlx::postgres::PgConnection::connect(base)
                .await
                .with_context(|| format!("connecting to {base}"))?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE"
            )))
            .execute(&mut conn)
            .await
            .with_context(|| format!("dropping schema {schema}"))?;
        }
        Ok(())
    }
}

fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options[search_path]={schema}")
}

async fn create_schema(base: &str) -> Result<String> {
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(base)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {base}"))?;
    // Unique per process and moment; only [a-z0-9_] so it needs no quoting.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!("load_{}_{nanos:x}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating schema {name}"))?;
    Ok(name)
}

/// Runs `gitgate SUBCOMMAND [state args] ARGS` and returns its stdout.
fn gitgate(bin: &Path, fixture: &Fixture, subcommand: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .arg(subcommand)
        .args(fixture.state_args())
        .args(args)
        .output()
        .with_context(|| format!("running {} {subcommand}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "gitgate {subcommand} {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Adds users `load-0`.. `load-{n-1}`, each allowed to read the repository, and issues each
/// one token. Returns the tokens in user order.
pub fn add_users(bin: &Path, fixture: &Fixture, n: usize) -> Result<Vec<String>> {
    (0..n)
        .map(|i| {
            let name = format!("load-{i}");
            gitgate(
                bin,
                fixture,
                "users",
                &["add", &name, "--scopes", "git:read", "--repos", REPO],
            )?;
            let token = gitgate(bin, fixture, "users", &["token", &name])?;
            let token = token.trim();
            if token.is_empty() {
                bail!("gitgate users token {name} printed no token");
            }
            Ok(token.to_owned())
        })
        .collect()
}

/// A `gitgate serve --http` process on an ephemeral port. Dropping it kills the process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The MCP endpoint.
    pub url: String,
}

impl Server {
    /// Starts the server on the fixture's store and repository and waits for its
    /// "serving MCP at" line.
    pub fn start(bin: &Path, fixture: &Fixture) -> Result<Self> {
        let repo = format!("{REPO}={}", fixture.repo().display());
        let mut child = Command::new(bin)
            .args(["serve", "--http", "127.0.0.1:0", "--repo", &repo])
            .args(fixture.state_args())
            // Every simulated user connects from 127.0.0.1; the default per-address cap (64) is
            // meant for one client, not for a load generator standing in for hundreds.
            .args(["--max-connections-per-address", "1024"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} serve --http", bin.display()))?;
        let stderr = child.stderr.take().context("gitgate's stderr")?;
        let mut server = Self {
            child,
            url: String::new(),
        };
        let mut lines = BufReader::new(stderr).lines();
        server.url = loop {
            let Some(line) = lines.next() else {
                bail!("{} exited before listening", bin.display())
            };
            let line = line.context("reading gitgate's stderr")?;
            if let Some(rest) = line.strip_prefix("gitgate: serving MCP at ") {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(server)
    }

    /// The server's process id (for `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as an operator would (SIGTERM) and waits: it answers what is in flight
    /// and chains its audit spool into the store; an exit other than 0 is an error.
    pub fn stop(mut self) -> Result<()> {
        signal::send(self.child.id(), Signal::TERM);
        let status = self.child.wait().context("waiting for gitgate to stop")?;
        if !status.success() {
            bail!("gitgate stopped with {status}");
        }
        Ok(())
    }

    /// `kill -9`: no shutdown at all.
    pub fn kill9(mut self) -> Result<()> {
        self.child.kill().context("killing gitgate")?;
        self.child.wait().context("waiting for gitgate to die")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `gitgate audit verify` said about the store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verify {
    /// The chain is intact (exit 0).
    pub ok: bool,
    /// Events in the log ("ok: N events").
    pub events: u64,
    /// Its output line.
    pub output: String,
}

/// Runs `gitgate audit verify` on the fixture's store (with the server stopped, so the spool is
/// chained in).
pub fn audit_verify(bin: &Path, fixture: &Fixture) -> Result<Verify> {
    let out = Command::new(bin)
        .arg("audit")
        .args(fixture.state_args())
        .arg("verify")
        .output()
        .context("running gitgate audit verify")?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let output = if text.is_empty() { stderr } else { text };
    // Exit 2 is a broken chain (reported, not an error of the benchmark); 1 means no check ran.
    if out.status.code() == Some(1) || out.status.code().is_none() {
        bail!("gitgate audit verify could not run: {output}");
    }
    let events = parse_verify_events(&output).unwrap_or(0);
    Ok(Verify {
        ok: out.status.success(),
        events,
        output,
    })
}

/// N of "ok: N events, head seq ...".
pub fn parse_verify_events(line: &str) -> Option<u64> {
    line.strip_prefix("ok: ")?
        .split_once(" events")?
        .0
        .parse()
        .ok()
}

/// Every audit event in the store, oldest first (`audit query --format jsonl`'s `event`s).
pub fn audit_events(bin: &Path, fixture: &Fixture) -> Result<Vec<Value>> {
    let out = gitgate(bin, fixture, "audit", &["query", "--format", "jsonl"])?;
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).context("parsing an audit event")?;
            Ok(v["event"].take())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_line() {
        let check = |line: &str, expected: Option<u64>| {
            assert_eq!(parse_verify_events(line), expected, "{line}");
        };
        check("ok: 2 events, head seq 2 hash 66e9", Some(2));
        check("ok: 0 events", Some(0));
        check("FAILED at seq 3: edited", None);
    }

    #[test]
    fn schema_url_keeps_the_base_query() {
        assert_eq!(
            schema_url("postgres://p@h/test", "s"),
            "postgres://p@h/test?options[search_path]=s"
        );
        assert_eq!(
            schema_url("postgres://p@h/test?sslmode=disable", "s"),
            "postgres://p@h/test?sslmode=disable&options[search_path]=s"
        );
    }
}
