//! `gitgate users` and `gitgate audit`: the administrative commands, run as the real binary on a
//! SQLite store in a temporary directory and on a fresh PostgreSQL schema.
//!
//! Audit events are appended through the library (the server is not needed for that), and the
//! log is tampered with through a plain sqlx connection, as an attacker with database access
//! would.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use gitgate::audit::{AuditEvent, Decision, Log, Outcome};
use gitgate::settings::StateConfig;
use serde_json::Value;
use sqlx::Connection;

use crate::harness::BIN;

/// The PostgreSQL the tests use (trust authentication on loopback), unless
/// `GITGATE_TEST_POSTGRES_URL` names another (same convention as the store's unit tests).
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One gitgate state: a data directory, and for PostgreSQL a schema dropped with the value.
struct Gate {
    dir: tempfile::TempDir,
    /// `--store` when not the data directory's SQLite file; `(server url, schema)` to drop.
    postgres: Option<(String, String, String)>,
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Gate {
    fn sqlite() -> Gate {
        Gate {
            dir: tempfile::tempdir().unwrap(),
            postgres: None,
        }
    }

    /// A fresh schema on the test PostgreSQL; `None` when it is unreachable and
    /// `GITGATE_TEST_NO_POSTGRES=1`, otherwise an unreachable server fails the test.
    fn postgres() -> Option<Gate> {
        let base = std::env::var("GITGATE_TEST_POSTGRES_URL").unwrap_or(POSTGRES_URL.to_owned());
        let schema = format!("e2e_admin_{}", hex::encode(rand::random::<[u8; 8]>()));
        let created = block_on(async {
            let mut conn =
                tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&base))
                    .await
                    .map_err(|_| "timed out".to_owned())?
                    .map_err(|e| e.to_string())?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        });
        if let Err(why) = created {
            if std::env::var("GITGATE_TEST_NO_POSTGRES").is_ok_and(|v| v == "1") {
                eprintln!("note: skipping a PostgreSQL test (GITGATE_TEST_NO_POSTGRES=1): {why}");
                return None;
            }
            panic!(
                "PostgreSQL is not reachable at {base} ({why}).\n\
                 Start it with `pg_ctlcluster $(ls /etc/postgresql) main start` (the database \
                 `test` must exist: `createdb -h 127.0.0.1 -U postgres test`), or set \
                 GITGATE_TEST_NO_POSTGRES=1 to skip the PostgreSQL variants."
            );
        }
        let url = format!("{base}?options[search_path]={schema}");
        Some(Gate {
            dir: tempfile::tempdir().unwrap(),
            postgres: Some((url, base, schema)),
        })
    }

    fn store_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(url, _, _)| url.as_str())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The same state as the binary sees, for the library.
    fn state(&self) -> StateConfig {
        StateConfig {
            data_dir: Some(self.path("data")),
            store: self.store_url().map(str::to_owned),
            ..Default::default()
        }
    }

    /// Runs `gitgate ARGS` on this state; the state flags go right after `users`/`audit`, and
    /// every GITGATE_* variable of the test's own environment is removed.
    fn run_with(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        let data = self.path("data");
        let mut full = vec![args[0], "--data-dir", data.to_str().unwrap()];
        if let Some(url) = self.store_url() {
            full.extend(["--store", url]);
        }
        full.extend(&args[1..]);
        let mut command = Command::new(BIN);
        command
            .args(&full)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("GITGATE_")) {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, "", &[])
    }

    /// Runs raw SQL on the store, `sqlite` or `postgres` whichever fits.
    fn exec(&self, sqlite: &str, postgres: &str) {
        block_on(async {
            match self.store_url() {
                None => {
                    let url = format!("sqlite://{}", self.path("data/gitgate.db").display());
                    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sqlite.to_owned()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sqlite}: {e}"));
                    conn.close().await.unwrap();
                }
                Some(url) => {
                    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                    sqlx::raw_sql(sqlx::AssertSqlSafe(postgres.to_owned()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{postgres}: {e}"));
                    conn.close().await.unwrap();
                }
            }
        });
    }

    /// Lets the test change `audit_events`, as an attacker with database access would.
    fn drop_append_only_triggers(&self) {
        self.exec(
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
            "DROP TRIGGER audit_events_no_update ON audit_events; \
             DROP TRIGGER audit_events_no_delete ON audit_events;",
        );
    }

    fn tamper(&self, sql: &str) {
        self.exec(sql, sql);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let Some((_, base, schema)) = self.postgres.take() else {
            return;
        };
        let dropped = block_on(async {
            let mut conn = sqlx::PgConnection::connect(&base).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await?;
            conn.close().await
        });
        if let Err(e) = dropped {
            eprintln!("note: could not drop test schema {schema}: {e}");
        }
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs `gitgate ARGS`, asserts its exit code and that stdout or stderr contains `expected`;
/// returns stdout.
fn check(g: &Gate, args: &[&str], code: i32, expected: &str) -> String {
    check_run(g.run(args), args, code, expected)
}

fn check_run(run: Run, args: &[&str], code: i32, expected: &str) -> String {
    let Run {
        code: got,
        stdout,
        stderr,
    } = run;
    assert_eq!(got, code, "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains(expected) || stderr.contains(expected),
        "{args:?} should say {expected:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// `users list --json`, by name.
fn users_json(g: &Gate) -> std::collections::HashMap<String, Value> {
    let out = check(g, &["users", "list", "--json"], 0, "");
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    list.into_iter()
        .map(|u| (u["name"].as_str().unwrap().to_owned(), u))
        .collect()
}

/// A fresh 32-byte key from `gitgate keygen`, in a file; returns the path as text.
fn keygen(g: &Gate, name: &str) -> String {
    let out = Command::new(BIN).arg("keygen").output().unwrap();
    assert!(out.status.success());
    let path = g.path(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path.to_str().unwrap().to_owned()
}

fn users_roundtrip(g: &Gate) {
    let c = |args: &[&str], code: i32, expected: &str| check(g, args, code, expected);
    c(&["users", "list"], 0, "no users yet");
    c(
        &[
            "users",
            "add",
            "alice",
            "--scopes",
            "git:read git:write",
            "--repos",
            "app,acme/*",
            "--git-name",
            "Alice Example",
            "--git-email",
            "alice@example.com",
            "--jwt-subject",
            "sub-alice",
            "--rate-limit",
            "30",
        ],
        0,
        "added user alice (scopes: git:read git:write; repos: app,acme/*)",
    );
    c(
        &["users", "add", "bob", "--scopes", "admin", "--repos", "**"],
        0,
        "added user bob",
    );
    c(
        &[
            "users", "add", "alice", "--scopes", "admin", "--repos", "**",
        ],
        1,
        "already exists",
    );
    c(
        &[
            "users",
            "add",
            "carol",
            "--scopes",
            "git:read,git:wrte",
            "--repos",
            "app",
        ],
        1,
        "unknown scope \"git:wrte\"; valid scopes: git:read, git:write, git:push, git:force, github:read, \
         github:write, github:merge, admin",
    );
    c(
        &[
            "users", "add", "carol", "--scopes", "git:read", "--repos", " , ",
        ],
        1,
        "--repos '**'",
    );
    c(
        &[
            "users", "add", "carol", "--scopes", "git:read", "--repos", "/abs",
        ],
        1,
        "invalid repository grant \"/abs\"",
    );
    c(
        &[
            "users",
            "add",
            "carol",
            "--scopes",
            "git:read",
            "--repos",
            "x",
            "--jwt-subject",
            "sub-alice",
        ],
        1,
        "already belongs to \"alice\"",
    );
    c(
        &[
            "users",
            "add",
            "carol",
            "--scopes",
            "git:read",
            "--repos",
            "x",
            "--git-name",
            "C",
        ],
        2,
        "--git-email",
    );
    assert!(
        !users_json(g).contains_key("carol"),
        "a refused add writes nothing"
    );

    let table = c(&["users", "list"], 0, "NAME");
    let row = |name: &str, table: &str| -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(
        row("alice", &table),
        [
            "alice",
            "git:read",
            "git:write",
            "app,acme/*",
            "0",
            "no",
            "active"
        ]
    );
    let alice = &users_json(g)["alice"];
    assert_eq!(
        alice["scopes"],
        serde_json::json!(["git:read", "git:write"])
    );
    assert_eq!(alice["git_email"], "alice@example.com");
    assert_eq!(alice["jwt_subject"], "sub-alice");
    assert_eq!(alice["rate_limit_per_minute"], 30);
    assert_eq!(alice["active_tokens"], 0);

    // A token is printed once, alone on stdout; the note goes to stderr without it.
    let run = g.run(&["users", "token", "alice"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    let first = run.stdout.trim_end().to_owned();
    assert!(first.starts_with("ggt_") && first.len() == 44, "{first}");
    assert!(run.stderr.contains("shown only this once") && !run.stderr.contains(&first));
    let second = c(&["users", "token", "alice"], 0, "ggt_")
        .trim_end()
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(users_json(g)["alice"]["active_tokens"], 2);
    let tokens = c(&["users", "tokens", "alice"], 0, &first[..12]);
    assert!(
        tokens.contains(&second[..12]) && !tokens.contains(&first),
        "{tokens}"
    );
    c(&["users", "tokens", "nobody"], 1, "no user \"nobody\"");

    c(
        &["users", "revoke", "--token", &first[..12]],
        0,
        "revoked token",
    );
    c(
        &["users", "revoke", "--token", "ggt_nosuchtok"],
        1,
        "gitgate users tokens",
    );
    let listed: Vec<Value> =
        serde_json::from_str(&c(&["users", "tokens", "--json"], 0, "")).unwrap();
    let revoked: Vec<bool> = listed.iter().map(|t| t["revoked_at"].is_string()).collect();
    assert_eq!(revoked.iter().filter(|r| **r).count(), 1, "{listed:?}");
    assert_eq!(users_json(g)["alice"]["active_tokens"], 1);

    c(
        &[
            "users",
            "set",
            "alice",
            "--scopes",
            "github:read",
            "--repos",
            "acme/{api,web}",
            "--no-rate-limit",
        ],
        0,
        "updated user alice",
    );
    let alice = &users_json(g)["alice"];
    assert_eq!(alice["scopes"], serde_json::json!(["github:read"]));
    assert_eq!(alice["repos"], serde_json::json!(["acme/{api,web}"]));
    assert_eq!(alice["rate_limit_per_minute"], Value::Null);
    c(
        &["users", "set", "bob", "--jwt-subject", "sub-alice"],
        1,
        "already belongs to \"alice\"",
    );
    c(
        &["users", "set", "bob", "--scopes", "nope"],
        1,
        "valid scopes",
    );
    c(&["users", "set", "bob"], 2, "required");
    c(
        &["users", "set", "nobody", "--rate-limit", "5"],
        1,
        "no user \"nobody\"",
    );

    c(
        &["users", "revoke", "alice"],
        0,
        "revoked user alice and 1 active token(s)",
    );
    c(&["users", "revoke", "alice"], 0, "already revoked");
    c(&["users", "revoke", "nobody"], 1, "no user \"nobody\"");
    c(&["users", "revoke"], 2, "required");
    c(&["users", "token", "alice"], 1, "is revoked");
    let alice = &users_json(g)["alice"];
    assert!(alice["revoked_at"].is_string());
    assert_eq!(alice["active_tokens"], 0);
    assert!(
        c(&["users", "list"], 0, "")
            .lines()
            .any(|l| l.starts_with("alice ") && l.contains("revoked 20"))
    );

    github_tokens(g);
}

fn github_tokens(g: &Gate) {
    let c = |args: &[&str], code: i32, expected: &str| check(g, args, code, expected);
    let missing = c(&["users", "set-github-token", "bob"], 1, "no secret key");
    let run = g.run(&["users", "set-github-token", "bob"]);
    for hint in ["--secret-key-file", "GITGATE_SECRET_KEY", "gitgate keygen"] {
        assert!(run.stderr.contains(hint), "{hint}: {}{missing}", run.stderr);
    }
    let key = keygen(g, "secret.key");
    let key_file: &str = &key;
    let with_key = |name| {
        [
            "users",
            "--secret-key-file",
            key_file,
            "set-github-token",
            name,
        ]
    };
    let stored = g.run_with(&with_key("bob"), "ghp_fromstdin123\n", &[]);
    check_run(
        stored,
        &with_key("bob"),
        0,
        "stored the GitHub token of bob",
    );
    assert_eq!(users_json(g)["bob"]["has_github_token"], true);
    assert!(
        c(&["users", "list"], 0, "")
            .lines()
            .any(|l| l.starts_with("bob ") && l.contains(" yes "))
    );
    let decrypt = |name: &str| {
        block_on(async {
            let store = g.state().open_store().await.unwrap();
            let blob = store.github_token(name).await.unwrap().unwrap();
            store.close().await;
            let key = gitgate::secrets::SecretKey::from_file(key_file.as_ref()).unwrap();
            gitgate::secrets::decrypt_for_user(&key, name, &blob)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
    };
    assert_eq!(decrypt("bob"), "ghp_fromstdin123");

    let from_env: Vec<&str> = [&with_key("bob")[..], &["--from-env", "E2E_GH"]].concat();
    check_run(
        g.run_with(&from_env, "", &[("E2E_GH", " ghp_fromenv456 ")]),
        &from_env,
        0,
        "stored",
    );
    assert_eq!(decrypt("bob"), "ghp_fromenv456");
    check_run(g.run_with(&from_env, "", &[]), &from_env, 1, "$E2E_GH");
    check_run(
        g.run_with(&with_key("bob"), "\n", &[]),
        &with_key("bob"),
        1,
        "empty",
    );
    check_run(
        g.run_with(&with_key("nobody"), "ghp_x\n", &[]),
        &with_key("nobody"),
        1,
        "no user \"nobody\"",
    );

    // Another key would leave the server unable to read one of the two tokens.
    let other = keygen(g, "other.key");
    let args = [
        "users",
        "--secret-key-file",
        &other,
        "set-github-token",
        "alice",
    ];
    check_run(
        g.run_with(&args, "ghp_y\n", &[]),
        &args,
        1,
        "does not decrypt the GitHub token already stored for \"bob\"",
    );

    c(
        &["users", "clear-github-token", "bob"],
        0,
        "removed the GitHub token of bob",
    );
    assert_eq!(users_json(g)["bob"]["has_github_token"], false);
}

/// Appends events through the library: `(user, tool, repo, allowed, ok)`, the n-th on May n,
/// 2026 at noon UTC.
fn append_events(g: &Gate, events: &[(&str, &str, Option<&str>, bool, bool)]) {
    block_on(async {
        let state = g.state();
        let log = Log::new(state.open_store().await.unwrap());
        let key = state.audit_key().unwrap();
        let first_day = log.checkpoint().await.unwrap().seq + 1;
        for (day, &(user, tool, repo, allowed, ok)) in (first_day..).zip(events) {
            let decision = Decision {
                allowed,
                rule: if allowed {
                    "scope git:read"
                } else {
                    "no grant for acme/widgets"
                }
                .into(),
            };
            let outcome = Outcome {
                ok,
                code: (!ok).then(|| "not_found".to_owned()),
                message: (!ok).then(|| "no such revision\nsecond line".to_owned()),
            };
            let args = serde_json::json!({ "repo": repo, "token": "ghp_secret" });
            let mut event = AuditEvent::new(
                "e2e",
                user,
                gitgate::audit::AuthMethod::Token,
                tool,
                &args,
                decision,
                outcome,
            );
            event.time = format!("2026-05-{day:02}T12:00:00.000Z");
            event.target.repo = repo.map(str::to_owned);
            event.duration_ms = 1.25;
            log.append(&event, &key).await.unwrap();
        }
        log.store().close().await;
    });
}

/// The sequence numbers `audit query --format jsonl FILTERS` prints, and checks `audit export
/// FILTERS` prints the very same lines.
fn check_query(g: &Gate, filters: &[&str], expected: &[u64]) {
    let query = check(
        g,
        &[&["audit", "query", "--format", "jsonl"], filters].concat(),
        0,
        "",
    );
    let seqs: Vec<u64> = query
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, expected, "{filters:?}");
    let export = check(g, &[&["audit", "export"], filters].concat(), 0, "exported");
    assert_eq!(export, query, "{filters:?}");
}

fn audit_roundtrip(g: &Gate) {
    let c = |args: &[&str], code: i32, expected: &str| check(g, args, code, expected);
    let genesis = "0".repeat(64);
    c(
        &["audit", "verify"],
        0,
        &format!("ok: 0 events, head seq 0 hash {genesis}"),
    );
    c(&["audit", "query"], 0, "no matching events");
    append_events(
        g,
        &[
            ("alice", "git_status", Some("app"), true, true),
            ("alice", "git_log", Some("acme/widgets"), true, true),
            ("bob", "gh_pr_merge", Some("acme/widgets"), false, true),
            ("bob", "git_status", Some("app"), true, false),
            ("alice", "git_diff", Some("app"), true, true),
            ("bob", "git_log", None, true, true),
        ],
    );
    check_query(g, &[], &[1, 2, 3, 4, 5, 6]);
    check_query(g, &["--user", "bob"], &[3, 4, 6]);
    check_query(g, &["--tool", "git_status"], &[1, 4]);
    check_query(g, &["--repo", "acme/widgets"], &[2, 3]);
    check_query(g, &["--decision", "denied"], &[3]);
    check_query(g, &["--outcome", "error"], &[4]);
    check_query(g, &["--outcome", "ok", "--user", "bob"], &[3, 6]);
    check_query(
        g,
        &["--since", "2026-05-03", "--until", "2026-05-05"],
        &[3, 4],
    );
    check_query(g, &["--since", "2026-05-04T12:00:00Z"], &[4, 5, 6]);
    check_query(g, &["--until", "2026-05-04T14:00:00+02:00"], &[1, 2, 3]);
    check_query(g, &["--limit", "2"], &[5, 6]);
    check_query(g, &["--user", "carol"], &[]);
    c(
        &["audit", "query", "--since", "yesterday"],
        2,
        "expected RFC 3339",
    );
    c(
        &["audit", "query", "--decision", "maybe"],
        2,
        "possible values: allowed, denied",
    );

    let table = c(&["audit", "query", "--user", "bob"], 0, "SEQ");
    let header = table.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "SEQ", "TIME", "USER", "TOOL", "REPO", "DECISION", "DURATION", "OUTCOME"
        ]
    );
    assert!(
        table.contains("denied (no grant for acme/widgets)"),
        "{table}"
    );
    assert!(
        // A newline in a message is shown escaped: it cannot start a row of its own.
        table.contains("error not_found: no such revision\\nsecond line"),
        "{table}"
    );
    assert!(
        table.contains("2026-05-06T12:00:00.000Z") && table.contains("1.2ms"),
        "{table}"
    );
    assert!(!table.contains("ghp_secret"), "arguments are redacted");

    let out = g.path("audit.jsonl");
    c(
        &["audit", "export", "--out", out.to_str().unwrap()],
        0,
        "exported 6 events to",
    );
    let exported = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        exported,
        check(g, &["audit", "query", "--format", "jsonl"], 0, "")
    );
    assert!(!exported.contains("ghp_secret"));

    let verified = c(&["audit", "verify"], 0, "ok: 6 events, head seq 6 hash ");
    let head_hash = verified.trim_end().rsplit(' ').next().unwrap().to_owned();
    let checkpoint: Value = serde_json::from_str(&c(&["audit", "checkpoint"], 0, "")).unwrap();
    assert_eq!(
        checkpoint,
        serde_json::json!({ "seq": 6, "hash": head_hash })
    );
    c(
        &["audit", "checkpoint", "--save"],
        0,
        "recorded checkpoint seq 6",
    );
    let saved = block_on(async {
        let log = Log::new(g.state().open_store().await.unwrap());
        let saved = log.list_checkpoints().await.unwrap();
        log.store().close().await;
        saved
    });
    assert_eq!(saved.iter().map(|c| c.seq).collect::<Vec<_>>(), [6]);
    let cp = g.path("cp.json");
    c(
        &["audit", "checkpoint", "--out", cp.to_str().unwrap()],
        0,
        "wrote checkpoint seq 6",
    );
    c(
        &["audit", "verify", "--checkpoint", cp.to_str().unwrap()],
        0,
        "ok: 6 events",
    );
    // A key other than the server's fails from the first event, and says what to check.
    let wrong = "ab".repeat(32);
    c(
        &["audit", "--audit-key", &wrong, "verify"],
        2,
        "FAILED at seq 1: event 1 was edited",
    );
    let garbage = g.path("garbage.json");
    std::fs::write(&garbage, "{\"seq\":1}").unwrap();
    c(
        &["audit", "verify", "--checkpoint", garbage.to_str().unwrap()],
        1,
        "is not a checkpoint",
    );
}

fn audit_tampering(g: &Gate) {
    let c = |args: &[&str], code: i32, expected: &str| check(g, args, code, expected);
    let event = ("alice", "git_status", Some("app"), true, true);
    append_events(g, &[event; 5]);
    let cp = g.path("cp.json");
    let cp = cp.to_str().unwrap();
    c(
        &["audit", "checkpoint", "--out", cp],
        0,
        "wrote checkpoint seq 5",
    );
    append_events(g, &[event; 3]);
    c(
        &["audit", "verify", "--checkpoint", cp],
        0,
        "ok: 8 events, head seq 8",
    );

    g.drop_append_only_triggers();
    g.tamper(r#"UPDATE audit_events SET event = replace(event, '"user":"alice"', '"user":"mallory"') WHERE seq = 7"#);
    c(
        &["audit", "verify"],
        2,
        "FAILED at seq 7: event 7 was edited (hash mismatch)",
    );
    g.tamper("DELETE FROM audit_events WHERE seq = 6");
    c(&["audit", "verify"], 2, "FAILED at seq 6: missing event 6");
    // Cutting the tail: the recorded head shows it...
    g.tamper("DELETE FROM audit_events WHERE seq >= 4");
    c(&["audit", "verify"], 2, "FAILED at seq 4: truncated");
    // ...and once the head is rewound too, only the checkpoint kept elsewhere does.
    g.tamper("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE id = 1");
    c(&["audit", "verify"], 0, "ok: 3 events, head seq 3");
    c(
        &["audit", "verify", "--checkpoint", cp],
        2,
        "FAILED at seq 4: truncated: checkpoint 5 is beyond the last event 3",
    );
}

#[test]
fn users_roundtrip_sqlite() {
    users_roundtrip(&Gate::sqlite());
}

#[test]
fn users_roundtrip_postgres() {
    if let Some(g) = Gate::postgres() {
        users_roundtrip(&g);
    }
}

#[test]
fn audit_roundtrip_sqlite() {
    audit_roundtrip(&Gate::sqlite());
}

#[test]
fn audit_roundtrip_postgres() {
    if let Some(g) = Gate::postgres() {
        audit_roundtrip(&g);
    }
}

#[test]
fn audit_tampering_sqlite() {
    audit_tampering(&Gate::sqlite());
}

#[test]
fn audit_tampering_postgres() {
    if let Some(g) = Gate::postgres() {
        audit_tampering(&g);
    }
}

#[test]
fn admin_help_documents_every_option() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let check = |args: &[&str], expected: &[&str]| {
        let text = help(args);
        for flag in expected {
            assert!(text.contains(flag), "{args:?} --help lacks {flag}:\n{text}");
        }
    };
    check(
        &["users"],
        &[
            "add",
            "list",
            "token",
            "revoke",
            "tokens",
            "set-github-token",
            "clear-github-token",
            "set",
            "--data-dir",
            "--store",
        ],
    );
    check(
        &["users", "add"],
        &[
            "--scopes",
            "--repos",
            "'**'",
            "--git-name",
            "--git-email",
            "--jwt-subject",
            "--rate-limit",
            "github:merge",
        ],
    );
    check(&["users", "list"], &["--json"]);
    check(&["users", "token"], &["shown only this once"]);
    check(&["users", "revoke"], &["--token", "ID_OR_PREFIX"]);
    check(&["users", "tokens"], &["--json"]);
    check(
        &["users", "set-github-token"],
        &[
            "--from-env",
            "stdin",
            "--secret-key-file",
            "GITGATE_SECRET_KEY",
            "gitgate keygen",
        ],
    );
    check(
        &["users", "set"],
        &[
            "--scopes",
            "--repos",
            "--jwt-subject",
            "--no-jwt-subject",
            "--rate-limit",
            "--no-rate-limit",
            "--git-name",
            "--no-git-identity",
        ],
    );
    check(
        &["audit"],
        &[
            "query",
            "verify",
            "export",
            "checkpoint",
            "--audit-key-file",
        ],
    );
    let filters = [
        "--user",
        "--tool",
        "--repo",
        "--decision",
        "--outcome",
        "--since",
        "--until",
        "--limit",
        "YYYY-MM-DD",
    ];
    check(
        &["audit", "query"],
        &[&filters[..], &["--format", "jsonl"]].concat(),
    );
    check(&["audit", "export"], &[&filters[..], &["--out"]].concat());
    check(
        &["audit", "verify"],
        &["--checkpoint", "exits 2", "FAILED at seq"],
    );
    check(&["audit", "checkpoint"], &["--out", "--save"]);
}

#[test]
fn users_and_audit_read_their_store_from_the_config_file_serve_reads() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file.db");
    let config = dir.path().join("gitgate.toml");
    std::fs::write(
        &config,
        format!(
            "store = \"sqlite://{}\"\ndata_dir = {:?}\n",
            from_file.display(),
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let gitgate = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("GITGATE_STORE")
            .env_remove("GITGATE_DATA_DIR")
            .env_remove("GITGATE_CONFIG")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let config = config.display().to_string();
    let (ok, _, err) = gitgate(
        &[
            "users", "--config", &config, "add", "bob", "--scopes", "git:read", "--repos", "app",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(from_file.exists(), "the file's store was not used");
    // The same file through GITGATE_CONFIG, as a deployment sets it once for every command.
    let (ok, out, err) = gitgate(&["users", "list", "--json"], &[("GITGATE_CONFIG", &config)]);
    assert!(ok, "{err}");
    assert!(out.contains("\"bob\""), "{out}");
    // A flag wins over the file, and so does its environment variable.
    let other = format!("sqlite://{}", dir.path().join("other.db").display());
    let (ok, out, err) = gitgate(
        &[
            "users", "--config", &config, "--store", &other, "list", "--json",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(!out.contains("\"bob\""), "{out}");
    let (ok, out, err) = gitgate(
        &["users", "--config", &config, "list", "--json"],
        &[("GITGATE_STORE", &other)],
    );
    assert!(ok, "{err}");
    assert!(!out.contains("\"bob\""), "{out}");
    // The audit commands too: the key file lands in the file's data_dir.
    let (ok, _, err) = gitgate(&["audit", "--config", &config, "verify"], &[]);
    assert!(ok, "{err}");
    assert!(dir.path().join("data/audit.key").exists(), "{err}");
}
