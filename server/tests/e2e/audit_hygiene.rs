//! The audit log shows only the truth and keeps no secret, whatever callers send (security
//! issue items 6, 7 and 8, and the load issue's big regexes): run over HTTP against the real
//! binary, then read back with `gitgate audit query|export|verify`.

use std::process::Command;

use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value, json};

use crate::harness::{BIN, Client, Env, connect_http, spawn_http, text};

/// A value that, printed raw, ends the row, draws a fake one (seq 999: alice merged a pull
/// request) and turns the terminal red; with the characters some JSON Lines readers and
/// viewers treat as line ends or reorderings.
const FORGED: &str = "app\n999  2026-05-01T12:00:00.000Z  alice  gh_pr_merge  acme/prod  \
                      allowed  1.0ms  ok\u{1b}[31m\u{9b}2J\r\u{2028}\u{2029}\u{85}\u{202e}";

/// `gitgate audit --data-dir DATA ARGS...`: exit code and stdout.
fn audit_cli(env: &Env, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["audit", "--data-dir", &env.data_dir()])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (out.status.code().unwrap_or(-1), stdout)
}

/// Calls `name` with `args`; `Err` carries a protocol error's text.
async fn call(client: &Client, name: &str, args: Value) -> Result<String, String> {
    let args: Map<String, Value> = match args {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    client
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
        .await
        .map(|r| text(&r))
        .map_err(|e| e.to_string())
}

/// A `tools/call` POSTed with no (or a bad) bearer: refused with 401, and audited.
async fn unauthenticated_call(url: &str, bearer: Option<&str>, tool: &str, args: Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": args}});
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(bearer) = bearer {
        request = request.header("authorization", format!("Bearer {bearer}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

/// Security issue, item 6: a tool name (even in an unauthenticated request) or a `repo` value
/// holding a newline, ANSI escapes and a fake row printed that row and colours in `gitgate
/// audit query`; `audit export` left U+2028/U+2029/U+0085 raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_query_cannot_be_forged_by_a_repo_or_a_tool_name() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["**"]).await;
    let server = spawn_http(&env, &[]);
    let client = connect_http(&server.url, &token).await.unwrap();
    let reply = call(&client, "git_log", json!({"repo": FORGED}))
        .await
        .unwrap();
    assert!(
        !reply.contains('\n') && !reply.contains('\u{1b}'),
        "{reply}"
    );
    call(&client, FORGED, json!({"repo": FORGED}))
        .await
        .unwrap_err();
    unauthenticated_call(&server.url, None, FORGED, json!({"repo": FORGED})).await;
    client.cancel().await.unwrap();

    let events = env.audit().await.len();
    assert!(events >= 3, "{events} events");
    let (code, table) = audit_cli(&env, &["query"]);
    assert_eq!(code, 0);
    assert_eq!(table.lines().count(), events + 1, "{table}");
    for bad in [
        '\u{1b}', '\u{9b}', '\r', '\u{2028}', '\u{2029}', '\u{85}', '\u{202e}',
    ] {
        assert!(!table.contains(bad), "{bad:?} in {table}");
    }
    // Every row is a real event: its first cell is the next sequence number.
    let seqs: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<String> = (1..=events).map(|n| n.to_string()).collect();
    assert_eq!(seqs, expected, "{table}");
    assert!(table.contains("app\\n999  2026"), "{table}");

    let (code, export) = audit_cli(&env, &["export"]);
    assert_eq!(code, 0);
    assert_eq!(export.lines().count(), events);
    for bad in [
        '\u{1b}', '\u{9b}', '\r', '\u{2028}', '\u{2029}', '\u{85}', '\u{202e}',
    ] {
        assert!(!export.contains(bad), "{bad:?} in {export}");
    }
    // The escapes are JSON's: a parser reads back the value that was sent.
    let repos: Vec<String> = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|l| l["event"]["target"]["repo"].as_str().map(str::to_owned))
        .collect();
    assert!(repos.iter().any(|r| r == FORGED), "{repos:?}");
    let (code, verdict) = audit_cli(&env, &["verify"]);
    assert_eq!(code, 0, "{verdict}");
}

/// Security issue, item 7: a token given as `rev`, branch `name` or `path` was redacted in
/// `arguments` but kept in `target.ref` and repeated in `outcome.message`; tokens inside a
/// commit message or a jq filter, and a token as the tool name, were stored as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_stay_out_of_every_event_field() {
    let env = Env::new();
    let token = env.user("alice", "git:read git:write", &["**"]).await;
    let ghp = "ghp_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa";
    let server = spawn_http(&env, &["--lean"]);
    let client = connect_http(&server.url, &token).await.unwrap();
    for secret in [token.as_str(), ghp] {
        let calls = [
            ("git_log", json!({"rev": secret})),
            ("git_log", json!({"rev": format!("main..{secret}")})),
            ("git_create_branch", json!({"name": secret})),
            (
                "git_create_branch",
                json!({"name": format!("feature/{secret}")}),
            ),
            ("git_read_file", json!({"path": secret})),
            ("git_log", json!({"path": format!("docs/{secret}.md")})),
            (
                "git_commit",
                json!({"message": format!("rotate the key\n\nold one: {secret}")}),
            ),
            ("git_log", json!({"grep": format!("leaked {secret}")})),
            (
                "gitgate",
                json!({"tool": "git_log", "jq": format!(".[] | select(.subject == \"{secret}\")")}),
            ),
            (
                "gitgate",
                json!({"run": format!("git log --grep {secret} | jq '.[] | \"{secret}\"'")}),
            ),
        ];
        for (tool, args) in calls {
            let _ = call(&client, tool, args).await;
        }
        call(&client, secret, json!({})).await.unwrap_err();
        call(&client, &format!("x{secret}"), json!({}))
            .await
            .unwrap_err();
        // A bearer that is not valid (the real token with a character more), so it is refused.
        let bearer = format!("{secret}0");
        unauthenticated_call(&server.url, Some(&bearer), secret, json!({"rev": secret})).await;
    }
    client.cancel().await.unwrap();

    let (code, export) = audit_cli(&env, &["export"]);
    assert_eq!(code, 0);
    assert!(export.lines().count() >= 24, "{export}");
    assert!(export.contains("[redacted]"));
    // Neither the tokens nor a recognisable part of them, in any field.
    for secret in [token.as_str(), ghp] {
        for part in [secret, &secret[4..], &secret[secret.len() - 16..]] {
            assert!(!export.contains(part), "{part} in the log:\n{export}");
        }
    }
    let (_, table) = audit_cli(&env, &["query"]);
    assert!(
        !table.contains(&token[4..20]) && !table.contains(&ghp[4..20]),
        "{table}"
    );
}

/// Security issue, item 8, and the load issue: a 1 MiB argument made a 2 MiB event, a 1 MiB
/// tool name a 2 MiB event, and replies quoted whole inputs back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_inputs_make_bounded_events_and_replies() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["**"]).await;
    let server = spawn_http(&env, &[]);
    let client = connect_http(&server.url, &token).await.unwrap();
    let mib = "r".repeat(1 << 20);
    let reply = call(&client, "git_log", json!({"rev": mib})).await.unwrap();
    assert!(reply.len() < 400, "{} bytes: {reply:.300}", reply.len());
    assert!(
        reply.contains(&"r".repeat(100)) && reply.contains("more chars]"),
        "{reply}"
    );
    // A successful call with a 1 MiB argument.
    let reply = call(&client, "git_log", json!({"author": mib}))
        .await
        .unwrap();
    assert!(reply.len() < 400, "{reply:.300}");
    let protocol_error = call(&client, &"t".repeat(1 << 20), json!({}))
        .await
        .unwrap_err();
    assert!(protocol_error.len() < 1000, "{protocol_error:.300}");
    // A refusal keeps at most 4 KiB of the body (see transport/refusals.rs): a tool name past
    // that is recorded as the bare method.
    unauthenticated_call(&server.url, None, &"u".repeat(60_000), json!({"x": 1})).await;
    client.cancel().await.unwrap();

    let (code, export) = audit_cli(&env, &["export"]);
    assert_eq!(code, 0);
    assert!(export.lines().count() >= 4);
    for line in export.lines() {
        assert!(line.len() < 16 * 1024, "{} bytes: {line:.300}", line.len());
    }
    let events: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect();
    let tools: Vec<&str> = events.iter().filter_map(|e| e["tool"].as_str()).collect();
    assert!(
        tools
            .iter()
            .any(|t| t.starts_with("ttt") && t.contains("…[cut ")),
        "{tools:?}"
    );
    assert!(
        tools
            .iter()
            .any(|t| *t == "HTTP POST" || (t.starts_with("uuu") && t.len() < 200)),
        "{tools:?}"
    );
    assert!(
        tools.iter().all(|t| t.len() < 200 || t.starts_with("ttt")),
        "{tools:?}"
    );
    let (code, _) = audit_cli(&env, &["verify"]);
    assert_eq!(code, 0);
}

/// The load issue: a 3 MB `git_log grep` (or `git_grep pattern`) was parsed before being
/// refused, adding ~250 MB of resident memory per call, and came back whole in the reply and in
/// a 6.3 MB audit row. Now refused by its length, naming the limit, quoting a short start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_regexes_are_refused_naming_the_limit() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["**"]).await;
    let server = spawn_http(&env, &[]);
    let client = connect_http(&server.url, &token).await.unwrap();
    let pattern = "a".repeat(3_000_000);
    for (tool, args) in [
        ("git_log", json!({"grep": pattern})),
        ("git_grep", json!({"pattern": pattern})),
        (
            "git_grep",
            json!({"pattern": "x", "paths": vec!["*.md"; 2000]}),
        ),
    ] {
        let reply = call(&client, tool, args).await.unwrap();
        assert!(
            reply.contains("limited to 4096 bytes"),
            "{tool}: {reply:.300}"
        );
        assert!(reply.len() < 300, "{tool}: {} bytes", reply.len());
        assert!(!reply.contains(&"a".repeat(100)), "{reply}");
    }
    // Short patterns still work.
    let found = call(&client, "git_grep", json!({"pattern": "w.rld"})).await;
    assert!(found.unwrap().contains("README.md"));
    client.cancel().await.unwrap();
    let (_, export) = audit_cli(&env, &["export"]);
    for line in export.lines() {
        assert!(line.len() < 16 * 1024, "{} bytes", line.len());
    }
}
