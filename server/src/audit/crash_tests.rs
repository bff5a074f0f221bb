//! The audit log survives a SIGKILL right after an append returned: a committed event (SQLite
//! and PostgreSQL) and a spooled one (SQLite files), which whoever opens the store next with the
//! key chains, exactly once. The test binary runs itself as the process that dies.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::tests::assert_verifies;
use super::{AuditFilter, AuditKey, Log, bench};
use crate::store::Store;
use crate::store::testing::{TestDb, backend_tests};

fn key() -> AuditKey {
    AuditKey::from_bytes(&[7u8; 32]).expect("32-byte key")
}

backend_tests! {
    async fn audit_event_survives_kill_after_append(db) {
        let log = Log::new(db.store().await);
        let (seq, id) = append_in_child_then_kill(&db.url);
        let found = log.query(&AuditFilter::default()).await.expect("query");
        assert_eq!(found.iter().map(|e| (e.seq, e.event.id.as_str())).collect::<Vec<_>>(), [(seq, id.as_str())]);
        assert!(log.verify(&key(), None).await.expect("verify").is_ok());
    }
}

// The spool's crash case (SQLite files only): the event is only in the spool file when the
// process dies (its chainer was told to wait a minute), and whoever opens the store next with
// the key chains it, exactly once.
#[tokio::test]
async fn a_spooled_event_survives_kill_and_is_chained_once() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let (_, id) = child_then_kill(&db.url, "spool");
    let dir = log.spool_dir().expect("a SQLite file");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("spool dir").collect();
    assert_eq!(left.len(), 1, "the dead process's spool file is there");
    assert_eq!(
        log.checkpoint().await.expect("head").seq,
        0,
        "not chained before the kill"
    );
    log.settle(Some(&key())).await.expect("settle");
    log.settle(Some(&key())).await.expect("settle again");
    let found = log.query(&AuditFilter::default()).await.expect("query");
    assert_eq!(
        found
            .iter()
            .map(|e| (e.seq, e.event.id.as_str()))
            .collect::<Vec<_>>(),
        [(1, id.as_str())]
    );
    assert_verifies(&log, &key()).await;
    assert_eq!(
        std::fs::read_dir(&dir).expect("spool dir").count(),
        0,
        "removed once chained"
    );
}

const HELPER_URL: &str = "GITGATE_TEST_CRASH_HELPER_URL";
const HELPER_MODE: &str = "GITGATE_TEST_CRASH_HELPER_MODE";

/// Starts this test binary as a child that appends one event to `url` and then idles; SIGKILLs
/// it as soon as it reports the append. Returns the event's sequence number and id.
fn append_in_child_then_kill(url: &str) -> (u64, String) {
    child_then_kill(url, "append")
}

/// [`append_in_child_then_kill`] with the helper's `mode`: `append` (committed) or `spool`.
#[allow(clippy::disallowed_methods)] // a test spawning itself, not the server spawning programs
fn child_then_kill(url: &str, mode: &str) -> (u64, String) {
    let exe = std::env::current_exe().expect("current test binary");
    let mut child: Child = Command::new(exe)
        .args([
            "--exact",
            "audit::crash_tests::crash_helper",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(HELPER_URL, url)
        .env(HELPER_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the helper");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reported = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read helper output");
        // libtest may have printed `test ... ` on the same line first.
        if let Some((_, rest)) = line.split_once("appended ") {
            reported = Some(rest.to_owned());
            break;
        }
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no flush, no orderly close of the pool.
    child.kill().expect("kill the helper");
    child.wait().expect("reap the helper");
    let reported = reported.expect("the helper reported its append before dying");
    let (seq, id) = reported.split_once(' ').expect("`appended SEQ ID`");
    (seq.parse().expect("sequence number"), id.to_owned())
}

/// The child side of [`append_in_child_then_kill`]; without its environment variable it does
/// nothing and passes.
#[tokio::test]
async fn crash_helper() {
    let Ok(url) = std::env::var(HELPER_URL) else {
        return;
    };
    let log = Log::new(Store::connect(&url).await.expect("open store"));
    let event = bench::sample_event("crash-helper");
    if std::env::var(HELPER_MODE).as_deref() == Ok("spool") {
        let tuning = super::spool::Tuning {
            gather: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            ..Default::default()
        };
        assert!(
            log.start_spool_with(&key(), "crash", None, tuning)
                .expect("spool")
        );
        log.spool(&event).expect("spool on").expect("spooled");
        println!("appended 0 {}", event.id);
    } else {
        let appended = log.append(&event, &key()).await.expect("append");
        println!("appended {} {}", appended.seq, event.id);
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
}
