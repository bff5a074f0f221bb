//! Agent mode end to end against a scripted model server (both wire formats, streamed and
//! not, with retries), the real gitgate and gitgate-forge binaries and a seeded repository:
//! attempts judged by the task checks, the report reproduced byte for byte by a replay, and
//! the API key in no file the run writes.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::wire::Provider;
use super::{AgentConfig, Settings};
use crate::agent_model::AgentReport;
use crate::config::{Config, select_arms};
use crate::prices::Prices;

/// A recognisable fake key: it must reach the server's headers and no file.
const KEY: &str = "sk-gitgate-test-FAKE-KEY-0123456789";

/// A task of the embedded suite with a number for an answer.
const TASK: &str = "github-read-open-bug-count";

/// One scripted HTTP answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn ok(body: String) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        body,
    }
}

/// What the model server received: per request, its header lines and its body.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Serves `script` in order, one answer per request, on 127.0.0.1:0; returns its base URL
/// (`http://ADDR`) and what it received. Past the script's end it answers 400.
async fn model_server(script: Vec<Answer>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        let mut script = script.into_iter();
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head, body) = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < end + 4 + length {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                break (head, buf[end + 4..].to_vec());
            };
            if head.is_empty() {
                continue;
            }
            log.lock()
                .unwrap()
                .push((head, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            let answer = script.next().unwrap_or(Answer {
                status: 400,
                headers: Vec::new(),
                body: r#"{"error":{"message":"script ended"}}"#.into(),
            });
            let mut out = format!(
                "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                answer.status,
                answer.body.len()
            );
            for (k, v) in &answer.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&answer.body);
            let _ = sock.write_all(out.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen)
}

/// A model turn: tool calls `(name, raw arguments)`, or the final text when there are none.
struct Turn<'a> {
    text: &'a str,
    calls: &'a [(&'a str, &'a str)],
}

fn say(text: &str) -> Turn<'_> {
    Turn { text, calls: &[] }
}

fn call<'a>(calls: &'a [(&'a str, &'a str)]) -> Turn<'a> {
    Turn { text: "", calls }
}

/// The turn as `provider` sends it, whole or streamed; usage 100 in, 10 out, 50 cache read.
fn reply(provider: Provider, stream: bool, turn: &Turn<'_>) -> Answer {
    let id = |i: usize| format!("call_{i}");
    let body = match (provider, stream) {
        (Provider::Anthropic, false) => {
            let mut content = vec![json!({"type": "text", "text": turn.text})];
            for (i, (name, args)) in turn.calls.iter().enumerate() {
                let input: Value = serde_json::from_str(args).unwrap();
                content
                    .push(json!({"type": "tool_use", "id": id(i), "name": name, "input": input}));
            }
            json!({"content": content, "stop_reason": if turn.calls.is_empty() {"end_turn"} else {"tool_use"},
                   "usage": {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 0}})
            .to_string()
        }
        (Provider::OpenAi, false) => {
            let calls: Vec<Value> = turn
                .calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| json!({"id": id(i), "type": "function", "function": {"name": name, "arguments": args}}))
                .collect();
            let mut message = json!({"role": "assistant", "content": turn.text});
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            json!({"choices": [{"message": message, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 150, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 50}}})
            .to_string()
        }
        (Provider::Anthropic, true) => {
            let mut events = vec![
                json!({"type": "message_start", "message": {"usage": {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 50}}}),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": turn.text}}),
            ];
            for (i, (name, args)) in turn.calls.iter().enumerate() {
                let index = i + 1;
                events.push(json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id(i), "name": name, "input": {}}}));
                // Split the arguments across two deltas, as the API does.
                let cut = args.len() / 2;
                for part in [&args[..cut], &args[cut..]] {
                    events.push(json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": part}}));
                }
            }
            events.push(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 10}}));
            events.push(json!({"type": "message_stop"}));
            events
                .iter()
                .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
                .collect()
        }
        (Provider::OpenAi, true) => {
            let mut chunks = vec![
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": turn.text}}]}),
            ];
            for (i, (name, args)) in turn.calls.iter().enumerate() {
                let cut = args.len() / 2;
                chunks.push(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "id": id(i), "function": {"name": name, "arguments": &args[..cut]}}]}}]}));
                chunks.push(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "function": {"arguments": &args[cut..]}}]}}]}));
            }
            chunks.push(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
            chunks.push(json!({"choices": [], "usage": {"prompt_tokens": 150, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 50}}}));
            let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
            s.push_str("data: [DONE]\n\n");
            s
        }
    };
    ok(body)
}

/// A workspace binary, next to the test executable's directory.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing; build it first: cargo build -p gitgate -p gitgate-forge",
        bin.display()
    );
    bin
}

fn config(
    provider: Provider,
    stream: bool,
    base_url: &str,
    arm: &str,
    repeat: u32,
    out: &Path,
    replay: Option<&Path>,
) -> AgentConfig {
    let tasks = crate::task::embedded()
        .unwrap()
        .into_iter()
        .filter(|t| t.id == TASK)
        .collect();
    AgentConfig {
        run: Config {
            tasks,
            arms: select_arms(crate::arm::defaults(), &[arm.to_owned()]).unwrap(),
            repeat,
            seed: "demo".into(),
            gitgate: binary("gitgate"),
            forge: binary("gitgate-forge"),
            prices: Prices::from_toml("[models.m]\ninput = 2.0\noutput = 10.0\n").unwrap(),
            tokenizers: vec!["o200k_base".into()],
            trace: false,
            work_dir: Some(out.join("work")),
        },
        settings: Settings {
            provider,
            model: "m-2026".into(),
            base_url: base_url.into(),
            stream,
            max_turns: 6,
            max_tokens: 100_000,
            timeout_s: 120.0,
        },
        out: out.to_owned(),
        replay: replay.map(Path::to_owned),
        api_key: Some(KEY.into()),
    }
}

async fn run(config: &AgentConfig) -> AgentReport {
    let report = super::run(config, &mut |line| eprintln!("[agent test] {line}"))
        .await
        .unwrap();
    super::write_reports(&report, &config.out).unwrap();
    report
}

/// Every file under `dir`, recursively (symlinks not followed).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            out.extend(files(&e.path()));
        } else if kind.is_file() {
            out.push(e.path());
        }
    }
    out
}

fn transcript_kinds(out: &Path, rel: &str) -> Vec<String> {
    super::transcript::read(&out.join(rel))
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Anthropic, streamed, on the cli arm: a 429 with retry-after and a 500 are retried, a tool
/// call with arguments that are not JSON is an error fed back (the loop goes on), the real
/// command answers, and the final answer passes. Then the replay reproduces every report file
/// byte for byte, and no file of either run holds the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_anthropic_streamed_on_the_cli_arm_retries_recovers_and_replays() {
    let p = Provider::Anthropic;
    let script = vec![
        Answer {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
                .into(),
        },
        reply(p, true, &call(&[("bash", r#"{"command": "gh issue list"#)])),
        Answer {
            status: 500,
            headers: Vec::new(),
            body: "oops".into(),
        },
        reply(
            p,
            true,
            &call(&[(
                "bash",
                r#"{"command":"cd /home/agent/widgets && gh issue list -l bug --json number --jq length"}"#,
            )]),
        ),
        reply(p, true, &say("3")),
    ];
    let (url, seen) = model_server(script).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live");
    let report = run(&config(p, true, &url, "cli", 1, &out, None)).await;
    let at = &report.tasks[0].arms[0].attempts[0];
    assert!(at.passed, "{at:?}");
    assert_eq!((at.turns, at.tool_calls), (3, 2), "{at:?}");
    assert_eq!(at.tool_errors.bad_arguments, 1);
    assert_eq!(at.tool_errors.failed, 0);
    assert_eq!(at.usage.input, 300);
    assert_eq!((at.usage.output, at.usage.cache_read), (30, 150));
    // 450 input-priced tokens at 2 USD/Mtok and 30 output tokens at 10.
    assert_eq!(at.cost_usd, Some((450.0 * 2.0 + 30.0 * 10.0) / 1e6));
    assert_eq!(report.arms[0].pass_k, 1.0);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "two retried requests and three turns");
    assert!(seen[0].0.contains(KEY), "the key is sent as a header");
    assert!(seen[0].0.to_ascii_lowercase().contains("anthropic-version"));
    // The malformed call's error reached the model, and the next turn carries the real result.
    let third = &seen[3].1["messages"];
    assert_eq!(third[2]["content"][0]["is_error"], true, "{third}");
    let last = &seen[4].1["messages"];
    assert_eq!(last[4]["content"][0]["content"], "3\n", "{last}");
    assert_eq!(last[4]["content"][0]["is_error"], false);
    assert_eq!(
        transcript_kinds(&out, &at.transcript),
        [
            "start", "request", "retry", "response", "tool", "request", "retry", "response",
            "tool", "request", "response", "end"
        ]
    );

    // The 429's retry-after was honoured; the 500 had none, so the first backoff step.
    let waits: Vec<(u16, f64)> = super::transcript::read(&out.join(&at.transcript))
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            super::transcript::Entry::Retry { status, wait_s, .. } => Some((status, wait_s)),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [(429, 1.0), (500, 0.5)]);

    // The replay: no provider (a base URL nothing listens on), the same report files.
    let again = dir.path().join("replay");
    let mut replay = config(p, true, "http://127.0.0.1:9", "cli", 1, &again, Some(&out));
    replay.api_key = None;
    let replayed = run(&replay).await;
    assert_eq!(replayed, report);
    for name in ["agent.json", "agent.md", "agent.html"] {
        let a = std::fs::read(out.join(name)).unwrap();
        let b = std::fs::read(again.join(name)).unwrap();
        assert!(a == b, "{name} differs after replay");
    }

    let written = files(dir.path());
    assert!(written.len() > 10, "{written:?}");
    for f in written {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{} holds the API key",
            f.display()
        );
    }
}

/// OpenAI, whole responses, on the mcp arm (gitgate over stdio, its real tools/list): a call
/// of a tool that does not exist and one with an argument the tool does not take are errors,
/// the real tool answers, the answer passes; the
/// second repeat answers wrong and fails, so pass^2 is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_openai_on_the_mcp_arm_counts_unknown_tools_and_wrong_answers() {
    let p = Provider::OpenAi;
    let script = vec![
        reply(
            p,
            false,
            &call(&[
                ("github_issues", "{}"),
                ("gh_issue_list", r#"{"label":["bug"],"json":["number"]}"#),
                ("gh_issue_list", r#"{"labels_typo":["bug"]}"#),
            ]),
        ),
        reply(p, false, &say("There are 3 open bug issues.")),
        reply(p, false, &say("4")),
    ];
    let (url, seen) = model_server(script).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live");
    let report = run(&config(p, false, &url, "mcp", 2, &out, None)).await;
    let attempts = &report.tasks[0].arms[0].attempts;
    assert!(attempts[0].passed, "{:?}", attempts[0]);
    assert_eq!(attempts[0].tool_errors.unknown_tool, 1);
    assert_eq!(
        attempts[0].tool_errors.bad_arguments, 1,
        "{:?}",
        attempts[0]
    );
    assert_eq!(attempts[0].tool_calls, 3);
    assert_eq!(attempts[0].usage.input, 200);
    assert!(!attempts[1].passed);
    let why = attempts[1].failure.as_deref().unwrap();
    assert!(why.starts_with("answer: expected the number 3"), "{why}");
    let s = &report.arms[0];
    assert_eq!((s.success_rate, s.pass_k), (0.5, 0.0));

    let seen = seen.lock().unwrap().clone();
    assert!(seen[0].0.contains(&format!("Bearer {KEY}")));
    // The server's tools/list, forwarded as function definitions.
    let tools = seen[0].1["tools"].as_array().unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t["function"]["name"] == "gh_issue_list")
    );
    assert!(
        tools
            .iter()
            .all(|t| t["function"]["parameters"].is_object())
    );
    let messages = seen[1].1["messages"].as_array().unwrap();
    let results: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert!(results[0]["content"].as_str().unwrap().contains("no tool"));
    assert!(
        results[1]["content"]
            .as_str()
            .unwrap()
            .contains("\"number\"")
    );
}

/// OpenAI streamed on the cli arm and Anthropic whole on the lean MCP arm (gitgate's one
/// tool, its run form): a full attempt passes on each; then under a one-turn budget a model
/// that keeps calling tools ends unanswered, and the attempt fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_full_attempts_on_the_other_pairs_and_the_turn_budget() {
    for (p, stream, arm) in [
        (Provider::OpenAi, true, "cli"),
        (Provider::Anthropic, false, "mcp-lean"),
    ] {
        let (tool, args) = if arm == "cli" {
            (
                "bash",
                r#"{"command":"gh issue list -l bug --json number --jq length"}"#,
            )
        } else {
            (
                "gitgate",
                r#"{"run":"gh issue list -l bug --json number --jq length"}"#,
            )
        };
        let dir = tempfile::tempdir().unwrap();

        let script = vec![
            reply(p, stream, &call(&[(tool, args)])),
            reply(p, stream, &say("3")),
        ];
        let (url, seen) = model_server(script).await;
        let out = dir.path().join("full");
        let report = run(&config(p, stream, &url, arm, 1, &out, None)).await;
        let at = &report.tasks[0].arms[0].attempts[0];
        assert!(at.passed, "{arm}: {at:?}");
        assert_eq!(
            (at.turns, at.tool_calls, at.tool_errors.errors()),
            (2, 1, 0)
        );
        let tools = seen.lock().unwrap()[0].1["tools"].clone();
        let names: Vec<&str> = tools
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t["name"]
                    .as_str()
                    .or(t["function"]["name"].as_str())
                    .unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [tool],
            "{arm}: the model is given the arm's interface"
        );

        let script = vec![reply(p, stream, &call(&[(tool, args)]))];
        let (url, _) = model_server(script).await;
        let out = dir.path().join("budget");
        let mut c = config(p, stream, &url, arm, 1, &out, None);
        c.settings.max_turns = 1;
        let report = run(&c).await;
        let at = &report.tasks[0].arms[0].attempts[0];
        assert!(!at.passed);
        assert_eq!(at.stop, "max_turns", "{at:?}");
        assert_eq!((at.turns, at.tool_calls), (1, 1), "{at:?}");
        assert_eq!(at.usage.output, 10);
        let md = std::fs::read_to_string(out.join("agent.md")).unwrap();
        assert!(md.contains("| pass^1 | 0% (0/1) |"), "{md}");
    }
}
