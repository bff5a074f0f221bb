//! The audit log: redaction, canonical JSON, the chain, and (on SQLite and PostgreSQL) append,
//! query, export, verify and each kind of tampering.

use serde_json::{Value, json};

use super::*;
use crate::store::testing::{TestDb, backend_tests};

fn key() -> AuditKey {
    AuditKey::from_bytes(&[7u8; 32]).expect("32-byte key")
}

/// An event by `user` calling `tool` on `repo`, allowed or not, ok or not, numbered `n`.
fn event(
    user: &str,
    tool: &str,
    repo: Option<&str>,
    allowed: bool,
    ok: bool,
    n: u64,
) -> AuditEvent {
    let mut event = AuditEvent::new(
        "test-instance",
        user,
        crate::audit::AuthMethod::Token,
        tool,
        &json!({ "n": n, "repo": repo }),
        Decision {
            allowed,
            rule: "test".to_owned(),
        },
        Outcome {
            ok,
            code: (!ok).then(|| "not_found".to_owned()),
            message: (!ok).then(|| "no such thing".to_owned()),
        },
    );
    event.target.repo = repo.map(str::to_owned);
    event.duration_ms = 1.5;
    event
}

async fn append_n(log: &Log, n: u64) -> Vec<Appended> {
    let mut appended = Vec::new();
    for i in 1..=n {
        let e = event("alice", "git_status", Some("acme/widgets"), true, true, i);
        appended.push(log.append(&e, &key()).await.expect("append"));
    }
    appended
}

#[test]
fn redaction() {
    fn check(input: Value, expected: Value) {
        assert_eq!(redact(&input), expected, "{input}");
    }
    check(
        json!({"repo": "a/b", "rev": "main"}),
        json!({"repo": "a/b", "rev": "main"}),
    );
    check(json!({"token": "x"}), json!({"token": REDACTED}));
    check(
        json!({"GitHub_Token": 123}),
        json!({"GitHub_Token": REDACTED}),
    );
    check(
        json!({"Authorization": "Bearer abc"}),
        json!({"Authorization": REDACTED}),
    );
    check(
        json!({"client_secret": {"a": 1}}),
        json!({"client_secret": REDACTED}),
    );
    check(
        json!({"password": null, "api_key": "k"}),
        json!({"password": REDACTED, "api_key": REDACTED}),
    );
    check(
        json!({"outer": {"inner": [{"x-api-key": "k"}, {"ok": 1}]}}),
        json!({"outer": {"inner": [{"x-api-key": REDACTED}, {"ok": 1}]}}),
    );
    check(json!({"body": "ghp_abcdef"}), json!({"body": REDACTED}));
    check(json!(["ggt_abc", "plain"]), json!([REDACTED, "plain"]));
    check(json!("Bearer xyz"), json!(REDACTED));
}

#[test]
fn canonical_json_sorts_keys_at_every_level() {
    fn check(a: &str, b: &str, expected: &str) {
        let a: Value = serde_json::from_str(a).expect("json");
        let b: Value = serde_json::from_str(b).expect("json");
        assert_eq!(canonical_json(&a), expected);
        assert_eq!(canonical_json(&b), expected);
    }
    check(
        r#"{"b":1,"a":2}"#,
        r#"{ "a" : 2 , "b" : 1 }"#,
        r#"{"a":2,"b":1}"#,
    );
    check(
        r#"{"z":{"y":[{"b":true,"a":null}],"x":"é\n"},"a":[3,1.5,"s"]}"#,
        r#"{"a":[3,1.5,"s"],"z":{"x":"é\n","y":[{"a":null,"b":true}]}}"#,
        r#"{"a":[3,1.5,"s"],"z":{"x":"é\n","y":[{"a":null,"b":true}]}}"#,
    );
    // Maps built in different insertion orders (as with `preserve_order`) agree.
    let mut m1 = serde_json::Map::new();
    m1.insert("beta".into(), json!(1));
    m1.insert("alpha".into(), json!({"d": 1, "c": 2}));
    let mut m2 = serde_json::Map::new();
    m2.insert("alpha".into(), json!({"c": 2, "d": 1}));
    m2.insert("beta".into(), json!(1));
    assert_eq!(
        canonical_json(&Value::Object(m1)),
        canonical_json(&Value::Object(m2))
    );
}

#[test]
fn events_serialize_canonically_and_redacted() {
    let mut e = event("alice", "gh_issue_create", None, true, true, 1);
    e.arguments = json!({"title": "t", "token": "leak"});
    let text = e.to_canonical_json().expect("serialize");
    assert!(!text.contains("leak") && text.contains(REDACTED), "{text}");
    let parsed: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(canonical_json(&parsed), text);
    let back: AuditEvent = serde_json::from_str(&text).expect("parse back");
    assert_eq!(back.tool, "gh_issue_create");
    assert_eq!(e.time.len(), "2026-05-01T12:00:00.123Z".len());
    assert_eq!(e.id.len(), 32);
}

/// The direct writer of `to_canonical_json` must produce exactly what canonicalising the
/// serialized (and redacted) event does: that text is what earlier chains hashed.
#[test]
fn canonical_writer_matches_canonicalised_value() {
    fn check(e: &AuditEvent) {
        let mut value = serde_json::to_value(e).expect("to_value");
        let args = value.get_mut("arguments").expect("arguments");
        *args = redact(args);
        assert_eq!(e.to_canonical_json().expect("json"), canonical_json(&value));
    }
    let plain = event("alice", "git_status", Some("acme/w"), true, true, 1);
    check(&plain);
    check(&event("bob", "gh_pr_merge", None, false, false, 2));
    let mut full = plain.clone();
    // Built by hand, so not yet redacted: the writer must redact.
    full.arguments = json!({
        "z": [1, 2.5, -3, {"GitHub_Token": {"x": 1}, "b": "ghp_abc", "a": null}],
        "msg": "quote \" backslash \\ tab \t \u{1f600} \u{7}",
        "Authorization": "Bearer x", "nested": {"api_key": 5, "ok": "Bearer y", "\u{e9}": true},
        "big": u64::MAX, "neg": i64::MIN, "f": 1e300, "zero": 0.0, "one": 1.0,
    });
    full.session = Some("s\"1".into());
    full.client = Some(ClientInfo {
        name: "cli\n".into(),
        version: None,
    });
    full.target.git_ref = Some("main".into());
    full.target.issue = Some(42);
    full.duration_ms = 0.1 + 0.2;
    full.bytes_in = 7;
    full.bytes_out = u64::MAX;
    full.upstream_request_ids = vec!["r1".into(), "r\u{0}2".into()];
    full.parent = Some("p".into());
    check(&full);
    full.client = Some(ClientInfo {
        name: String::new(),
        version: Some("1.0".into()),
    });
    full.duration_ms = f64::NAN;
    full.arguments = json!("ggt_secret");
    check(&full);
    full.arguments = json!([]);
    full.duration_ms = f64::INFINITY;
    check(&full);
}

/// The spool's chainer reads only the indexed fields of an event's JSON: they must be the same
/// columns as those of the whole parsed event, escapes and missing `target.repo` included.
#[test]
fn columns_from_json_match_columns_of_the_event() {
    let mut events = vec![
        event("alice", "git_status", Some("acme/w"), true, true, 1),
        event("bob", "gh_pr_merge", None, false, false, 2),
        event(
            "c\"a\\rol \u{e9}\n",
            "git_log",
            Some("o/r\"x"),
            true,
            false,
            3,
        ),
    ];
    let mut offset = events[0].clone();
    offset.time = "2026-05-01T14:00:00.5+02:00".into();
    events.push(offset);
    for e in &events {
        let json = e.to_canonical_json().expect("json");
        let parsed: AuditEvent = serde_json::from_str(&json).expect("parse");
        let columns = IndexedColumns::of(&parsed).expect("columns");
        assert_eq!(IndexedColumns::from_json(&json), Some(columns), "{json}");
    }
    assert_eq!(IndexedColumns::from_json("{}"), None);
    assert_eq!(IndexedColumns::from_json("not json"), None);
    let mut bad_time = events[0].clone();
    bad_time.time = "yesterday".into();
    let json = bad_time.to_canonical_json().expect("json");
    assert_eq!(IndexedColumns::from_json(&json), None);
}

#[test]
fn keys_and_hashes() {
    assert!(matches!(
        AuditKey::from_bytes(&[1; 31]),
        Err(Error::KeyTooShort { len: 31, .. })
    ));
    let bytes = AuditKey::generate_bytes().expect("os rng");
    let key = AuditKey::from_bytes(&bytes).expect("key");
    assert_eq!(format!("{key:?}"), "AuditKey([redacted])");
    let h = key.chain_hash(GENESIS_HASH, "{}");
    assert_eq!(h.len(), 64);
    assert_ne!(
        h,
        AuditKey::from_bytes(&[1; 32])
            .expect("key")
            .chain_hash(GENESIS_HASH, "{}")
    );
}

#[test]
fn schema_describes_the_event() {
    let schema = event_schema();
    let properties = schema["properties"].as_object().expect("properties");
    for field in [
        "id",
        "time",
        "instance",
        "session",
        "user",
        "auth_method",
        "client",
        "tool",
        "arguments",
        "target",
        "decision",
        "outcome",
        "duration_ms",
        "bytes_in",
        "bytes_out",
        "upstream_request_ids",
        "parent",
    ] {
        assert!(properties.contains_key(field), "{field}");
    }
}

/// Asserts that the audit chain of `log` verifies with `key`, showing the report if not.
pub(super) async fn assert_verifies(log: &Log, key: &AuditKey) {
    let report = log.verify(key, None).await.expect("verify");
    assert!(report.is_ok(), "{report:?}");
}

/// Asserts what verify reports: `None` for a clean log, else the first bad seq and kind.
async fn check_verify(
    log: &Log,
    checkpoint: Option<&Checkpoint>,
    expected: Option<(u64, TamperKind)>,
) {
    let report = log.verify(&key(), checkpoint).await.expect("verify");
    let found = report.first_bad.as_ref().map(|t| (t.seq, t.kind));
    assert_eq!(found, expected, "{report:?}");
}

/// Lets the test change `audit_events` as an attacker with database access would.
async fn drop_append_only_triggers(db: &TestDb, log: &Log) {
    db.exec(
        log.store(),
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        "DROP TRIGGER audit_events_no_update ON audit_events; \
         DROP TRIGGER audit_events_no_delete ON audit_events;",
    )
    .await;
}

/// Runs the same SQL on either backend.
async fn tamper(db: &TestDb, log: &Log, sql: &str) {
    db.exec(log.store(), sql, sql).await;
}

backend_tests! {
    async fn append_and_query_with_each_filter(db) {
        let log = Log::new(db.store().await);
        let rows = [
            ("alice", "git_status", Some("acme/widgets"), true, true),
            ("alice", "git_log", Some("acme/gadgets"), true, false),
            ("bob", "gh_pr_merge", Some("acme/widgets"), false, false),
            ("bob", "git_status", None, true, true),
        ];
        let mut appended = Vec::new();
        for (i, (user, tool, repo, allowed, ok)) in rows.into_iter().enumerate() {
            let e = event(user, tool, repo, allowed, ok, i as u64);
            appended.push(log.append(&e, &key()).await.expect("append"));
        }
        assert_eq!(appended.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(appended[0].prev_hash, GENESIS_HASH);
        assert_eq!(appended[1].prev_hash, appended[0].hash);

        async fn check(log: &Log, filter: AuditFilter, expected: &[u64]) {
            let found: Vec<u64> = log.query(&filter).await.expect("query").iter().map(|e| e.seq).collect();
            assert_eq!(found, expected, "{filter:?}");
        }
        let all = AuditFilter::default;
        check(&log, all(), &[1, 2, 3, 4]).await;
        check(&log, AuditFilter { user: Some("bob".into()), ..all() }, &[3, 4]).await;
        check(&log, AuditFilter { tool: Some("git_status".into()), ..all() }, &[1, 4]).await;
        check(&log, AuditFilter { repo: Some("acme/widgets".into()), ..all() }, &[1, 3]).await;
        check(&log, AuditFilter { allowed: Some(false), ..all() }, &[3]).await;
        check(&log, AuditFilter { allowed: Some(true), ..all() }, &[1, 2, 4]).await;
        check(&log, AuditFilter { ok: Some(false), ..all() }, &[2, 3]).await;
        check(&log, AuditFilter { user: Some("alice".into()), ok: Some(true), ..all() }, &[1]).await;
        check(&log, AuditFilter { limit: Some(2), ..all() }, &[3, 4]).await;
        check(&log, AuditFilter { user: Some("carol".into()), ..all() }, &[]).await;

        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&chrono::Utc);
        let past = t("2000-01-01T00:00:00Z");
        let future = t("2999-01-01T00:00:00Z");
        check(&log, AuditFilter { since: Some(past), until: Some(future), ..all() }, &[1, 2, 3, 4]).await;
        check(&log, AuditFilter { since: Some(future), ..all() }, &[]).await;
        check(&log, AuditFilter { until: Some(past), ..all() }, &[]).await;
        let third = log.query(&all()).await.expect("query")[2].event.time.clone();
        let third = t(&third);
        let found = log.query(&AuditFilter { since: Some(third), ..all() }).await.expect("query");
        assert!(found.first().is_some_and(|e| e.seq <= 3) && found.last().is_some_and(|e| e.seq == 4));

        // Stored events come back exactly, with the text that was hashed.
        let stored = log.query(&all()).await.expect("query");
        assert_eq!(stored[2].event.user, "bob");
        assert_eq!(stored[2].event_json, appended[2].event_json);
        assert_eq!(stored[2].hash, key().chain_hash(&stored[2].prev_hash, &stored[2].event_json));
    }

    async fn export_writes_json_lines(db) {
        let log = Log::new(db.store().await);
        let appended = append_n(&log, 3).await;
        let mut out = Vec::new();
        let n = log.export(&mut out, &AuditFilter::default()).await.expect("export");
        assert_eq!(n, 3);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], appended[1].to_jsonl());
        let line: Value = serde_json::from_str(lines[2]).expect("json line");
        assert_eq!(line["seq"], 3);
        assert_eq!(line["hash"], appended[2].hash.as_str());
        assert_eq!(line["event"]["user"], "alice");
        // The line's event, canonicalised again, is exactly the hashed text.
        assert_eq!(key().chain_hash(line["prev_hash"].as_str().expect("str"), &canonical_json(&line["event"])), appended[2].hash);
    }

    async fn mirror_appends_one_line_per_event(db) {
        let log = Log::new(db.store().await);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        for _ in 0..2 {
            // Reopening appends rather than truncating.
            let mirror = JsonlMirror::open(&path).expect("open mirror");
            for a in append_n(&log, 2).await {
                mirror.write(&a).expect("mirror");
            }
        }
        let text = std::fs::read_to_string(&path).expect("read mirror");
        let seqs: Vec<u64> = text.lines().map(|l| serde_json::from_str::<Value>(l).expect("json")["seq"].as_u64().expect("seq")).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }

    async fn untouched_log_verifies(db) {
        let log = Log::new(db.store().await);
        check_verify(&log, None, None).await;
        check_verify(&log, Some(&Checkpoint::genesis()), None).await;
        append_n(&log, 5).await;
        let checkpoint = log.save_checkpoint().await.expect("checkpoint");
        assert_eq!(checkpoint.seq, 5);
        append_n(&log, 3).await;
        check_verify(&log, Some(&checkpoint), None).await;
        let report = log.verify(&key(), None).await.expect("verify");
        assert_eq!((report.events, report.last.seq), (8, 8));
        assert_eq!(report.last, log.checkpoint().await.expect("head"));
        // The wrong key fails at the first event.
        let wrong = AuditKey::from_bytes(&[8u8; 32]).expect("key");
        let report = log.verify(&wrong, None).await.expect("verify");
        assert_eq!(report.first_bad.map(|t| (t.seq, t.kind)), Some((1, TamperKind::Edited)));
    }

    async fn log_is_append_only_without_dropping_triggers(db) {
        let log = Log::new(db.store().await);
        append_n(&log, 2).await;
        let update = log.store().execute_raw("UPDATE audit_events SET tool = 'x' WHERE seq = 1".to_owned()).await;
        assert!(update.is_err());
        let delete = log.store().execute_raw("DELETE FROM audit_events WHERE seq = 2".to_owned()).await;
        assert!(delete.is_err());
        check_verify(&log, None, None).await;
    }

    async fn tampering_edited_event(db) {
        let log = Log::new(db.store().await);
        append_n(&log, 6).await;
        drop_append_only_triggers(&db, &log).await;
        tamper(&db, &log, r#"UPDATE audit_events SET event = replace(event, '"rule":"test"', '"rule":"forged"') WHERE seq = 3"#).await;
        check_verify(&log, None, Some((3, TamperKind::Edited))).await;
    }

    async fn tampering_edited_indexed_column(db) {
        let log = Log::new(db.store().await);
        append_n(&log, 6).await;
        drop_append_only_triggers(&db, &log).await;
        tamper(&db, &log, "UPDATE audit_events SET user_name = 'mallory' WHERE seq = 4").await;
        check_verify(&log, None, Some((4, TamperKind::Edited))).await;
    }

    async fn tampering_deleted_event(db) {
        let log = Log::new(db.store().await);
        append_n(&log, 6).await;
        drop_append_only_triggers(&db, &log).await;
        tamper(&db, &log, "DELETE FROM audit_events WHERE seq = 3").await;
        check_verify(&log, None, Some((3, TamperKind::Missing))).await;
        // Closing the gap by renumbering breaks the chain at the same place.
        tamper(&db, &log, "UPDATE audit_events SET seq = -seq WHERE seq > 3; UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0").await;
        check_verify(&log, None, Some((3, TamperKind::ChainBroken))).await;
    }

    async fn tampering_inserted_event(db) {
        let log = Log::new(db.store().await);
        let appended = append_n(&log, 6).await;
        drop_append_only_triggers(&db, &log).await;
        // Make room at 3 and insert a forged event that links to event 2; the forger lacks the
        // key, so its hash is made with another one.
        tamper(&db, &log, "UPDATE audit_events SET seq = -seq WHERE seq >= 3; UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0").await;
        let forged = event("mallory", "gh_pr_merge", Some("acme/widgets"), true, true, 99);
        let json = forged.to_canonical_json().expect("json");
        let hash = AuditKey::from_bytes(&[9u8; 32]).expect("key").chain_hash(&appended[1].hash, &json);
        let c = IndexedColumns::of(&forged).expect("columns");
        tamper(&db, &log, &format!(
            "INSERT INTO audit_events (seq, id, time, user_name, tool, repo, allowed, ok, event, prev_hash, hash) \
             VALUES (3, '{}', '{}', 'mallory', 'gh_pr_merge', 'acme/widgets', {}, {}, '{}', '{}', '{}')",
            c.id, c.time, db_bool(&db, true), db_bool(&db, true), json.replace('\'', "''"), appended[1].hash, hash,
        )).await;
        check_verify(&log, None, Some((3, TamperKind::Edited))).await;
    }

    async fn tampering_reordered_events(db) {
        let log = Log::new(db.store().await);
        append_n(&log, 6).await;
        drop_append_only_triggers(&db, &log).await;
        tamper(&db, &log, "UPDATE audit_events SET seq = -1 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = -1").await;
        check_verify(&log, None, Some((3, TamperKind::ChainBroken))).await;
    }

    async fn tampering_truncated_after_checkpoint(db) {
        let log = Log::new(db.store().await);
        append_n(&log, 5).await;
        let exported = log.checkpoint().await.expect("checkpoint");
        append_n(&log, 3).await;
        drop_append_only_triggers(&db, &log).await;
        tamper(&db, &log, "DELETE FROM audit_events WHERE seq >= 4").await;
        // The recorded head alone already shows it...
        check_verify(&log, None, Some((4, TamperKind::Truncated))).await;
        // ...and when the attacker also rewinds the head, the exported checkpoint still does.
        tamper(&db, &log, "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE id = 1").await;
        check_verify(&log, None, None).await;
        check_verify(&log, Some(&exported), Some((4, TamperKind::Truncated))).await;
    }

    async fn tampering_truncated_and_regrown(db) {
        // Cut back to 3, then append honestly again past the checkpoint: the checkpoint's hash no
        // longer matches the event now holding its sequence number.
        let log = Log::new(db.store().await);
        append_n(&log, 5).await;
        let saved = log.save_checkpoint().await.expect("checkpoint");
        drop_append_only_triggers(&db, &log).await;
        tamper(&db, &log, "DELETE FROM audit_events WHERE seq >= 4; UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE id = 1").await;
        let fresh = Log::new(db.store().await);
        append_n(&fresh, 4).await;
        check_verify(&fresh, None, Some((5, TamperKind::Truncated))).await;
        assert_eq!(saved.seq, 5);
    }

    async fn concurrent_appends_form_one_chain(db) {
        // Many tasks on each of two pools (two replicas) append at once.
        let a = Log::new(db.store().await);
        let b = Log::new(db.store().await);
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..16u64 {
            let log = if t % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move {
                for i in 0..10 {
                    let e = event("alice", "git_status", None, true, true, t * 100 + i);
                    log.append(&e, &key()).await.expect("append");
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task");
        }
        let report = a.verify(&key(), None).await.expect("verify");
        assert_eq!((report.events, report.last.seq, report.first_bad), (160, 160, None));
        let seqs: Vec<u64> = b.query(&AuditFilter::default()).await.expect("query").iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=160).collect::<Vec<_>>());
    }

    async fn bench_sample_event_appends(db) {
        let log = Log::new(db.store().await);
        let samples = bench::bench_append(&log, &key(), 5).await.expect("bench");
        assert_eq!(samples.0.len(), 5);
        check_verify(&log, None, None).await;
    }
}

fn db_bool(db: &TestDb, value: bool) -> &'static str {
    match (db.kind, value) {
        (crate::store::BackendKind::Sqlite, true) => "1",
        (crate::store::BackendKind::Sqlite, false) => "0",
        (crate::store::BackendKind::Postgres, true) => "TRUE",
        (crate::store::BackendKind::Postgres, false) => "FALSE",
    }
}

#[test]
fn verifier_reports_the_first_problem() {
    // The chain logic alone, without a database.
    let key = key();
    let mut rows = Vec::new();
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=4 {
        let e = event("alice", "git_status", None, true, true, seq);
        let event_json = e.to_canonical_json().expect("json");
        let hash = key.chain_hash(&prev, &event_json);
        rows.push(ChainRow {
            seq,
            prev_hash: prev.clone(),
            hash: hash.clone(),
            event_json,
            columns: IndexedColumns::of(&e).expect("columns"),
        });
        prev = hash;
    }
    fn check(
        key: &AuditKey,
        rows: &[ChainRow],
        checkpoints: &[Checkpoint],
        expected: Option<(u64, TamperKind)>,
    ) {
        let mut verifier = ChainVerifier::new(key, checkpoints);
        rows.iter().for_each(|r| verifier.push(r));
        let report = verifier.finish(None);
        assert_eq!(report.first_bad.map(|t| (t.seq, t.kind)), expected);
    }
    check(&key, &rows, &[], None);
    check(&key, &rows[1..], &[], Some((1, TamperKind::Missing)));
    check(
        &key,
        &[rows[0].clone(), rows[2].clone()],
        &[],
        Some((2, TamperKind::Missing)),
    );
    let beyond = Checkpoint {
        seq: 9,
        hash: "00".into(),
    };
    check(&key, &rows, &[beyond], Some((5, TamperKind::Truncated)));
    let wrong = Checkpoint {
        seq: 2,
        hash: "00".into(),
    };
    check(&key, &rows, &[wrong], Some((2, TamperKind::Truncated)));
}

/// Security issue, items 7 and 8: a token given as `rev`, branch `name` or `path` was redacted
/// in `arguments` but kept in `target.ref` and `outcome.message`; tokens inside longer strings
/// and as the tool name were stored as is; a 1 MiB argument made a 2 MiB event. Every field is
/// now redacted and bounded where the event is written, whoever built it.
#[test]
fn every_field_is_redacted_and_bounded_when_written() {
    const GGT: &str = "ggt_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f";
    const GHP: &str = "ghp_0123456789abcdefABCDEF0123456789abcd";
    fn check(build: impl Fn(&mut AuditEvent), expected_in_text: &[&str], max_len: usize) {
        let mut e = event("alice", "git_log", Some("app"), true, false, 1);
        build(&mut e);
        let text = e.to_canonical_json().expect("json");
        for secret in [GGT, GHP, &GGT[4..20], &GHP[4..20]] {
            assert!(!text.contains(secret), "{secret} in {text:.2000}");
        }
        for part in expected_in_text {
            assert!(text.contains(part), "{part} not in {text:.2000}");
        }
        assert!(text.len() <= max_len, "{} bytes", text.len());
        // Still canonical: what a reader re-canonicalises is the hashed text, and the indexed
        // columns (taken from the text) are those of the parsed event.
        let parsed: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(canonical_json(&parsed), text);
        let back: AuditEvent = serde_json::from_str(&text).expect("event");
        assert_eq!(IndexedColumns::from_json(&text), IndexedColumns::of(&back));
        // Deterministic.
        assert_eq!(e.to_canonical_json().expect("json"), text);
    }
    let small = 2048;
    check(
        |e| e.target.git_ref = Some(GGT.into()),
        &[r#""ref":"[redacted]""#],
        small,
    );
    check(
        |e| e.target.git_ref = Some(format!("feature/{GHP}")),
        &["feature/[redacted]"],
        small,
    );
    check(
        |e| e.target.repo = Some(GGT.into()),
        &[r#""repo":"[redacted]""#],
        small,
    );
    check(
        |e| e.outcome.message = Some(format!("unknown revision '{GGT}'")),
        &["unknown revision '[redacted]'"],
        small,
    );
    check(|e| e.tool = GHP.into(), &[r#""tool":"[redacted]""#], small);
    check(|e| e.user = GGT.into(), &[r#""user":"[redacted]""#], small);
    check(
        |e| e.session = Some(format!("s-{GGT}")),
        &["s-[redacted]"],
        small,
    );
    check(
        |e| {
            e.client = Some(ClientInfo {
                name: format!("Bearer {GGT}"),
                version: Some(GHP.into()),
            });
        },
        &[r#""client":{"name":"[redacted]","version":"[redacted]"}"#],
        small,
    );
    check(
        |e| e.decision.rule = format!("no grant for {GHP}"),
        &["no grant for [redacted]"],
        small,
    );
    check(
        |e| e.upstream_request_ids = vec![GHP.into()],
        &[r#"["[redacted]"]"#],
        small,
    );
    // Inside longer strings under innocent keys: a commit message, a jq filter.
    check(
        |e| e.arguments = json!({"message": format!("oops {GGT} pasted"), "jq": format!(".[] | select(.x == \"{GHP}\")")}),
        &["oops [redacted] pasted", r#"select(.x == \"[redacted]\")"#],
        small,
    );
    // As object keys, sorted as redacted; two that redact alike become one string.
    check(
        |e| e.arguments = json!({GGT: 1, "a": 2}),
        &[r#"{"[redacted]":1,"a":2}"#],
        small,
    );
    check(
        |e| e.arguments = json!({GGT: 1, GHP: 2}),
        &[r#""arguments":"{\"[redacted]\":1,\"[redacted]\":2}…[keys collided once redacted]""#],
        small,
    );
    // Bounds: a 1 MiB argument, a 1 MiB tool name, a message of control characters, many
    // arguments, many upstream ids.
    let mib = "x".repeat(1 << 20);
    let bound = 16 * 1024;
    check(
        |e| e.arguments = json!({"path": mib}),
        &["…[cut 1047592 bytes]"],
        bound,
    );
    check(|e| e.tool = mib.clone(), &["…[cut 1048488 bytes]"], bound);
    check(
        |e| e.outcome.message = Some("\u{1b}".repeat(1 << 20)),
        &["…[cut"],
        bound,
    );
    check(
        |e| {
            e.arguments =
                json!({"paths": vec!["\"\u{1b}"; 100_000], "x": {"y": vec![mib.as_str(); 16]}})
        },
        &[r#""arguments":"{\"paths\":[\"\\\"\\u001b\""#],
        bound,
    );
    check(
        |e| e.upstream_request_ids = vec![mib.clone(); 1000],
        &["…[cut 968 ids]"],
        bound,
    );
    let mut worst = event("alice", "git_log", Some("app"), true, false, 1);
    let hostile = "\u{1}".repeat(1 << 20);
    worst.tool = hostile.clone();
    worst.user = hostile.clone();
    worst.auth_method = hostile.clone();
    worst.session = Some(hostile.clone());
    worst.client = Some(ClientInfo {
        name: hostile.clone(),
        version: Some(hostile.clone()),
    });
    worst.decision.rule = hostile.clone();
    worst.outcome.code = Some(hostile.clone());
    worst.outcome.message = Some(hostile.clone());
    worst.target.repo = Some(hostile.clone());
    worst.target.git_ref = Some(hostile.clone());
    worst.arguments = json!({"a": hostile});
    worst.parent = Some(hostile);
    let text = worst.to_canonical_json().expect("json");
    assert!(text.len() < 20 * 1024, "{} bytes", text.len());
}

/// Security issue, item 6: export and the mirror left U+2028/U+2029/U+0085 raw. Escaped on
/// output only: the stored text (and so its hash) is unchanged, and a parser reads the same
/// event, whose canonical form is the hashed text.
#[test]
fn json_lines_escape_line_separators_and_round_trip() {
    let mut e = event("alice", "git_log", Some("a\u{2028}b"), true, false, 1);
    e.outcome.message = Some("x\u{2029}y\u{85}z\u{202e}w\u{1b}".into());
    let event_json = e.to_canonical_json().expect("json");
    assert!(
        event_json.contains('\u{2028}'),
        "stored as written: {event_json}"
    );
    let appended = Appended {
        seq: 1,
        prev_hash: GENESIS_HASH.into(),
        hash: key().chain_hash(GENESIS_HASH, &event_json),
        event_json: event_json.clone(),
    };
    let line = appended.to_jsonl();
    for raw in ['\u{2028}', '\u{2029}', '\u{85}', '\u{202e}', '\u{1b}', '\n'] {
        assert!(!line.contains(raw), "{raw:?} in {line}");
    }
    assert!(
        line.contains(r"a\u2028b") && line.contains(r"x\u2029y\u0085z\u202ew\u001b"),
        "{line}"
    );
    let parsed: Value = serde_json::from_str(&line).expect("json line");
    assert_eq!(canonical_json(&parsed["event"]), event_json);
    assert_eq!(
        key().chain_hash(GENESIS_HASH, &canonical_json(&parsed["event"])),
        appended.hash
    );
}

/// PostgreSQL's group commit (`group_commit.rs`): concurrent appends share one statement.
mod group_commit {
    use super::*;
    use crate::store::testing::TestDb;

    /// Waits (without a timer) until `n` appends are queued behind the held appender lock.
    async fn queued(log: &Log, n: usize) {
        let wait = async {
            while log.state.group.queue.len() < n {
                tokio::task::yield_now().await;
            }
        };
        // A bound only so that a broken queue fails the test instead of hanging it.
        tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .expect("the appends were queued");
    }

    /// Asserts that every receipt is what the store holds at its sequence number.
    async fn check_receipts(log: &Log, receipts: &[Appended]) {
        let stored = log.query(&AuditFilter::default()).await.expect("query");
        for r in receipts {
            let row = usize::try_from(r.seq - 1)
                .ok()
                .and_then(|i| stored.get(i))
                .expect("a stored row for each receipt");
            assert_eq!(
                (row.seq, &row.prev_hash, &row.hash, &row.event_json),
                (r.seq, &r.prev_hash, &r.hash, &r.event_json)
            );
        }
    }

    /// Starts `users.len()` appends on `log` while its appender lock is held, so that they all
    /// wait in the queue; returns their handles once every one is queued.
    async fn queue_appends(
        log: &Log,
        users: &[&str],
    ) -> Vec<tokio::task::JoinHandle<Result<Appended, Error>>> {
        let held = log.state.group.appender.lock().await;
        let tasks: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let log = log.clone();
                let e = event(user, "git_status", None, true, true, i as u64);
                tokio::spawn(async move { log.append(&e, &key()).await })
            })
            .collect();
        queued(log, users.len()).await;
        drop(held);
        tasks
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_appends_share_one_commit() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let log = Log::new(db.store().await);
        let before = log.state.group.appender.lock().await.batches;
        let users = vec!["alice"; 50];
        let mut receipts = Vec::new();
        for task in queue_appends(&log, &users).await {
            receipts.push(task.await.expect("task").expect("append"));
        }
        let batches = log.state.group.appender.lock().await.batches - before;
        assert_eq!(batches, 1, "50 queued appends, one batch");
        receipts.sort_by_key(|r| r.seq);
        assert_eq!(
            receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=50).collect::<Vec<_>>()
        );
        check_receipts(&log, &receipts).await;
        assert_verifies(&log, &key()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_tasks_on_two_replicas_get_the_receipts_the_store_holds() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let a = Log::new(db.store().await);
        let b = Log::new(db.store().await);
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..32u64 {
            let log = if t % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move {
                let mut receipts = Vec::new();
                for i in 0..20 {
                    let e = event("alice", "git_status", None, true, true, t * 100 + i);
                    receipts.push(log.append(&e, &key()).await.expect("append"));
                }
                receipts
            });
        }
        let mut receipts = Vec::new();
        while let Some(done) = tasks.join_next().await {
            receipts.extend(done.expect("task"));
        }
        receipts.sort_by_key(|r| r.seq);
        assert_eq!(
            receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=640).collect::<Vec<_>>(),
            "every append got its own consecutive seq"
        );
        check_receipts(&a, &receipts).await;
        let report = b.verify(&key(), None).await.expect("verify");
        assert_eq!(
            (report.events, report.last.seq, report.first_bad),
            (640, 640, None)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_fails_every_caller_in_it_and_the_next_append_works() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let log = Log::new(db.store().await);
        // Three appends first, so the failing batch takes the fast path after a known head.
        append_n(&log, 3).await;
        // One event of the batch breaks a constraint: the whole statement fails.
        tamper(
            &db,
            &log,
            "ALTER TABLE audit_events ADD CONSTRAINT no_mallory CHECK (user_name <> 'mallory')",
        )
        .await;
        let mut users = vec!["alice"; 9];
        users.insert(4, "mallory");
        for task in queue_appends(&log, &users).await {
            match task.await.expect("task") {
                Err(Error::Batch { events, .. }) => assert_eq!(events, 10),
                other => panic!("expected the batch's error, got {other:?}"),
            }
        }
        let stored = log.query(&AuditFilter::default()).await.expect("query");
        assert_eq!(stored.len(), 3, "nothing of the failed batch was written");
        let next = log
            .append(&event("alice", "git_log", None, true, true, 4), &key())
            .await
            .expect("the next append works");
        assert_eq!(next.seq, 4);
        check_receipts(&log, &[next]).await;
        assert_verifies(&log, &key()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_appending_in_between_sends_the_next_batch_the_long_way() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let a = Log::new(db.store().await);
        let b = Log::new(db.store().await);
        // `a` remembers head 2; `b` moves it to 3; `a`'s next statement must see that.
        append_n(&a, 2).await;
        append_n(&b, 1).await;
        let r = a
            .append(&event("alice", "git_log", None, true, true, 9), &key())
            .await
            .expect("append");
        assert_eq!(r.seq, 4);
        check_receipts(&a, &[r]).await;
        assert_verifies(&a, &key()).await;
    }
}
