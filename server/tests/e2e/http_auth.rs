//! HTTP-only behaviour: bearer authentication, `--no-auth` limits, Host and Origin checks.

use std::process::Command;

use crate::harness::{BIN, TOKEN, fixture_repo, spawn_http};

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

#[tokio::test]
async fn requests_without_the_right_token_get_401_with_a_challenge() {
    let repo = fixture_repo();
    let server = spawn_http(repo.path(), &["--token", TOKEN]);
    let check = |headers: Vec<(&'static str, String)>, status: u16, challenge: &'static str| {
        let url = server.url.clone();
        async move {
            let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = post(&url, &hs).await;
            assert_eq!(resp.status().as_u16(), status, "{headers:?}");
            if status == 401 {
                let www = resp
                    .headers()
                    .get("www-authenticate")
                    .expect("challenge")
                    .to_str()
                    .unwrap();
                assert!(www.contains(challenge), "{www}");
            }
        }
    };
    check(vec![], 401, "Bearer").await;
    check(
        vec![("authorization", "Bearer wrong".into())],
        401,
        "invalid_token",
    )
    .await;
    check(
        vec![("authorization", format!("Basic {TOKEN}"))],
        401,
        "Bearer",
    )
    .await;
    check(vec![("authorization", format!("Bearer {TOKEN}"))], 200, "").await;
}

#[tokio::test]
async fn foreign_host_and_origin_are_refused() {
    let repo = fixture_repo();
    let server = spawn_http(repo.path(), &["--token", TOKEN]);
    let auth = format!("Bearer {TOKEN}");
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
}

#[tokio::test]
async fn no_auth_serves_on_loopback() {
    let repo = fixture_repo();
    let server = spawn_http(repo.path(), &["--no-auth"]);
    assert_eq!(post(&server.url, &[]).await.status().as_u16(), 200);
}

#[test]
fn no_auth_is_refused_off_loopback() {
    let repo = fixture_repo();
    let out = Command::new(BIN)
        .args(["serve", "--http", "0.0.0.0:0", "--no-auth", "--repo"])
        .arg(format!("app={}", repo.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--no-auth is only allowed on a loopback address"),
        "{stderr}"
    );
}

#[test]
fn http_without_a_token_is_refused_at_start() {
    let repo = fixture_repo();
    let out = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--repo"])
        .arg(format!("app={}", repo.path().display()))
        .env_remove("GITGATE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP needs a bearer token"));
}
