//! The audit spool (SQLite file stores only): events spooled with one write are chained, readers
//! see them, a dead process's spool is recovered once, and an altered spool is refused.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::tests::assert_verifies;
use super::{AuditEvent, AuditFilter, AuditKey, Decision, Error, Log, Outcome};
use crate::store::testing::TestDb;
use crate::store::{Durability, StoreOptions};

fn key() -> AuditKey {
    AuditKey::from_bytes(&[7u8; 32]).expect("32-byte key")
}

fn event(user: &str, n: usize) -> AuditEvent {
    AuditEvent::new(
        "spool-test",
        user,
        crate::audit::AuthMethod::Token,
        "git_status",
        &serde_json::json!({ "n": n }),
        Decision {
            allowed: true,
            rule: "scope:git:read".into(),
        },
        Outcome::default(),
    )
}

/// The `n` argument of each event in the log, in chain order.
async fn logged(log: &Log) -> Vec<u64> {
    log.query(&AuditFilter::default())
        .await
        .expect("query")
        .iter()
        .map(|e| e.event.arguments["n"].as_u64().expect("n"))
        .collect()
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Writes a spool file as a process that died before chaining it would have left it (no lock
/// held), with the events `range` under spool name `name`.
fn dead_spool(dir: &Path, name: &str, key: &AuditKey, range: std::ops::Range<usize>) -> PathBuf {
    std::fs::create_dir_all(dir).expect("spool dir");
    let mut text = String::new();
    for (i, n) in range.enumerate() {
        let json = event("alice", n).to_canonical_json().expect("json");
        let line = i as u64 + 1;
        text.push_str(&format!(
            "{line}\t{}\t{json}\n",
            key.spool_mac(name, line, &json)
        ));
    }
    let path = dir.join(format!("{name}.spool"));
    std::fs::write(&path, text).expect("write spool");
    path
}

type Seen = Arc<Mutex<Vec<u64>>>;

fn collector() -> (Seen, super::OnChained) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let on_chained: super::OnChained = Box::new(move |a| sink.lock().expect("lock").push(a.seq));
    (seen, on_chained)
}

#[tokio::test]
async fn spooled_events_are_chained_and_every_reader_sees_them() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let (seen, on_chained) = collector();
    assert!(
        log.start_spool(&key(), "p1", Some(on_chained))
            .expect("spool")
    );
    for n in 0..50 {
        log.spool(&event("alice", n))
            .expect("spool on")
            .expect("spooled");
    }
    // Read at once, through this log and through another connection to the same file (as
    // the CLI does while the server runs): both wait for the chain to hold all fifty.
    assert_eq!(logged(&log).await, (0..50).collect::<Vec<u64>>());
    let other = Log::new(db.store().await);
    assert_eq!(logged(&other).await, (0..50).collect::<Vec<u64>>());
    let report = other.verify(&key(), None).await.expect("verify");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, 50);
    assert_eq!(other.checkpoint().await.expect("head").seq, 50);
    // The mirror saw each event once, in chain order.
    assert_eq!(*seen.lock().expect("lock"), (1..=50).collect::<Vec<u64>>());
}

#[tokio::test]
async fn spooled_and_committed_appends_share_one_chain() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let replica = Log::new(db.store().await);
    assert!(log.start_spool(&key(), "p1", None).expect("spool"));
    for n in 0..30 {
        if n % 3 == 0 {
            replica
                .append(&event("bob", n), &key())
                .await
                .expect("append");
        } else {
            log.spool(&event("alice", n))
                .expect("spool on")
                .expect("spooled");
        }
    }
    let mut all = logged(&log).await;
    all.sort();
    assert_eq!(all, (0..30).collect::<Vec<u64>>());
    assert_verifies(&log, &key()).await;
}

#[tokio::test]
async fn a_dead_process_spool_is_chained_once_then_removed() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let dir = log.spool_dir().expect("a SQLite file store");
    let path = dead_spool(&dir, "crashed.1", &key(), 0..7);
    // A server starting over it chains it first (and mirrors it), then removes the file.
    let (seen, on_chained) = collector();
    assert!(
        log.start_spool(&key(), "p2", Some(on_chained))
            .expect("spool")
    );
    assert!(!path.exists(), "a chained dead spool is removed");
    assert_eq!(*seen.lock().expect("lock"), (1..=7).collect::<Vec<u64>>());
    log.spool(&event("alice", 7))
        .expect("spool on")
        .expect("spooled");
    assert_eq!(logged(&log).await, (0..8).collect::<Vec<u64>>());
}

#[tokio::test]
async fn readers_recover_a_dead_spool_without_duplicates() {
    let db = TestDb::sqlite();
    let a = Log::new(db.store().await);
    let b = Log::new(db.store().await);
    let dir = a.spool_dir().expect("a SQLite file store");
    dead_spool(&dir, "crashed.1", &key(), 0..40);
    // Without the key a reader cannot chain it (nor check it): it is left alone.
    assert_eq!(logged(&a).await, Vec::<u64>::new());
    // Two processes settling at the same time (as two `gitgate audit` commands would).
    let k = key();
    let (ra, rb) = tokio::join!(a.settle(Some(&k)), b.settle(Some(&k)));
    ra.expect("settle a");
    rb.expect("settle b");
    assert_eq!(logged(&a).await, (0..40).collect::<Vec<u64>>());
    assert!(spool_files(&dir).is_empty());
    assert!(a.verify(&key(), None).await.expect("verify").is_ok());
}

#[tokio::test]
async fn a_partial_last_line_is_kept_and_the_whole_lines_chained() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let dir = log.spool_dir().expect("a SQLite file store");
    let path = dead_spool(&dir, "cut.1", &key(), 0..3);
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str("4\tdeadbeef\t{\"cut\":");
    std::fs::write(&path, text).expect("write");
    log.settle(Some(&key())).await.expect("settle");
    assert_eq!(logged(&log).await, vec![0, 1, 2]);
    assert!(
        path.exists(),
        "a file ending in a partial line is kept for inspection"
    );
}

/// Alters a dead spool of 5 events with `tamper` and expects chaining to stop at line `bad`.
async fn refused(tamper: impl FnOnce(&mut Vec<String>), bad: u64, reason: &str) {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let dir = log.spool_dir().expect("a SQLite file store");
    let path = dead_spool(&dir, "victim.1", &key(), 0..5);
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    tamper(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let err = log
        .settle(Some(&key()))
        .await
        .expect_err("an altered spool is refused");
    match &err {
        Error::SpoolTampered {
            line, reason: r, ..
        } => {
            assert_eq!(*line, bad, "{err}");
            assert!(r.contains(reason), "{err}");
        }
        other => panic!("expected SpoolTampered, got {other}"),
    }
    // The lines before the bad one are chained; the file stays.
    let before: Vec<u64> = (0..bad - 1).collect();
    assert_eq!(logged(&log).await, before);
    assert!(path.exists());
    // A server cannot start over it either: its events could never all be chained.
    assert!(log.start_spool(&key(), "p3", None).is_err());
}

#[tokio::test]
async fn an_edited_spool_line_is_refused() {
    refused(|l| l[2] = l[2].replace("alice", "mallory"), 3, "MAC").await;
}

#[tokio::test]
async fn a_removed_spool_line_is_refused() {
    refused(|l| drop(l.remove(1)), 2, "out of order").await;
}

#[tokio::test]
async fn swapped_spool_lines_are_refused() {
    refused(|l| l.swap(3, 4), 4, "out of order").await;
}

#[tokio::test]
async fn a_line_from_another_spool_or_key_is_refused() {
    let other_key = AuditKey::from_bytes(&[9u8; 32]).expect("key");
    let foreign = dead_spool(
        &std::env::temp_dir().join(format!("gitgate-foreign-{}", std::process::id())),
        "victim.1",
        &other_key,
        0..5,
    );
    let stranger = std::fs::read_to_string(&foreign).expect("read");
    let _ = std::fs::remove_dir_all(foreign.parent().expect("dir"));
    let line = stranger.lines().next().expect("a line").to_owned();
    refused(move |l| l[0] = line, 1, "MAC").await;
}

#[tokio::test]
async fn the_spool_file_rotates_and_old_files_go() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    let tuning = super::spool::Tuning {
        rotate_bytes: 2_000,
        ..Default::default()
    };
    assert!(
        log.start_spool_with(&key(), "p4", None, tuning)
            .expect("spool")
    );
    for n in 0..40 {
        log.spool(&event("alice", n))
            .expect("spool on")
            .expect("spooled");
        if n % 10 == 9 {
            // Let rotation happen in the middle of the run too, not only at the end.
            log.settle(None).await.expect("settle");
        }
    }
    assert_eq!(logged(&log).await, (0..40).collect::<Vec<u64>>());
    let dir = log.spool_dir().expect("dir");
    let current = log.state.spool.get().expect("spool").current_name();
    assert_ne!(current, "p4.1", "rotated at least once");
    assert_eq!(
        spool_files(&dir),
        vec![dir.join(format!("{current}.spool"))]
    );
    assert_verifies(&log, &key()).await;
}

#[tokio::test]
async fn closing_a_store_chains_the_rest_and_removes_its_file() {
    let db = TestDb::sqlite();
    let dir;
    {
        let log = Log::new(db.store().await);
        dir = log.spool_dir().expect("dir");
        assert!(log.start_spool(&key(), "p5", None).expect("spool"));
        for n in 0..10 {
            log.spool(&event("alice", n))
                .expect("spool on")
                .expect("spooled");
        }
        log.store().close().await;
    }
    assert!(spool_files(&dir).is_empty(), "{:?}", spool_files(&dir));
    let reopened = Log::new(db.store().await);
    assert_eq!(logged(&reopened).await, (0..10).collect::<Vec<u64>>());
}

#[tokio::test]
async fn power_loss_durability_commits_each_event_instead() {
    let db = TestDb::sqlite();
    let options = StoreOptions {
        durability: Durability::Full,
        ..StoreOptions::default()
    };
    let log = Log::new(db.store_with(&options).await);
    assert!(!log.start_spool(&key(), "p6", None).expect("no error"));
    assert!(log.spool(&event("alice", 0)).is_none());
}

#[tokio::test]
async fn a_spool_altered_under_a_running_server_stops_its_calls() {
    let db = TestDb::sqlite();
    let log = Log::new(db.store().await);
    // The chainer waits a minute before each pass, so the lines are still unchained below.
    let tuning = super::spool::Tuning {
        gather: std::time::Duration::from_secs(60),
        idle: std::time::Duration::from_secs(60),
        ..Default::default()
    };
    assert!(
        log.start_spool_with(&key(), "p7", None, tuning)
            .expect("spool")
    );
    for n in 0..3 {
        log.spool(&event("alice", n))
            .expect("spool on")
            .expect("spooled");
    }
    let spool = log.state.spool.get().expect("spool");
    let path = log
        .spool_dir()
        .expect("dir")
        .join(format!("{}.spool", spool.current_name()));
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replace("alice", "mallory");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let err = spool.flush().expect_err("the edited line is refused");
    assert!(matches!(err, Error::SpoolTampered { line: 2, .. }), "{err}");
    // The first line was chained; no further call can be recorded, so none is served.
    let refused = log.spool(&event("alice", 3)).expect("spool on");
    let message = refused.expect_err("appends refused").to_string();
    assert!(message.contains("line 2"), "{message}");
    let read = log
        .query(&AuditFilter::default())
        .await
        .expect_err("readers are told too")
        .to_string();
    assert!(read.contains("line 2"), "{read}");
}
