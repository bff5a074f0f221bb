//! `gh` in the run form against the real gh 2.23, byte for byte (issue "Speak git and gh", the
//! gh half): every line of `run_corpus/gh.txt` runs through `bash -c` with the real gh and
//! through gitgate's `{"run": ...}` over MCP, both against the SAME seeded forge (reads change
//! nothing, so one forge serves both and times, ids and URLs agree). The forge names its URLs
//! `http://github.localhost` for both, as it does for gh's proxied requests.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::github::{World, call};
use crate::harness::text;

/// Whether the real gh is here; under CI its absence is a failure (scripts/test.sh installs it).
pub fn have_gh() -> bool {
    let present = Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        present || std::env::var_os("CI").is_none(),
        "gh is not installed; run scripts/test.sh (it installs the Debian package gh)"
    );
    present
}

/// The server configuration: lean (the run form), acme/widgets the default repository.
pub const CONFIG: &str = "lean = true\n[github]\ndefault_repo = \"acme/widgets\"\n";
pub const PUBLIC_URL: &str = "http://github.localhost";

/// Runs `line` through bash with the real gh as `login`, its repository acme/widgets; returns
/// the status and what it printed (stdout, then stderr, as a shell tool shows them).
pub fn real_gh(
    forge: &gitgate_forge::Handle,
    login: &str,
    home: &Path,
    line: &str,
) -> (bool, String, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GH_CONFIG_DIR", home)
        .env("GH_REPO", "acme/widgets")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .envs(forge.gh_env(login))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn corpus(section: &str) -> Vec<&'static str> {
    let all = include_str!("run_corpus/gh.txt");
    let mut in_section = false;
    let mut lines = Vec::new();
    for line in all.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            in_section = name.trim() == section;
        } else if in_section && !line.is_empty() && !line.starts_with('#') {
            lines.push(line);
        }
    }
    lines
}

/// Every read line prints the same through gitgate as through gh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_reads_print_what_gh_prints() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let w = World::start_with(Some(CONFIG), Some(PUBLIC_URL)).await;
    let alice = w.client("alice").await;
    let home = tempfile::tempdir().unwrap();
    let lines = corpus("reads");
    let mut mismatches = Vec::new();
    for line in &lines {
        let (ok, expected, stderr) = real_gh(&w.forge, "alice", home.path(), line);
        if !ok || !stderr.is_empty() {
            mismatches.push(format!("{line}\n--- gh failed\n{stderr}"));
            continue;
        }
        let result = call(&alice, "gitgate", json!({ "run": line })).await;
        let got = text(&result);
        if result.is_error == Some(true) || got != expected {
            mismatches.push(format!("{line}\n--- gh\n{expected}--- gitgate\n{got}\n"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} lines differ:\n{}",
        mismatches.len(),
        lines.len(),
        mismatches.join("\n")
    );
}

/// Lines gh refuses are refused by gitgate too, with gh's message first and status 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_errors_read_as_gh_errors() {
    if !have_gh() {
        return;
    }
    let w = World::start_with(Some(CONFIG), Some(PUBLIC_URL)).await;
    let alice = w.client("alice").await;
    let home = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    for line in corpus("errors") {
        let (ok, _, stderr) = real_gh(&w.forge, "alice", home.path(), line);
        assert!(!ok, "gh should fail: {line}");
        let first = stderr.lines().next().unwrap_or("");
        let result = call(&alice, "gitgate", json!({ "run": line })).await;
        let got = text(&result);
        if result.is_error != Some(true)
            || !got.starts_with(first)
            || !got.ends_with("[exit status 1]")
        {
            mismatches.push(format!("{line}\n--- gh\n{stderr}--- gitgate\n{got}\n"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
