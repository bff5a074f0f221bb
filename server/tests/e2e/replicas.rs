//! Shared-store behaviour across processes: two replicas on one PostgreSQL, JWT users, and an
//! audit event that survives `kill -9` right after the reply.

use serde_json::json;
use sqlx::Connection;

use crate::harness::{Env, Session, connect_http, spawn_http, text};

/// A fresh schema on the local PostgreSQL, dropped on drop of the guard.
pub(crate) struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    pub(crate) async fn new() -> Option<Self> {
        let base = std::env::var("GITGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = match sqlx::postgres::PgConnection::connect(&base).await {
            Ok(c) => c,
            Err(e) if std::env::var("GITGATE_TEST_NO_POSTGRES").as_deref() == Ok("1") => {
                eprintln!("skipping: PostgreSQL unreachable ({e}) and GITGATE_TEST_NO_POSTGRES=1");
                return None;
            }
            Err(e) => panic!(
                "PostgreSQL at {base} is unreachable ({e}); start it with \
                 `pg_ctlcluster $(ls /etc/postgresql) main start` or set GITGATE_TEST_NO_POSTGRES=1"
            ),
        };
        let name = format!("e2e_{}", hex::encode(rand::random::<[u8; 6]>()));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        Some(Self { base, name })
    }

    pub(crate) fn url(&self) -> String {
        format!("{}?options[search_path]={}", self.base, self.name)
    }

    /// This schema's store, with each of `users` added (`git:read` on `app`) and given a token.
    pub(crate) async fn store_with_readers(
        &self,
        users: &[&str],
    ) -> (gitgate::store::Store, Vec<String>) {
        let store = gitgate::store::Store::connect(&self.url()).await.unwrap();
        let mut tokens = Vec::new();
        for user in users {
            store
                .add_user(user, &["git:read".into()], &["app".into()], None)
                .await
                .unwrap();
            tokens.push(store.issue_token(user).await.unwrap().1);
        }
        (store, tokens)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs outside the test's runtime: a short-lived one does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&base).await {
                    let _ =
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn revoking_on_a_shared_postgres_store_cuts_off_every_replica() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let env = Env::new();
    let url = schema.url();
    let (store, tokens) = schema.store_with_readers(&["alice", "bob"]).await;
    let (alice, bob) = (&tokens[0], &tokens[1]);
    let one = spawn_http(&env, &["--store", &url]);
    let two = spawn_http(&env, &["--store", &url]);
    let a1 = connect_http(&one.url, alice).await.unwrap();
    let a2 = connect_http(&two.url, alice).await.unwrap();
    let b2 = connect_http(&two.url, bob).await.unwrap();
    let status = || rmcp::model::CallToolRequestParams::new("git_status");
    assert_eq!(a2.call_tool(status()).await.unwrap().is_error, Some(false));
    // Revoke through replica one's store; replica two refuses the very next call.
    store.revoke_user("alice").await.unwrap();
    assert!(
        a2.call_tool(status()).await.is_err(),
        "replica two still serves a revoked user"
    );
    assert!(
        a1.call_tool(status()).await.is_err(),
        "replica one still serves a revoked user"
    );
    assert_eq!(b2.call_tool(status()).await.unwrap().is_error, Some(false));
    // Both replicas wrote into one chain, which verifies.
    let key = env.state().audit_key().unwrap();
    let report = gitgate::audit::Log::new(store)
        .verify(&key, None)
        .await
        .unwrap();
    assert!(report.first_bad.is_none(), "{:?}", report.first_bad);
    assert_eq!(report.events, 4);
}

#[tokio::test]
async fn the_audit_event_survives_kill_9_right_after_the_reply() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let mut server = spawn_http(&env, &[]);
    let client = connect_http(&server.url, &token).await.unwrap();
    let args = json!({"max_count": 1, "grep": "kill-9-marker|second"});
    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("git_log")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    server.kill9();
    assert!(text(&result).contains("second commit"));
    // The event was written to the server's audit spool before the reply; the server chains it
    // a few milliseconds later, so the kill usually comes first. The restarted server chains
    // what the dead one left before it serves.
    let _restarted = spawn_http(&env, &[]);
    let spool = env.data.path().join("gitgate.db-spool");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "only the new server's own spool file: {left:?}"
    );
    let events = env.audit().await;
    assert_eq!(events.len(), 1, "chained exactly once");
    let last = events.last().expect("the event is in the store");
    assert_eq!(last.tool, "git_log");
    assert_eq!(last.arguments["grep"], json!("kill-9-marker|second"));
}

/// On PostgreSQL the group commit answers a call only once its batch committed: concurrent
/// calls answered before a `kill -9` all have their events in the store (issue #19).
#[tokio::test]
async fn every_answered_call_on_postgres_survives_kill_9() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let env = Env::new();
    let url = schema.url();
    let (store, tokens) = schema.store_with_readers(&["alice"]).await;
    let token = &tokens[0];
    let mut server = spawn_http(&env, &["--store", &url]);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = connect_http(&server.url, token).await.unwrap();
        // Eight sessions call at once, so their events share batches.
        calls.spawn(async move {
            let args = json!({"max_count": 1, "grep": format!("kill-9-pg-{i}")});
            let result = client
                .call_tool(
                    rmcp::model::CallToolRequestParams::new("git_log")
                        .with_arguments(args.as_object().unwrap().clone()),
                )
                .await;
            (client, result)
        });
    }
    let mut answered = Vec::new();
    while let Some(done) = calls.join_next().await {
        answered.push(done.unwrap());
    }
    server.kill9();
    for (_, result) in &answered {
        assert!(result.is_ok(), "{result:?}");
    }
    let events = gitgate::audit::Log::new(store)
        .query(&gitgate::audit::AuditFilter::default())
        .await
        .unwrap();
    for i in 0..8 {
        let grep = json!(format!("kill-9-pg-{i}"));
        assert!(
            events.iter().any(|e| e.event.arguments["grep"] == grep),
            "the event of answered call {i} is in the store"
        );
    }
}

#[tokio::test]
async fn jwt_users_are_checked_for_signature_issuer_audience_expiry_and_scope() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let env = Env::new();
    let secret = "a-shared-secret-of-at-least-32-bytes!!";
    let config = crate::harness::jwt_config(&env, secret);
    let store = env.store().await;
    store
        .add_user(
            "jo",
            &["git:read".into(), "git:write".into()],
            &["app".into()],
            None,
        )
        .await
        .unwrap();
    store.set_jwt_subject("jo", Some("sub-jo")).await.unwrap();
    let server = spawn_http(&env, &["--config", config.to_str().unwrap()]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mint = |aud: &str, exp: u64, scope: &str, key: &str| {
        let claims = json!({"iss": "https://id.test", "aud": aud, "sub": "sub-jo", "exp": exp, "scope": scope});
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    let aud = "http://gitgate.test/mcp";
    let check = |token: String, status: u16| {
        let url = server.url.clone();
        async move {
            let resp = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .bearer_auth(&token)
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), status);
            resp.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned())
        }
    };
    check(mint(aud, now + 600, "git:read", secret), 200).await;
    check(mint(aud, now - 600, "git:read", secret), 401).await;
    check(
        mint("http://elsewhere/mcp", now + 600, "git:read", secret),
        401,
    )
    .await;
    check(
        mint(
            aud,
            now + 600,
            "git:read",
            "another-secret-of-at-least-32-bytes!!!",
        ),
        401,
    )
    .await;
    let www = check(mint(aud, now + 600, "openid profile", secret), 403)
        .await
        .unwrap();
    assert!(www.contains("insufficient_scope"), "{www}");

    // A read-scoped token narrows jo's scopes: no write tools for that session.
    let client = connect_http(&server.url, &mint(aud, now + 600, "git:read", secret))
        .await
        .unwrap();
    let s = Session {
        client,
        _server: None,
    };
    let refused = s.call("git_create_branch", json!({"name": "x"})).await;
    assert_eq!(refused.is_error, Some(true));
    let rules: Vec<String> = env
        .audit()
        .await
        .into_iter()
        .map(|e| e.decision.rule)
        .collect();
    for rule in [
        "denied:token-expired",
        "auth:jwt:wrong-audience",
        "auth:jwt:bad-signature",
        "auth:insufficient-scope",
        "denied:missing-scope",
    ] {
        assert!(
            rules.iter().any(|r| r.starts_with(rule)),
            "no {rule} in {rules:?}"
        );
    }
    // jo's own expired token: the attempt is jo's.
    let expired = env
        .audit()
        .await
        .into_iter()
        .find(|e| e.decision.rule == "denied:token-expired")
        .unwrap();
    assert_eq!(expired.user, "jo");
}
