//! Hostile input on the GitHub tools, through the real binary over HTTP: search fields that try
//! to widen a search past the caller's grants, paths that try to leave the repository, and an
//! upstream whose answers are huge, endless or carry oversized headers.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::github::{World, call, err, ok};
use crate::harness::{BIN, Env, connect_http, spawn_http, text};

/// Requests the forge received with `login`'s token.
async fn forge_requests(w: &World, login: &str) -> u64 {
    let stats: Value = reqwest::get(format!("{}/_forge/stats", w.forge.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["tokens"][login]["requests"].as_u64().unwrap_or(0)
}

/// Bug: `author`, `assignee`, `label` and `path` were pasted into the search `q` unquoted, and
/// `OR`, parentheses and quotes in `query` passed through, so a user granted only acme/gadgets
/// got acme/widgets results (GitHub, like the forge, ORs several `repo:` qualifiers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_fields_cannot_widen_a_search_past_the_grants() {
    let w = World::start(None).await;
    // ci-bot may search acme/gadgets only; acme/widgets is what the attempts reach for.
    w.user_with_github("ci-bot", "github:read", "acme/gadgets");
    let bot = w.client("ci-bot").await;
    let alice = w.client("alice").await;
    let gadgets = "acme/gadgets";

    // What a narrow user may do still works (and finds nothing: acme/gadgets has no issues).
    let out = ok(
        &bot,
        "gh_search_issues",
        json!({"repo": gadgets, "query": "crash in:title -label:wontfix \"null pointer\"",
               "label": ["help wanted"], "author": "alice", "assignee": "@me", "state": "open"}),
    )
    .await;
    assert_eq!(out, "no results");
    // Quoted labels still match at the forge (a broad user on acme/widgets).
    let want = w
        .oracle(
            "/search/issues?q=repo:acme/widgets+label:%22help+wanted%22+type:issue&per_page=100",
        )
        .await["total_count"]
        .as_u64()
        .unwrap();
    assert!(want > 0);
    let out = ok(
        &alice,
        "gh_search_issues",
        json!({"repo": "acme/widgets", "label": ["help wanted"], "limit": 100}),
    )
    .await;
    assert_eq!(out.lines().count() as u64, want, "{out}");

    let before = forge_requests(&w, "ci-bot").await;
    let smuggled = [
        (
            "gh_search_issues",
            json!({"author": "alice repo:acme/widgets"}),
        ),
        (
            "gh_search_issues",
            json!({"assignee": "bob repo:acme/widgets"}),
        ),
        (
            "gh_search_issues",
            json!({"author": "alice\trepo:acme/widgets"}),
        ),
        (
            "gh_search_issues",
            json!({"label": ["bug\" repo:acme/widgets \""]}),
        ),
        ("gh_search_issues", json!({"label": ["bug\" OR \"x"]})),
        ("gh_search_issues", json!({"label": ["bug\\"]})),
        (
            "gh_search_issues",
            json!({"label": ["bug repo:acme/widgets"]}),
        ),
        ("gh_search_issues", json!({"label": [""]})),
        (
            "gh_search_issues",
            json!({"query": "is:issue OR repo:acme/widgets"}),
        ),
        ("gh_search_issues", json!({"query": "is:issue OR bug"})),
        ("gh_search_issues", json!({"query": "bug AND (crash)"})),
        ("gh_search_issues", json!({"query": "REPO:acme/widgets"})),
        ("gh_search_issues", json!({"query": "-repo:acme/gadgets"})),
        (
            "gh_search_issues",
            json!({"query": "label:\"bug\\\" repo:acme/widgets \""}),
        ),
        (
            "gh_search_issues",
            json!({"query": "\"unbalanced repo:acme/widgets"}),
        ),
        (
            "gh_search_issues",
            json!({"query": "re\u{200b}po:acme/widgets"}),
        ),
        ("gh_search_issues", json!({"query": "owner:acme bug"})),
        (
            "gh_search_issues",
            json!({"query": "parent-issue:acme/widgets#1"}),
        ),
        (
            "gh_search_code",
            json!({"query": "fn", "path": "src\" repo:acme/widgets \""}),
        ),
        ("gh_search_code", json!({"query": "fn", "path": "src\\"})),
        (
            "gh_search_code",
            json!({"query": "fn OR repo:acme/widgets"}),
        ),
        ("gh_search_code", json!({"query": "fn user:acme"})),
        ("gh_search_code", json!({"query": "fn (x)"})),
    ];
    for (tool, mut args) in smuggled {
        args["repo"] = json!(gadgets);
        args["limit"] = json!(100);
        let result = call(&bot, tool, args.clone()).await;
        let msg = text(&result);
        assert_eq!(result.is_error, Some(true), "{tool} {args}: {msg}");
        assert!(!msg.contains("acme/widgets#"), "{tool} {args}: {msg}");
        assert!(!msg.contains("acme/widgets:"), "{tool} {args}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    // Refused before any request went out with ci-bot's token.
    assert_eq!(forge_requests(&w, "ci-bot").await, before);
    let msg = err(
        &bot,
        "gh_search_issues",
        json!({"repo": gadgets, "query": "bug repo:acme/widgets"}),
    )
    .await;
    assert!(msg.contains("must not contain `repo:`"), "{msg}");
    assert!(msg.contains("repo argument"), "{msg}");
    let msg = err(
        &bot,
        "gh_search_issues",
        json!({"repo": gadgets, "author": "alice repo:acme/widgets"}),
    )
    .await;
    assert!(msg.contains("author must be one GitHub login"), "{msg}");
}

/// Bug: gh_file sent `../` segments to the upstream unchanged, so an upstream or proxy that
/// resolved them would serve another repository with the user's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_paths_cannot_leave_the_repository_upstream() {
    let w = World::start(None).await;
    w.user_with_github("ci-bot", "github:read", "acme/gadgets");
    let bot = w.client("ci-bot").await;
    let before = forge_requests(&w, "ci-bot").await;
    for path in [
        "../widgets/contents/README.md",
        "../../acme/widgets/contents/README.md",
        "docs/../../widgets",
        "./README.md",
        "..%2f..%2fwidgets",
        "%2e%2e/widgets",
        "..\\widgets",
        "a//b",
        "/etc/passwd",
        "README.md\u{0}",
    ] {
        let msg = err(
            &bot,
            "gh_file",
            json!({"repo": "acme/gadgets", "path": path}),
        )
        .await;
        assert!(msg.starts_with("bad path "), "{path}: {msg}");
    }
    assert_eq!(forge_requests(&w, "ci-bot").await, before);
}

/// A GitHub stand-in on a raw socket: each path gives one hostile answer. Counts the bytes it
/// managed to write of the endless body.
struct Upstream {
    url: String,
    endless_written: Arc<AtomicUsize>,
}

const MIB: usize = 1 << 20;
/// The endless body stops here: far past the cap, and enough to show in the server's memory if
/// it were buffered, without filling the test machine's.
const ENDLESS: usize = 256 * MIB;
const REQUEST_ID_LEN: usize = 60_000;

impl Upstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let endless_written = Arc::new(AtomicUsize::new(0));
        let written = endless_written.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(sock, written.clone()));
            }
        });
        Self {
            url,
            endless_written,
        }
    }
}

async fn serve(mut sock: tokio::net::TcpStream, written: Arc<AtomicUsize>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
    let json_head = |extra: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n{extra}\r\n"
        )
    };
    match path.as_str() {
        // (a) A declared 1 GiB body; only its first bytes are ever sent.
        "/repos/big/declared" => {
            let head = json_head("content-length: 1073741824\r\n");
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&vec![b' '; MIB]).await;
        }
        // (b) An undeclared body that does not end (until ENDLESS, then the socket stays open).
        "/repos/big/endless" => {
            let head = json_head("transfer-encoding: chunked\r\n");
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, " ".repeat(64 << 10));
            let mut sent = 0;
            while sent < ENDLESS {
                if sock.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += 64 << 10;
                written.store(sent, Ordering::SeqCst);
            }
            // Hold the connection until the client goes away.
            let _ = sock.read(&mut buf).await;
        }
        // (c) A 40 MiB string field, undeclared length.
        "/repos/big/huge-field" => {
            let head = json_head("transfer-encoding: chunked\r\n");
            let body = format!(
                "{{\"full_name\":\"big/huge-field\",\"description\":\"{}\"}}",
                "d".repeat(40 * MIB)
            );
            let mut out = head.into_bytes();
            for part in body.as_bytes().chunks(MIB) {
                out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                out.extend_from_slice(part);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            let _ = sock.write_all(&out).await;
        }
        // Long fields under the body cap: a description and an issue title and body of 6 MiB each.
        "/repos/big/long-field" => {
            let body = json!({"full_name": "big/long-field", "description": "d".repeat(8 * MIB)});
            reply(&mut sock, &json_head(""), &body).await;
        }
        "/repos/big/long-field/issues/1" => {
            let body = json!({"number": 1, "title": "t".repeat(6 * MIB), "state": "open",
                "body": "b".repeat(6 * MIB), "comments": 0, "user": {"login": "x"}});
            reply(&mut sock, &json_head(""), &body).await;
        }
        // (d) A 60 KB request id.
        "/repos/big/request-id" => {
            let id = "A".repeat(REQUEST_ID_LEN);
            let head = json_head(&format!("x-github-request-id: {id}\r\n"));
            reply(&mut sock, &head, &json!({"full_name": "big/request-id"})).await;
        }
        _ => {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                )
                .await;
        }
    }
}

async fn reply(sock: &mut tokio::net::TcpStream, head: &str, body: &Value) {
    let body = body.to_string();
    let head = head.replacen(
        "\r\n\r\n",
        &format!("\r\ncontent-length: {}\r\n\r\n", body.len()),
        1,
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body.as_bytes()).await;
}

/// Peak resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Bug: an upstream answer was read whole into memory (a 1 GiB body took the server to 2 GiB;
/// an endless one grew until the timeout), strings had no size limit, and a 60 KB
/// `X-GitHub-Request-Id` was stored whole in the audit event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_answers_are_bounded() {
    let upstream = Upstream::start().await;
    let env = Env::new();
    let key = Command::new(BIN).arg("keygen").output().unwrap();
    assert!(key.status.success());
    let key_file = env.data.path().join("secret.key");
    std::fs::write(&key_file, &key.stdout).unwrap();
    let key_file = key_file.display().to_string();
    let data = env.data_dir();
    let users = |args: &[&str], token: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(["users", "--data-dir", &data, "--secret-key-file", &key_file]);
        cmd.args(args);
        if let Some(t) = token {
            cmd.env("UPSTREAM_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    users(
        &["add", "dana", "--scopes", "github:read", "--repos", "big/*"],
        None,
    );
    users(
        &["set-github-token", "dana", "--from-env", "UPSTREAM_TOKEN"],
        Some("ghp_dana"),
    );
    let server = spawn_http(
        &env,
        &[
            "--github-url",
            &upstream.url,
            "--secret-key-file",
            &key_file,
        ],
    );
    let token = env.user("dana", "", &[]).await;
    let dana = connect_http(&server.url, &token).await.unwrap();
    let too_large = "GitHub's answer exceeded 16 MiB; narrow the request (limit, path)";

    // (a) A declared 1 GiB answer is refused from its Content-Length.
    let msg = err(&dana, "gh_repo_view", json!({"repo": "big/declared"})).await;
    assert_eq!(msg, too_large);

    // (b) An endless answer: reading stops at the cap, not at the timeout or the end.
    let msg = err(&dana, "gh_repo_view", json!({"repo": "big/endless"})).await;
    assert_eq!(msg, too_large);
    let written = upstream.endless_written.load(Ordering::SeqCst);
    assert!(
        written < ENDLESS,
        "the whole endless body was read: {written}"
    );

    // (c) A 40 MiB string field: past the cap, refused; under it, cut with a note.
    let msg = err(&dana, "gh_repo_view", json!({"repo": "big/huge-field"})).await;
    assert_eq!(msg, too_large);
    let result = call(&dana, "gh_repo_view", json!({"repo": "big/long-field"})).await;
    assert_ne!(result.is_error, Some(true));
    let out = text(&result);
    assert!(
        out.contains("\n... description cut at 4 KiB"),
        "{}",
        &out[..200]
    );
    assert!(out.len() < 16 << 10, "{}", out.len());
    let structured = serde_json::to_string(&result.structured_content).unwrap();
    assert!(structured.len() < 16 << 10, "{}", structured.len());
    let out = ok(
        &dana,
        "gh_issue_view",
        json!({"repo": "big/long-field", "number": 1}),
    )
    .await;
    assert!(out.contains("\n... body cut at 64 KiB"), "body not cut");
    assert!(out.contains("\n... title cut at 4 KiB"), "title not cut");
    assert!(out.len() < 100 << 10, "{}", out.len());

    // (d) The request id kept for the audit event is bounded.
    ok(&dana, "gh_repo_view", json!({"repo": "big/request-id"})).await;
    let events = env.audit().await;
    let ids: Vec<&String> = events
        .iter()
        .flat_map(|e| e.upstream_request_ids.iter())
        .collect();
    assert_eq!(ids, [&"A".repeat(64)], "{ids:?}");

    // All of it within a bound: the cap (16 MiB) plus the answers' parsed copies, not the
    // 256 MiB the endless body offered or the 1 GiB declared.
    let peak = peak_rss(server.pid());
    eprintln!("gitgate peak RSS: {} MiB", peak / MIB);
    assert!(peak < 200 * MIB, "peak RSS {} MiB", peak / MIB);
    // The server lives on.
    let msg = err(&dana, "gh_repo_view", json!({"repo": "big/missing"})).await;
    assert!(msg.contains("not found"), "{msg}");
}
