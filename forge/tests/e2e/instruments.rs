//! `/_forge/stats` and `/_forge/faults`: counts per token, injected 5xx share, latency and
//! rate-limit exhaustion (403 as GitHub's primary limit, or 429).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::{get, json, start};

async fn faults(f: &crate::Forge, body: serde_json::Value) -> serde_json::Value {
    let resp = crate::http()
        .post(f.url("/_forge/faults"))
        .json(&body)
        .send()
        .await
        .expect("faults");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("settings")
}

/// One keep-alive HTTP/1.1 GET on `stream`; returns the status.
async fn raw_get(stream: &mut TcpStream, path: &str, token: &str) -> u16 {
    let req = format!("GET {path} HTTP/1.1\r\nHost: forge\r\nAuthorization: token {token}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).await.expect("status");
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.expect("body");
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_requests_and_connections_per_token() {
    let f = start().await;
    // Raw sockets, so the number of connections is exactly what the test opens (a pooled
    // client may open a second connection while the first returns to its pool).
    let mut one = TcpStream::connect(f.handle.addr).await.expect("connect");
    for _ in 0..3 {
        assert_eq!(raw_get(&mut one, "/user", &f.token("alice")).await, 200);
    }
    for _ in 0..2 {
        let mut fresh = TcpStream::connect(f.handle.addr).await.expect("connect");
        assert_eq!(raw_get(&mut fresh, "/user", &f.token("bob")).await, 200);
    }
    let stats: serde_json::Value = crate::http()
        .get(f.url("/_forge/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(
        stats["tokens"]["alice"],
        json!({"requests": 3, "connections": 1})
    );
    assert_eq!(
        stats["tokens"]["bob"],
        json!({"requests": 2, "connections": 2})
    );
    assert!(stats["connections"].as_u64().expect("count") >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_share_is_exact() {
    let f = start().await;
    faults(&f, json!({"error_rate": 0.25, "error_status": 502})).await;
    let mut failures = 0;
    for _ in 0..20 {
        let (s, _, b) = get(&f, "alice", "/user").await;
        if s == 502 {
            failures += 1;
            assert_eq!(json(&b)["message"], "Server Error");
        }
    }
    assert_eq!(failures, 5);
    faults(&f, json!({"reset": true})).await;
    assert_eq!(get(&f, "alice", "/user").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_added() {
    let f = start().await;
    faults(&f, json!({"latency_ms": 150})).await;
    let started = Instant::now();
    assert_eq!(get(&f, "alice", "/user").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_budget_runs_out() {
    let f = start().await;
    faults(&f, json!({"rate_limit_remaining": 2})).await;
    assert_eq!(get(&f, "alice", "/user").await.0, 200);
    let (_, h, _) = get(&f, "alice", "/user").await;
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let (s, h, b) = get(&f, "alice", "/user").await;
    assert_eq!(s, 403);
    assert!(
        json(&b)["message"]
            .as_str()
            .expect("message")
            .starts_with("API rate limit exceeded for user ID")
    );
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let (_, _, b) = get(&f, "alice", "/rate_limit").await;
    assert_eq!(json(&b)["resources"]["core"]["remaining"], 0);
    faults(&f, json!({"rate_limit_status": 429})).await;
    assert_eq!(get(&f, "alice", "/user").await.0, 429);
    let bad = crate::http()
        .post(f.url("/_forge/faults"))
        .json(&json!({"error_rate": 2.0}))
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_cuts_off_only_that_token() {
    let f = start().await;
    assert_eq!(get(&f, "ci-bot", "/user").await.0, 200);
    let revoke = |name: &str| {
        crate::http()
            .delete(f.url(&format!("/_forge/tokens/{name}")))
            .send()
    };
    let resp = revoke("ci-bot").await.expect("delete");
    assert_eq!(resp.status().as_u16(), 200);
    let (s, _, b) = get(&f, "ci-bot", "/user").await;
    assert_eq!(s, 401);
    assert_eq!(json(&b)["message"], "Bad credentials");
    assert_eq!(get(&f, "alice", "/user").await.0, 200);
    // Revoking it again, or a name nobody has, is a 404.
    assert_eq!(
        revoke("ci-bot").await.expect("delete").status().as_u16(),
        404
    );
    assert_eq!(
        revoke("nobody").await.expect("delete").status().as_u16(),
        404
    );
}
