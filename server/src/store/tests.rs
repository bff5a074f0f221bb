//! Users, tokens, revocation across replicas, durability settings: the same bodies on SQLite and
//! PostgreSQL.

use super::testing::{TestDb, backend_tests};
use super::{BackendKind, Durability, Error, GitIdentity, Store, StoreOptions, bench};
use crate::audit::{AuditKey, Log};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn add(store: &Store, name: &str) {
    store
        .add_user(name, &strings(&["git:read"]), &strings(&["acme/*"]), None)
        .await
        .expect("add user");
}

/// Asserts who `token` authenticates as (`None`: nobody).
async fn check_auth(store: &Store, token: &str, expected: Option<&str>) {
    let user = store.authenticate_token(token).await.expect("authenticate");
    assert_eq!(
        user.as_ref().map(|u| u.name.as_str()),
        expected,
        "token {}",
        &token[..12]
    );
}

fn key() -> AuditKey {
    AuditKey::from_bytes(&[7u8; 32]).expect("32-byte key")
}

backend_tests! {
    async fn users_add_duplicate_list(db) {
        let store = db.store().await;
        let git = GitIdentity { name: "Alice A".to_owned(), email: "alice@example.com".to_owned() };
        let alice = store
            .add_user("alice", &strings(&["git:read", "github:write"]), &strings(&["acme/*", "local-repo"]), Some(&git))
            .await
            .expect("add alice");
        assert_eq!(alice.scopes, strings(&["git:read", "github:write"]));
        assert_eq!(alice.repos, strings(&["acme/*", "local-repo"]));
        assert_eq!(alice.git_email.as_deref(), Some("alice@example.com"));
        assert!(!alice.is_revoked() && !alice.has_github_token);

        let dup = store.add_user("alice", &[], &[], None).await;
        assert!(matches!(dup, Err(Error::DuplicateUser { ref name }) if name == "alice"), "{dup:?}");
        add(&store, "bob").await;
        let names: Vec<String> = store.list_users().await.expect("list").into_iter().map(|u| u.name).collect();
        assert_eq!(names, strings(&["alice", "bob"]));
        assert_eq!(store.get_user("alice").await.expect("get"), Some(alice));
        assert_eq!(store.get_user("carol").await.expect("get"), None);

        store.set_scopes("bob", &strings(&["admin"])).await.expect("set scopes");
        store.set_repos("bob", &strings(&["*"])).await.expect("set repos");
        store.set_rate_limit("bob", Some(30)).await.expect("set rate limit");
        let bob = store.get_user("bob").await.expect("get").expect("bob");
        assert_eq!((bob.scopes, bob.repos, bob.rate_limit_per_minute), (strings(&["admin"]), strings(&["*"]), Some(30)));
        assert!(matches!(store.set_scopes("carol", &[]).await, Err(Error::UnknownUser { .. })));
    }

    async fn invalid_input_is_refused(db) {
        let store = db.store().await;
        async fn check(store: &Store, name: &str, scopes: &[&str], repos: &[&str]) {
            let result = store.add_user(name, &strings(scopes), &strings(repos), None).await;
            assert!(matches!(result, Err(Error::Invalid { .. })), "{name:?} {scopes:?} {repos:?}: {result:?}");
        }
        check(&store, "", &[], &[]).await;
        check(&store, "-rf", &[], &[]).await;
        check(&store, "a b", &[], &[]).await;
        check(&store, "ok", &["git:read git:write"], &[]).await;
        check(&store, "ok", &[""], &[]).await;
        check(&store, "ok", &[], &["acme/*\nother/*"]).await;
        assert!(store.list_users().await.expect("list").is_empty());
    }

    async fn token_issue_authenticate_revoke(db) {
        let store = db.store().await;
        add(&store, "alice").await;
        add(&store, "bob").await;
        let (id1, t1) = store.issue_token("alice").await.expect("issue");
        let (_, t2) = store.issue_token("alice").await.expect("issue");
        let (_, tb) = store.issue_token("bob").await.expect("issue");
        assert!(t1.starts_with("ggt_") && t1.len() == 44 && t1[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t1, t2);
        check_auth(&store, &t1, Some("alice")).await;
        check_auth(&store, &t2, Some("alice")).await;
        check_auth(&store, &tb, Some("bob")).await;
        check_auth(&store, "ggt_0000000000000000000000000000000000000000", None).await;
        check_auth(&store, "not a token", None).await;

        // Only the hash is stored; the listing shows the prefix.
        let tokens = store.list_tokens(Some("alice")).await.expect("list tokens");
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().any(|t| t.id == id1 && t.prefix == t1[..12]));

        // Revoking by id: refused on the very next call; the other tokens still work.
        let revoked = store.revoke_token(&id1).await.expect("revoke");
        assert!(revoked.revoked_at.is_some());
        check_auth(&store, &t1, None).await;
        check_auth(&store, &t2, Some("alice")).await;
        // By display prefix and by the token itself.
        store.revoke_token(&t2[..12]).await.expect("revoke by prefix");
        check_auth(&store, &t2, None).await;
        let (_, t3) = store.issue_token("alice").await.expect("issue");
        store.revoke_token(&t3).await.expect("revoke by token");
        check_auth(&store, &t3, None).await;
        check_auth(&store, &tb, Some("bob")).await;
        let unknown = store.revoke_token("ggt_nothing_like_this").await;
        assert!(matches!(unknown, Err(Error::UnknownToken { ref token }) if token == "ggt_nothing_"), "{unknown:?}");
        assert!(matches!(store.issue_token("carol").await, Err(Error::UnknownUser { .. })));
    }

    async fn revoke_user_refuses_all_their_tokens(db) {
        let store = db.store().await;
        add(&store, "alice").await;
        add(&store, "bob").await;
        let (_, a1) = store.issue_token("alice").await.expect("issue");
        let (_, a2) = store.issue_token("alice").await.expect("issue");
        let (_, b1) = store.issue_token("bob").await.expect("issue");
        store.set_jwt_subject("alice", Some("sub-alice")).await.expect("subject");
        assert!(store.revoke_user("alice").await.expect("revoke"));
        assert!(!store.revoke_user("alice").await.expect("revoke again"));
        check_auth(&store, &a1, None).await;
        check_auth(&store, &a2, None).await;
        check_auth(&store, &b1, Some("bob")).await;
        assert_eq!(store.user_by_jwt_subject("sub-alice").await.expect("jwt"), None);
        assert!(store.list_tokens(Some("alice")).await.expect("list").iter().all(|t| t.revoked_at.is_some()));
        assert!(matches!(store.issue_token("alice").await, Err(Error::RevokedUser { .. })));
        assert!(matches!(store.revoke_user("carol").await, Err(Error::UnknownUser { .. })));
        assert!(store.get_user("alice").await.expect("get").expect("alice").is_revoked());
    }

    async fn revocation_reaches_other_replicas(db) {
        // Two pools on one database stand for two server processes sharing the store.
        let replica_a = db.store().await;
        let replica_b = db.store().await;
        add(&replica_a, "alice").await;
        add(&replica_a, "bob").await;
        let (id, token) = replica_a.issue_token("alice").await.expect("issue");
        let (_, bob) = replica_a.issue_token("bob").await.expect("issue");
        check_auth(&replica_b, &token, Some("alice")).await;
        replica_a.revoke_token(&id).await.expect("revoke");
        check_auth(&replica_b, &token, None).await;
        let (_, token) = replica_b.issue_token("alice").await.expect("issue");
        check_auth(&replica_a, &token, Some("alice")).await;
        replica_b.revoke_user("alice").await.expect("revoke user");
        check_auth(&replica_a, &token, None).await;
        check_auth(&replica_a, &bob, Some("bob")).await;
    }

    // Regression for reading tokens through the audit appender's connection (kept warm across
    // appends): a revocation committed by this process's pool or by another replica must still
    // hold on the very next lookup, however the appends and lookups interleave.
    async fn revocation_holds_between_appends(db) {
        let store = db.store().await;
        let replica = db.store().await;
        add(&store, "alice").await;
        let (id, token) = store.issue_token("alice").await.expect("issue");
        let (_, second) = store.issue_token("alice").await.expect("issue");
        let log = Log::new(store.clone());
        let append = |log: &Log| {
            let event = crate::audit::AuditEvent::new(
                "test",
                "alice",
                crate::audit::AuthMethod::Token,
                "git_status",
                &serde_json::json!({}),
                crate::audit::Decision::default(),
                crate::audit::Outcome::default(),
            );
            // PostgreSQL has no blocking path, and no appender connection to warm.
            if let Some(appended) = log.append_blocking(&event, &key()) {
                appended.map(drop).expect("append");
            }
        };
        append(&log);
        check_auth(&store, &token, Some("alice")).await;
        append(&log);
        check_auth(&store, &token, Some("alice")).await;
        store.revoke_token(&id).await.expect("revoke");
        check_auth(&store, &token, None).await;
        check_auth(&store, &second, Some("alice")).await;
        append(&log);
        check_auth(&store, &second, Some("alice")).await;
        replica.revoke_user("alice").await.expect("revoke user");
        check_auth(&store, &second, None).await;
        append(&log);
        check_auth(&store, &second, None).await;
    }

    async fn jwt_subjects_map_to_users(db) {
        let store = db.store().await;
        add(&store, "alice").await;
        add(&store, "bob").await;
        store.set_jwt_subject("alice", Some("auth0|123")).await.expect("subject");
        let found = store.user_by_jwt_subject("auth0|123").await.expect("jwt");
        assert_eq!(found.map(|u| u.name), Some("alice".to_owned()));
        let taken = store.set_jwt_subject("bob", Some("auth0|123")).await;
        assert!(matches!(taken, Err(Error::DuplicateJwtSubject { .. })), "{taken:?}");
        store.set_jwt_subject("alice", None).await.expect("clear");
        assert_eq!(store.user_by_jwt_subject("auth0|123").await.expect("jwt"), None);
    }

    async fn github_tokens_are_opaque_bytes(db) {
        let store = db.store().await;
        add(&store, "alice").await;
        add(&store, "bob").await;
        assert_eq!(store.count_users_with_github_tokens().await.expect("count"), 0);
        let ciphertext = vec![0u8, 1, 2, 255, 128, 0];
        store.set_github_token("alice", ciphertext.clone()).await.expect("set");
        assert_eq!(store.github_token("alice").await.expect("get"), Some(ciphertext));
        assert_eq!(store.github_token("bob").await.expect("get"), None);
        assert!(store.get_user("alice").await.expect("get").expect("alice").has_github_token);
        assert_eq!(store.count_users_with_github_tokens().await.expect("count"), 1);
        store.clear_github_token("alice").await.expect("clear");
        assert_eq!(store.count_users_with_github_tokens().await.expect("count"), 0);
        assert!(matches!(store.set_github_token("carol", vec![1]).await, Err(Error::UnknownUser { .. })));
        assert!(matches!(store.github_token("carol").await, Err(Error::UnknownUser { .. })));
    }

    async fn durability_setting_reaches_the_database(db) {
        async fn check(db: &TestDb, durability: Durability, sqlite: i64, postgres: &str) {
            let store = db.store_with(&StoreOptions { durability, ..StoreOptions::default() }).await;
            match store.pool() {
                crate::store::Pool::Sqlite(pool) => {
                    let (mode,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(pool).await.expect("pragma");
                    assert_eq!(mode, sqlite);
                    let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(pool).await.expect("pragma");
                    assert_eq!(journal, "wal");
                }
                crate::store::Pool::Postgres(pool) => {
                    let (mode,): (String,) = sqlx::query_as("SHOW synchronous_commit").fetch_one(pool).await.expect("show");
                    assert_eq!(mode, postgres);
                }
            }
        }
        check(&db, Durability::Normal, 1, "on").await;
        check(&db, Durability::Full, 2, "on").await;
    }

    async fn bench_figures(db) {
        // Prints per-operation medians; never asserts timings. For real figures run in release:
        // GITGATE_BENCH_N=5000 cargo test --release -p gitgate --lib bench_figures -- --nocapture
        let n = std::env::var("GITGATE_BENCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(50);
        add(&db.store().await, "bench").await;
        for durability in [Durability::Normal, Durability::Full] {
            let store = db.store_with(&StoreOptions { durability, ..StoreOptions::default() }).await;
            let append = crate::audit::bench::bench_append(&Log::new(store.clone()), &key(), n).await.expect("bench append");
            let (_, token) = store.issue_token("bench").await.expect("issue");
            let auth = bench::bench_authenticate(&store, &token, n).await.expect("bench auth");
            eprintln!(
                "bench {:?} {durability:?} n={n}: append median {:?} p95 {:?}; authenticate median {:?} p95 {:?}",
                db.kind,
                append.median(),
                append.quantile(0.95),
                auth.median(),
                auth.quantile(0.95),
            );
        }
    }
}

#[test]
fn redact_url_hides_passwords() {
    fn check(url: &str, expected: &str) {
        assert_eq!(super::redact_url(url), expected);
    }
    check(
        "postgres://app:s3cret@db:5432/gitgate",
        "postgres://app:***@db:5432/gitgate",
    );
    check("postgres://app@db/gitgate", "postgres://app@db/gitgate");
    check(
        "sqlite:///var/lib/gitgate.db",
        "sqlite:///var/lib/gitgate.db",
    );
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let result = Store::connect("mysql://localhost/x").await;
    assert!(
        matches!(result, Err(Error::UnsupportedUrl { .. })),
        "{result:?}"
    );
    assert_eq!(
        TestDb::sqlite().store().await.backend(),
        BackendKind::Sqlite
    );
}

/// The per-call token lookup on PostgreSQL is a prepared statement, prepared once per connection
/// and reused, not parsed again on every call (sqlx's `persistent` statements).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_token_lookup_is_prepared_once_per_connection() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // One connection, so the check below runs where the lookups ran.
    let store = db
        .store_with(&StoreOptions {
            max_connections: Some(1),
            ..StoreOptions::default()
        })
        .await;
    add(&store, "alice").await;
    let (_, token) = store.issue_token("alice").await.expect("issue");
    for _ in 0..20 {
        check_auth(&store, &token, Some("alice")).await;
    }
    let super::Pool::Postgres(pool) = store.pool() else {
        unreachable!("a PostgreSQL store")
    };
    // An unnamed (re-parsed) statement would not be listed; one prepared per call would be
    // listed 20 times.
    let (prepared,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%t.token_hash = $1%' \
         AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .fetch_one(pool)
    .await
    .expect("pg_prepared_statements");
    assert_eq!(prepared, 1, "one prepared token lookup on the connection");
}

#[test]
fn postgres_pool_is_sized_to_the_machine() {
    let size = super::postgres_pool_size();
    assert!((4..=10).contains(&size), "{size}");
}
