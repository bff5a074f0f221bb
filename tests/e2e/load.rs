//! `gitgate-bench load` against the real gitgate binary on both stores: the JSON it writes
//! adds up (calls, errors, audit events), and a server killed with SIGKILL in the middle of the
//! load has, once restarted, the audit event of every call that got a reply.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gitgate_bench::load::drive::{Driver, Load, marker};
use gitgate_bench::load::session::Session;
use gitgate_bench::load::setup::{self, Fixture, Server, Store};
use serde_json::Value;

use crate::binaries::binary;

const USERS: usize = 3;

fn postgres_url() -> String {
    std::env::var("GITGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether a PostgreSQL failure may skip the test (as the server's PostgreSQL tests allow).
fn may_skip_postgres(why: &str) -> bool {
    if std::env::var("GITGATE_TEST_NO_POSTGRES").as_deref() == Ok("1") {
        eprintln!("skipping: {why} and GITGATE_TEST_NO_POSTGRES=1");
        return true;
    }
    false
}

/// Runs `gitgate-bench load` for 2 seconds with 3 users; `None` when PostgreSQL may be skipped.
fn run_bench(store_args: &[&str]) -> Option<Value> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("load.json");
    let out = std::process::Command::new(binary("gitgate-bench"))
        .arg("load")
        .arg("--gitgate")
        .arg(binary("gitgate"))
        .args([
            "--users",
            "3",
            "--duration",
            "2",
            "--warmup",
            "0",
            "--settle",
            "0.5",
        ])
        .args(["--concurrency", "4", "--json"])
        .arg(&json)
        .args(store_args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && !store_args.is_empty() && may_skip_postgres(&stderr) {
        return None;
    }
    assert!(out.status.success(), "gitgate-bench load failed:\n{stderr}");
    Some(serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap())
}

/// The JSON of one run adds up: calls made, none failed, one audit event per replied call.
fn check_report(result: &Value, store: &str) {
    let runs = result["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{result:#}");
    let run = &runs[0];
    assert_eq!(run["store"], store);
    assert_eq!(run["users"], USERS);
    let calls = run["calls"].as_u64().unwrap();
    assert!(calls > 0, "{run:#}");
    assert_eq!(run["errors"], 0, "{run:#}");
    assert_eq!(run["ok"].as_u64(), Some(calls));
    assert_eq!(run["setup_calls"].as_u64(), Some(USERS as u64));
    assert_eq!(run["warmup_calls"], 0);
    let audit = &run["audit"];
    assert_eq!(audit["verify_ok"], true, "{audit:#}");
    assert_eq!(
        audit["events"].as_u64(),
        Some(calls + USERS as u64),
        "one event per measured call plus one per user's setup call: {run:#}"
    );
    assert_eq!(audit["consistent"], true);
    let latency = &run["latency_us"];
    let (p50, p99) = (
        latency["p50_us"].as_f64().unwrap(),
        latency["p99_us"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99, "{latency}");
    let memory = &run["memory"];
    assert!(memory["idle_kib"].as_u64().unwrap() > 0, "{memory}");
    assert!(
        memory["peak_kib"].as_u64() >= memory["idle_kib"].as_u64(),
        "{memory}"
    );
    // Read after the sessions closed and the server stood idle (--settle): a live process.
    assert!(memory["settled_kib"].as_u64().unwrap() > 0, "{memory}");
    assert_eq!(run["settle_s"], 0.5);
    assert!(result["ratio"].is_null());
}

#[test]
fn load_on_sqlite_reports_calls_and_one_audit_event_per_call() {
    let result = run_bench(&[]).unwrap();
    check_report(&result, "sqlite");
}

/// The open loop sends exactly the schedule (rate x duration calls) over its fixed callers,
/// with the callers recorded in the report.
#[test]
fn the_open_loop_sends_the_whole_schedule_over_its_callers() {
    let result = run_bench(&["--rate", "40"]).unwrap();
    check_report(&result, "sqlite");
    let run = &result["runs"][0];
    assert_eq!(
        run["load"],
        serde_json::json!({"mode": "open", "rate": 40.0, "callers": 4})
    );
    // Slot k is due at k / 40 s; the 2 s run holds slots 0..=79.
    assert_eq!(run["calls"], 80, "{run:#}");
}

#[test]
fn load_on_postgres_reports_calls_and_one_audit_event_per_call() {
    let url = postgres_url();
    if let Some(result) = run_bench(&["--postgres", &url]) {
        check_report(&result, "postgres");
    }
}

/// How the server is stopped under load.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    /// SIGKILL: nothing runs; the next start chains what the dead process spooled.
    Kill9,
    /// SIGTERM: the calls in flight are answered, the spool chained, exit 0.
    Term,
}

/// Drives marked git_log calls (and git_status) from two callers per user, stops the server
/// (`how`) once 60 calls were answered, and checks that every answered git_log call's marker is
/// in exactly one audit event and that the chain verifies. After a kill the server is restarted
/// on the same store first; after SIGTERM it must have exited 0 with its spool chained.
async fn stop_during_load(store: Store, how: Stop) {
    let bin = binary("gitgate");
    let fixture = match Fixture::new(&store).await {
        Ok(f) => f,
        Err(e) if may_skip_postgres(&format!("{e:#}")) => return,
        Err(e) => panic!("{e:#}"),
    };
    let tokens = setup::add_users(&bin, &fixture, USERS).unwrap();
    let server = Server::start(&bin, &fixture).unwrap();
    let http = gitgate_bench::load::http_client().unwrap();
    let mut sessions = Vec::new();
    for token in &tokens {
        sessions.push(Arc::new(
            Session::open(&http, &server.url, token).await.unwrap(),
        ));
    }
    let driver = Driver::new(sessions, true);
    let load = tokio::spawn({
        let driver = Arc::clone(&driver);
        // The duration only bounds a run that never reaches the kill; the kill ends it.
        async move {
            driver
                .run(
                    Load::Closed {
                        concurrency: 2 * USERS,
                    },
                    Duration::from_secs(120),
                )
                .await
        }
    });
    let mut reached = driver.counters.reached_tool.subscribe();
    tokio::time::timeout(Duration::from_secs(60), reached.wait_for(|n| *n >= 60))
        .await
        .expect("60 replies within a minute")
        .unwrap();
    match how {
        Stop::Kill9 => server.kill9().unwrap(),
        // Off the runtime: the calls in flight are answered while it waits for the exit.
        Stop::Term => tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap()
            .expect("SIGTERM under load: exit 0"),
    }
    driver.halt();
    let outcomes = load.await.unwrap();
    match how {
        Stop::Kill9 => {
            // The restarted server chains what the killed one spooled before it serves.
            let restarted = Server::start(&bin, &fixture).unwrap();
            Session::open(&http, &restarted.url, &tokens[0])
                .await
                .unwrap();
            restarted.stop().unwrap();
        }
        Stop::Term => {
            // A clean stop left nothing for a restart to chain.
            let spool = fixture.data_dir().join("gitgate.db-spool");
            let left: Vec<_> = std::fs::read_dir(&spool)
                .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "spool files left: {left:?}");
        }
    }
    check_every_reply_audited(&bin, &fixture, &outcomes, how);
    fixture.cleanup().await.unwrap();
}

fn check_every_reply_audited(
    bin: &Path,
    fixture: &Fixture,
    outcomes: &[gitgate_bench::load::drive::Outcome],
    how: Stop,
) {
    // The only failures are the calls the stop cut off: no reply at all, or (SIGTERM) an HTTP
    // refusal of a request whose headers the server was still reading when its calls in flight
    // were all answered and the sessions ended (a known race; nothing of such a call ran).
    let cut_off = |kind: &str| kind == "transport" || (how == Stop::Term && kind == "http_status");
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.error.is_some_and(|(kind, _)| !cut_off(kind)))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let answered: Vec<String> = outcomes
        .iter()
        .filter(|o| o.error.is_none() && !o.seq.is_multiple_of(2))
        .map(|o| marker(o.seq))
        .collect();
    assert!(
        answered.len() >= 25,
        "{} marked calls answered",
        answered.len()
    );
    let unanswered = outcomes.iter().filter(|o| o.error.is_some()).count();
    eprintln!(
        "{} calls, {} marked calls answered, {unanswered} cut off by the stop",
        outcomes.len(),
        answered.len()
    );

    let mut audited: BTreeMap<String, usize> = BTreeMap::new();
    for event in setup::audit_events(bin, fixture).unwrap() {
        if let Some(grep) = event["arguments"]["grep"].as_str() {
            *audited.entry(grep.to_owned()).or_default() += 1;
        }
    }
    for m in &answered {
        assert_eq!(
            audited.get(m),
            Some(&1),
            "answered call {m} in the audit log once"
        );
    }
    let twice: Vec<_> = audited.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "events written twice: {twice:?}");
    let verify = setup::audit_verify(bin, fixture).unwrap();
    assert!(verify.ok, "{}", verify.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_kill_9_on_sqlite_loses_no_answered_call() {
    stop_during_load(Store::Sqlite, Stop::Kill9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_kill_9_on_postgres_loses_no_answered_call() {
    stop_during_load(Store::Postgres(postgres_url()), Stop::Kill9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_sigterm_on_sqlite_answers_and_audits_every_call_in_flight() {
    stop_during_load(Store::Sqlite, Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_sigterm_on_postgres_answers_and_audits_every_call_in_flight() {
    stop_during_load(Store::Postgres(postgres_url()), Stop::Term).await;
}
