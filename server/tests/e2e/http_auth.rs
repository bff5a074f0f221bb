//! HTTP authentication and authorization end to end: bearer tokens from the store, JWTs,
//! revocation, grants, read-only, `--no-auth` limits, Host and Origin checks. Every refusal must
//! also be in the audit log.

use std::process::Command;

use serde_json::json;

use crate::harness::{BIN, Env, Session, connect_http, spawn_http, text};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}"#;

async fn post(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INIT);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The audit events whose decision rule starts with `rule`.
async fn denied_with(env: &Env, rule: &str) -> usize {
    env.audit()
        .await
        .iter()
        .filter(|e| !e.decision.allowed && e.decision.rule.starts_with(rule))
        .count()
}

#[tokio::test]
async fn bad_tokens_get_401_with_a_challenge_and_are_audited() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let server = spawn_http(&env, &[]);
    let check = |auth: Option<String>, status: u16, challenge: &'static str| {
        let url = server.url.clone();
        async move {
            let header = auth.clone().map(|a| ("authorization", a));
            let hs: Vec<(&str, &str)> = header.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = post(&url, &hs).await;
            assert_eq!(resp.status().as_u16(), status, "{auth:?}");
            if status == 401 {
                let www = resp
                    .headers()
                    .get("www-authenticate")
                    .expect("challenge")
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(www.contains(challenge), "{www}");
                assert!(
                    www.contains("resource_metadata=\"http://127.0.0.1:"),
                    "{www}"
                );
            }
        }
    };
    check(None, 401, "Bearer resource_metadata=").await;
    check(Some("Bearer wrong".into()), 401, "error=\"invalid_token\"").await;
    check(Some(format!("Basic {token}")), 401, "Bearer").await;
    check(Some(format!("Bearer {token}")), 200, "").await;
    assert_eq!(denied_with(&env, "auth:missing-token").await, 2);
    assert_eq!(denied_with(&env, "auth:invalid-or-revoked-token").await, 1);
    let refused = env
        .audit()
        .await
        .into_iter()
        .find(|e| !e.decision.allowed)
        .unwrap();
    assert_eq!(refused.tool, "initialize");
}

#[tokio::test]
async fn protected_resource_metadata_names_the_authorization_server() {
    let env = Env::new();
    let server = spawn_http(&env, &["--authorization-server", "https://id.example.com"]);
    let base = server.url.trim_end_matches("/mcp").to_owned();
    let doc: serde_json::Value =
        reqwest::get(format!("{base}/.well-known/oauth-protected-resource"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(doc["resource"], json!(server.url));
    assert_eq!(
        doc["authorization_servers"],
        json!(["https://id.example.com"])
    );
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("git:write"))
    );
}

#[tokio::test]
async fn revocation_cuts_off_an_open_session_and_nobody_else() {
    let env = Env::new();
    let alice = env.user("alice", "git:read", &["app"]).await;
    let bob = env.user("bob", "git:read", &["app"]).await;
    let server = spawn_http(&env, &[]);
    let a = connect_http(&server.url, &alice).await.unwrap();
    let b = connect_http(&server.url, &bob).await.unwrap();
    let status = || rmcp::model::CallToolRequestParams::new("git_status");
    assert_eq!(a.call_tool(status()).await.unwrap().is_error, Some(false));
    assert!(env.store().await.revoke_user("alice").await.unwrap());
    // The very next call on alice's already open session is refused; bob is untouched.
    assert!(
        a.call_tool(status()).await.is_err(),
        "revoked user still served"
    );
    assert_eq!(b.call_tool(status()).await.unwrap().is_error, Some(false));
    // The attempt is alice's: her (revoked) token says so.
    assert_eq!(denied_with(&env, "denied:token-revoked").await, 1);
    let refused = env
        .audit()
        .await
        .into_iter()
        .find(|e| !e.decision.allowed)
        .unwrap();
    assert_eq!(
        (refused.tool.as_str(), refused.user.as_str()),
        ("git_status", "alice")
    );
}

#[tokio::test]
async fn grants_scopes_and_read_only_are_enforced_and_audited() {
    let env = Env::new();
    let other = crate::harness::fixture_repo();
    let other_arg = format!("other={}", other.path().display());
    let alice = env.user("alice", "git:read git:write", &["app"]).await;
    let reader = env.user("reader", "git:read", &["app", "other"]).await;
    let server = spawn_http(&env, &["--repo", &other_arg]);
    let a = Session {
        client: connect_http(&server.url, &alice).await.unwrap(),
        _server: None,
    };
    let r = Session {
        client: connect_http(&server.url, &reader).await.unwrap(),
        _server: None,
    };

    // alice's token on a repository granted only to others.
    let denied = a.call("git_log", json!({"repo": "other"})).await;
    assert_eq!(denied.is_error, Some(true));
    assert!(text(&denied).contains("other"), "{}", text(&denied));
    assert_eq!(
        a.call("git_log", json!({"repo": "app", "max_count": 1}))
            .await
            .is_error,
        Some(false)
    );
    assert_eq!(denied_with(&env, "denied:no-grant").await, 1);

    // A read-only user never sees write tools, and calling one is refused.
    let names = crate::harness::tool_names(&r.client).await;
    assert!(
        names.contains(&"git_log".to_owned()) && !names.contains(&"git_commit".to_owned()),
        "{names:?}"
    );
    let refused = r
        .call(
            "git_commit",
            json!({"repo": "app", "message": "x", "allow_empty": true}),
        )
        .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("git:write"), "{}", text(&refused));
    assert_eq!(denied_with(&env, "denied:missing-scope").await, 1);

    // Every call above is in the log with who, what, target and outcome.
    let events = env.audit().await;
    assert_eq!(events.len(), 3, "{events:#?}");
    let commit = events.iter().find(|e| e.tool == "git_commit").unwrap();
    assert_eq!(
        (commit.user.as_str(), commit.target.repo.as_deref()),
        ("reader", Some("app"))
    );
    assert!(!commit.outcome.ok);
}

#[tokio::test]
async fn the_read_only_switch_blocks_writes_even_for_admins() {
    let env = Env::new();
    let s = Session::stdio(&env, &["--read-only"]).await;
    let result = s.call("git_create_branch", json!({"name": "x"})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("read-only"), "{}", text(&result));
    assert_eq!(s.call("git_status", json!({})).await.is_error, Some(false));
    s.client.cancel().await.unwrap();
    assert_eq!(denied_with(&env, "denied:read-only").await, 1);
}

#[tokio::test]
async fn stdio_calls_are_audited_as_the_local_user() {
    let env = Env::new();
    let s = Session::stdio(&env, &["--user", "dev"]).await;
    s.call("git_log", json!({"max_count": 1})).await;
    s.call("git_read_file", json!({"path": "../etc/passwd"}))
        .await;
    s.client.cancel().await.unwrap();
    let events = env.audit().await;
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.user == "dev" && e.auth_method == "local" && e.decision.allowed)
    );
    assert!(events[0].outcome.ok);
    assert_eq!(events[1].outcome.code.as_deref(), Some("bad-path"));
    assert_eq!(
        events[0].client.as_ref().map(|c| c.name.as_str()),
        Some("rmcp")
    );
    let verified = gitgate::audit::Log::new(env.store().await)
        .verify(&env.state().audit_key().unwrap(), None)
        .await
        .unwrap();
    assert!(verified.first_bad.is_none());
}

#[tokio::test]
async fn foreign_host_and_origin_are_refused() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let server = spawn_http(&env, &[]);
    let auth = format!("Bearer {token}");
    let resp = post(
        &server.url,
        &[("authorization", &auth), ("host", "evil.example:80")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 403);
    let resp = post(
        &server.url,
        &[("authorization", &auth), ("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 403);
    let resp = post(
        &server.url,
        &[
            ("authorization", &auth),
            ("origin", "http://localhost:3000"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn no_auth_serves_on_loopback() {
    let env = Env::new();
    let server = spawn_http(&env, &["--no-auth"]);
    assert_eq!(post(&server.url, &[]).await.status().as_u16(), 200);
}

#[test]
fn no_auth_is_refused_off_loopback() {
    let env = Env::new();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--http",
            "0.0.0.0:0",
            "--no-auth",
            "--data-dir",
            &env.data_dir(),
            "--repo",
        ])
        .arg(format!("app={}", env.repo.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--no-auth is only allowed on a loopback address"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_audit_mirror_gets_one_json_line_per_event() {
    let env = Env::new();
    let mirror = env.data.path().join("audit.jsonl");
    let s = Session::stdio(&env, &["--audit-mirror", mirror.to_str().unwrap()]).await;
    s.call("git_status", json!({})).await;
    s.call("git_log", json!({"max_count": 1})).await;
    s.client.cancel().await.unwrap();
    let text = std::fs::read_to_string(&mirror).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[1]["seq"], json!(2));
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    let stored = env.audit().await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].tool, "git_log");
}

#[tokio::test]
async fn the_rate_limit_refuses_calls_past_the_budget() {
    let env = Env::new();
    let s = Session::stdio(&env, &["--rate-limit", "2"]).await;
    for _ in 0..2 {
        assert_eq!(s.call("git_status", json!({})).await.is_error, Some(false));
    }
    let refused = s.call("git_status", json!({})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("rate limit"), "{}", text(&refused));
    s.client.cancel().await.unwrap();
    assert_eq!(denied_with(&env, "denied:rate-limit").await, 1);
}

#[tokio::test]
async fn a_session_belongs_to_the_user_who_opened_it() {
    let env = Env::new();
    let alice = env.user("alice", "git:read", &["app"]).await;
    let bob = env.user("bob", "git:read", &["app"]).await;
    let server = spawn_http(&env, &[]);
    let http = reqwest::Client::new();
    let rpc = |token: &str, session: Option<&str>, body: serde_json::Value| {
        let mut req = http
            .post(&server.url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .json(&body);
        if let Some(s) = session {
            req = req
                .header("Mcp-Session-Id", s)
                .header("MCP-Protocol-Version", "2025-06-18");
        }
        req.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let opened = rpc(&alice, None, init).await.unwrap();
    assert!(opened.status().is_success(), "{}", opened.status());
    let session = opened
        .headers()
        .get("mcp-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = rpc(&alice, Some(&session), initialized).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "git_status", "arguments": {}}});
    // bob's own valid token on alice's session: refused and audited.
    let r = rpc(&bob, Some(&session), call.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("opened by another user (alice)"), "{body}");
    assert_eq!(denied_with(&env, "denied:session-owner").await, 1);
    let refused = env
        .audit()
        .await
        .into_iter()
        .find(|e| e.decision.rule == "denied:session-owner")
        .unwrap();
    assert_eq!(
        (refused.user.as_str(), refused.tool.as_str()),
        ("bob", "git_status")
    );
    // alice goes on using it.
    let r = rpc(&alice, Some(&session), call).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}
