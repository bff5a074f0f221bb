//! The stdio transport with standard streams of every kind: pipes (as MCP clients spawn us),
//! and a pipe in with a file out.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{BIN, Env};

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
