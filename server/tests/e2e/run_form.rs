//! The run form against the real git, byte for byte (issue "Speak git and gh", item 3): every
//! line of `run_corpus/git.txt` runs through `bash -c` in a repository and through gitgate's
//! `{"run": ...}` over MCP on the same repository; the outputs must be equal.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{Env, Session, text};

/// Runs git in `dir` with a clean configuration and fixed dates.
fn git(dir: &Path, args: &[&str], date: &str, author: (&str, &str)) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_NAME", author.0)
        .env("GIT_AUTHOR_EMAIL", author.1)
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A history with what the formats must get right: several authors and time zones, bodies
/// with blank lines, a side branch merged with a merge commit, files in directories.
pub fn rich_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ada = ("Ada Lovelace", "ada@example.com");
    let grace = ("Grace Hopper", "grace@example.org");
    let write = |path: &str, text: &str| {
        let p = d.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    git(d, &["init", "-q", "-b", "main"], "1704067200 +0000", ada);
    write("README.md", "hello\n");
    git(d, &["add", "-A"], "1704067200 +0000", ada);
    git(
        d,
        &["commit", "-q", "-m", "first commit"],
        "1704067200 +0000",
        ada,
    );
    write("src/lib.rs", "pub fn one() {}\n");
    git(d, &["add", "-A"], "1706745600 +0100", grace);
    git(
        d,
        &[
            "commit",
            "-q",
            "-m",
            "Add the library\n\nIt has one function.\n\nMore later.",
        ],
        "1706745600 +0100",
        grace,
    );
    write("docs/guide.md", "# Guide\n");
    git(d, &["add", "-A"], "1709251200 -0500", ada);
    git(
        d,
        &[
            "commit",
            "-q",
            "-m",
            "docs: a guide\nwith a wrapped subject line",
        ],
        "1709251200 -0500",
        ada,
    );
    git(
        d,
        &["switch", "-q", "-c", "feature"],
        "1709251200 -0500",
        ada,
    );
    write("src/lib.rs", "pub fn one() {}\npub fn two() {}\n");
    git(
        d,
        &["commit", "-q", "-am", "feature: two\n\nFixes #3."],
        "1710000000 +0530",
        grace,
    );
    write("src/extra.rs", "// extra\n");
    git(d, &["add", "-A"], "1710100000 +0530", grace);
    git(
        d,
        &["commit", "-q", "-m", "feature: extra file"],
        "1710100000 +0530",
        grace,
    );
    git(d, &["switch", "-q", "main"], "1710200000 +0000", ada);
    write("README.md", "hello\nworld\n");
    git(
        d,
        &["commit", "-q", "-am", "fix: the readme"],
        "1710200000 +0000",
        ada,
    );
    git(
        d,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge branch 'feature'",
            "feature",
        ],
        "1711929600 +0200",
        ada,
    );
    write("docs/guide.md", "# Guide\n\nUse it.\n");
    git(
        d,
        &["commit", "-q", "-am", "docs: use it"],
        "1714521600 +0000",
        grace,
    );
    dir
}

fn real(dir: &Path, line: &str) -> String {
    #[allow(clippy::disallowed_methods)]
    let out = Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every corpus line prints the same through gitgate as through git.
#[tokio::test]
async fn git_lines_print_what_git_prints() {
    let mut env = Env::new();
    env.repo = rich_repo();
    let session = Session::stdio(&env, &["--lean"]).await;
    let corpus = include_str!("run_corpus/git.txt");
    let mut lines = 0;
    let mut mismatches = Vec::new();
    for line in corpus
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        lines += 1;
        let expected = real(env.repo.path(), line);
        let result = session.call("gitgate", json!({ "run": line })).await;
        let got = text(&result);
        if result.is_error == Some(true) || got != expected {
            mismatches.push(format!("{line}\n--- git\n{expected}--- gitgate\n{got}\n"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {lines} lines differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
