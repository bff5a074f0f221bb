//! The stdio transport with standard streams of every kind: pipes (as MCP clients spawn us),
//! and a pipe in with a file out.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{BIN, Env, RawStdio};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const STATUS: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"git_status","arguments":{}}}"#;

/// Regression (load issue, item 3): with stdin a pipe and stdout a file, the transport made
/// stdin non-blocking, then read it blocking: "Resource temporarily unavailable (os error 11)"
/// and the session ended before answering.
#[test]
fn a_pipe_in_and_a_file_out_serve_a_whole_session() {
    let env = Env::new();
    let out_path = env.data.path().join("stdout.jsonl");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--stdio", "--data-dir", &env.data_dir(), "--repo"])
        .arg(format!("app={}", env.repo.path().display()))
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Each message is sent only once the previous one is answered, so the server's reads find
    // an empty pipe in between (where the non-blocking stdin failed).
    let mut wait_for = |needle: &str| loop {
        let text = std::fs::read_to_string(&out_path).unwrap();
        if text.contains(needle) {
            break text;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("gitgate exited with {status} before answering {needle}: {text}");
        }
        std::thread::yield_now();
    };
    writeln!(stdin, "{INIT}").unwrap();
    wait_for(r#""id":1"#);
    writeln!(stdin, "{INITIALIZED}\n{STATUS}").unwrap();
    let answered = wait_for(r#""id":2"#);
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(answered.contains("## main"), "{answered}");
}

/// Regression (load issue, items 3 and 6): any notification before `initialize` ended the stdio
/// process (exit 1), and a line that is not JSON got no answer. Now: a notification before
/// `initialize` is ignored, a request gets -32002, a non-JSON line -32700, an over-long line
/// -32600, and the session goes on.
#[test]
fn stray_and_malformed_messages_get_json_rpc_errors_and_the_session_goes_on() {
    let env = Env::new();
    let mut server = RawStdio::spawn(&env, &[], false);
    server.send(INITIALIZED);
    server.send(STATUS);
    let a = server.answer();
    assert_eq!(
        (a["id"].clone(), a["error"]["code"].clone()),
        (2.into(), (-32002).into()),
        "{a}"
    );
    server.send("{not json");
    let a = server.answer();
    assert_eq!(
        (a["id"].clone(), a["error"]["code"].clone()),
        (serde_json::Value::Null, (-32700).into()),
        "{a}"
    );
    server.send(&"x".repeat(5 << 20));
    let a = server.answer();
    assert_eq!(a["error"]["code"], -32600, "{a}");
    server.send(INIT);
    let a = server.answer();
    assert_eq!(a["id"], 1, "{a}");
    assert!(a["result"]["serverInfo"].is_object(), "{a}");
    server.send(&format!("{INITIALIZED}\n{{oops\n{STATUS}"));
    // The guard's answer and rmcp's come back on one stream, in either order.
    let (x, y) = (server.answer(), server.answer());
    let (parse, status) = if x["error"].is_object() {
        (x, y)
    } else {
        (y, x)
    };
    assert_eq!(parse["error"]["code"], -32700, "{parse}");
    assert_eq!(status["id"], 2, "{status}");
    let text = status["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("## main"), "{status}");
    assert!(server.close().success());
}

/// Regression (load issue, item 5, on stdio): two requests with one id in flight at once were
/// both run and both answered under that id, so the client could not tell the answers apart.
/// Now the second is refused at once (-32600, naming the id) while the first runs, the first
/// gets its own answer, and the id is free again once answered.
#[test]
fn a_request_id_in_flight_is_refused_and_free_again_once_answered() {
    let env = Env::new();
    let mut server = RawStdio::spawn(&env, &["--lean"], false);
    server.send(&format!("{INIT}\n{INITIALIZED}"));
    assert!(server.answer()["result"]["serverInfo"].is_object());
    // A call that runs until the jq sandbox's CPU limit ends it: in flight for seconds, and
    // the guard judges the next line only after passing this one on.
    let slow = r#"{"jsonrpc":"2.0","id":"same","method":"tools/call","params":{"name":"gitgate","arguments":{"tool":"git_status","jq":"last(range(1e18))"}}}"#;
    let quick = r#"{"jsonrpc":"2.0","id":"same","method":"tools/call","params":{"name":"gitgate","arguments":{"tool":"git_status"}}}"#;
    server.send(&format!("{slow}\n{quick}"));
    let refusal = server.answer();
    assert_eq!(refusal["id"], "same", "{refusal}");
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
    let why = refusal["error"]["message"].as_str().unwrap();
    assert!(why.contains("still running"), "{refusal}");
    // The first gets its own answer: the filter's limit, as a tool error.
    let first = server.answer();
    assert_eq!(first["id"], "same", "{first}");
    assert_eq!(first["result"]["isError"], true, "{first}");
    // Answered, so its id is free again; a number 7 and a string "7" are different ids.
    let numbered = quick.replace(r#""same""#, "7");
    let named = quick.replace(r#""same""#, r#""7""#);
    server.send(&format!("{quick}\n{numbered}\n{named}"));
    let mut ids: Vec<String> = (0..3)
        .map(|_| {
            let a = server.answer();
            assert_eq!(a["result"]["isError"], false, "{a}");
            a["id"].to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [r#""7""#, r#""same""#, "7"]);
    assert!(server.close().success());
}

/// Regression (load issue, item 10): a failure that repeats on every call (here the audit
/// mirror on a full disk: `/dev/full` fails every write with ENOSPC) wrote one ERROR line per
/// call. Now a cause writes a burst of a few lines and then at most one per ten seconds, while
/// every call is still served and audited.
#[test]
fn a_failure_on_every_call_writes_a_few_log_lines_not_one_per_call() {
    use std::io::Read;
    const CALLS: usize = 60;
    let env = Env::new();
    let mut server = RawStdio::spawn(&env, &["--audit-mirror", "/dev/full"], true);
    let mut stderr = server.child.stderr.take().unwrap();
    server.send(&format!("{INIT}\n{INITIALIZED}"));
    assert!(server.answer()["result"]["serverInfo"].is_object());
    for id in 0..CALLS {
        server.send(&STATUS.replace(r#""id":2"#, &format!(r#""id":{}"#, id + 10)));
        let a = server.answer();
        assert_eq!(a["result"]["isError"], false, "{a}");
    }
    assert!(server.close().success());
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    let lines = log
        .lines()
        .filter(|l| l.contains("audit mirror write failed"))
        .count();
    assert!((1..=5).contains(&lines), "{lines} mirror lines:\n{log}");
    // Written for a file, not a terminal: no colour escape codes.
    assert!(!log.contains('\u{1b}'), "{log}");
    // Every call is still in the chain, which verifies.
    let out = Command::new(BIN)
        .args(["audit", "--data-dir", &env.data_dir(), "verify"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
}

/// Load issue, item 3: stdin and stdout of every kind. A file in with a file out (a recorded
/// session replayed), and a socket both ways (as some supervisors and `socat` wire a child):
/// each serves the whole session and ends with status 0 at the end of input.
#[test]
fn a_file_or_a_socket_as_stdin_and_stdout_serve_a_whole_session() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;
    let env = Env::new();
    let serve = || {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--stdio", "--data-dir", &env.data_dir(), "--repo"])
            .arg(format!("app={}", env.repo.path().display()))
            .stderr(Stdio::null());
        command
    };
    // A file in, a file out.
    let in_path = env.data.path().join("stdin.jsonl");
    let out_path = env.data.path().join("stdout.jsonl");
    std::fs::write(&in_path, format!("{INIT}\n{INITIALIZED}\n{STATUS}\n")).unwrap();
    let status = serve()
        .stdin(std::fs::File::open(&in_path).unwrap())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let out = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        out.contains(r#""id":2"#) && out.contains("## main"),
        "{out}"
    );
    // One socket as both stdin and stdout.
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut child = serve()
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(
            theirs.try_clone().unwrap(),
        )))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    let mut writer = ours.try_clone().unwrap();
    let mut reader = BufReader::new(ours);
    let mut answer = || {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    writeln!(writer, "{INIT}").unwrap();
    assert!(answer()["result"]["serverInfo"].is_object());
    writeln!(writer, "{INITIALIZED}\n{STATUS}").unwrap();
    is_the_status_answer(&answer());
    writer.shutdown(std::net::Shutdown::Write).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// Load issue, item 3: a terminal as stdin and stdout (someone trying the server by hand, or
/// a supervisor that gives it a pty). util-linux `script` runs it on a pseudo-terminal; the
/// terminal echoes each request back, so the answers are picked out by their `result`.
#[test]
fn a_terminal_as_stdin_and_stdout_serves_a_whole_session() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let line = format!(
        "{BIN} serve --stdio --data-dir '{}' --repo 'app={}'",
        env.data_dir(),
        env.repo.path().display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut answer = || loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the terminal closed"
        );
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim())
            && (v.get("result").is_some() || v.get("error").is_some())
        {
            return v;
        }
    };
    writeln!(stdin, "{INIT}").unwrap();
    let a = answer();
    assert_eq!(a["id"], 1, "{a}");
    writeln!(stdin, "{INITIALIZED}\n{STATUS}").unwrap();
    is_the_status_answer(&answer());
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// `a` is the answer to [`STATUS`]: id 2, the status of the fixture's `main`.
fn is_the_status_answer(a: &serde_json::Value) {
    assert_eq!(a["id"], 2, "{a}");
    let text = a["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("## main"), "{a}");
}
