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
    for (name, at) in [
        ("v0.1", "HEAD~4"),
        ("v0.2", "HEAD~1"),
        ("release-1", "HEAD"),
    ] {
        git(d, &["tag", name, at], "1714521600 +0000", grace);
    }
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

async fn run_call(client: &crate::harness::Client, line: &str) -> (bool, String) {
    let serde_json::Value::Object(args) = json!({ "run": line }) else {
        unreachable!()
    };
    let r = client
        .call_tool(rmcp::model::CallToolRequestParams::new("gitgate").with_arguments(args))
        .await
        .unwrap();
    (r.is_error == Some(true), text(&r))
}

/// Governance holds for command lines: each git operation of a line is checked by policy as
/// a call of its JSON tool and audited as its own event under the run call's event; shell
/// constructs and other programs are refused with what is supported.
#[tokio::test]
async fn each_operation_of_a_line_is_decided_and_audited_under_the_run_call() {
    let env = Env::new();
    let alice = env.user("alice", "git:read", &["app"]).await;
    let mallory = env.user("mallory", "github:read", &["app"]).await;
    let server = crate::harness::spawn_http(&env, &["--lean"]);
    let a = crate::harness::connect_http(&server.url, &alice)
        .await
        .unwrap();
    let m = crate::harness::connect_http(&server.url, &mallory)
        .await
        .unwrap();

    let line =
        "git log --format=%h -n 2 | xargs -n1 git log -n1 --format=%s && git branch --show-current";
    let (is_error, said) = run_call(&a, line).await;
    assert!(!is_error, "{said}");
    assert_eq!(said, "second commit\nfirst commit\nmain\n");

    let events = env.audit().await;
    let run = events
        .iter()
        .find(|e| e.tool == "gitgate" && e.user == "alice")
        .expect("the run call's event");
    let inner: Vec<_> = events
        .iter()
        .filter(|e| e.parent.as_deref() == Some(run.id.as_str()))
        .map(|e| (e.tool.as_str(), e.decision.allowed))
        .collect();
    assert_eq!(
        inner,
        [
            ("git_log", true),
            ("git_log", true),
            ("git_log", true),
            ("git_branches", true)
        ]
    );
    // The run event records the line (redacted like any argument).
    assert!(
        run.arguments.to_string().contains("xargs -n1"),
        "{:?}",
        run.arguments
    );

    // Intended difference 6: shortlog without a revision summarises HEAD (git would read a
    // log from its standard input, which in an agent's shell is empty).
    let (is_error, said) = run_call(&a, "git shortlog -sn").await;
    assert!(!is_error, "{said}");
    assert_eq!(said, "     2\tFixture\n");

    // mallory lacks git:read: the operation is refused by policy, as the JSON tool would be.
    let (is_error, said) = run_call(&m, "git log --oneline").await;
    assert!(is_error, "{said}");
    assert!(said.contains("lacks scope git:read"), "{said}");
    assert!(said.ends_with("[exit status 128]"), "{said}");
    let denied = env
        .audit()
        .await
        .into_iter()
        .filter(|e| e.user == "mallory" && e.tool == "git_log")
        .map(|e| e.decision.rule)
        .collect::<Vec<_>>();
    assert_eq!(denied, ["denied:missing-scope:git:read"]);

    for (line, says) in [
        ("git log > /tmp/x", "redirection is not supported"),
        ("git log $(id)", "command substitution"),
        ("cat /etc/passwd", "reads the previous command's output"),
        (
            "git log | cat /etc/passwd",
            "file arguments such as '/etc/passwd' are not supported",
        ),
        ("curl http://x", "curl: not supported"),
        ("git log | sh", "sh: not supported"),
        ("git log | xargs rm", "runs only git and gh"),
        ("git push", "nearest"),
    ] {
        let (is_error, said) = run_call(&a, line).await;
        assert!(is_error, "{line}: {said}");
        assert!(said.contains(says), "{line}: {said}");
    }
}

/// A worktree with staged, unstaged, deleted, renamed and untracked changes: `git status` in
/// every supported form prints what git prints.
#[tokio::test]
async fn status_lines_print_what_git_prints() {
    let mut env = Env::new();
    env.repo = rich_repo();
    let d = env.repo.path();
    let author = ("Ada Lovelace", "ada@example.com");
    std::fs::write(d.join("README.md"), "changed\n").unwrap();
    std::fs::write(d.join("new.txt"), "new\n").unwrap();
    git(d, &["add", "new.txt"], "1714521600 +0000", author);
    std::fs::remove_file(d.join("src/extra.rs")).unwrap();
    git(
        d,
        &["mv", "docs/guide.md", "docs/manual.md"],
        "1714521600 +0000",
        author,
    );
    std::fs::write(d.join("notes.txt"), "n\n").unwrap();
    std::fs::create_dir_all(d.join("scratch/deep")).unwrap();
    std::fs::write(d.join("scratch/deep/a.txt"), "a\n").unwrap();
    let session = Session::stdio(&env, &["--lean"]).await;
    let mut mismatches = Vec::new();
    let lines = [
        "git status",
        "git status -s",
        "git status --short",
        "git status -sb",
        "git status -s -b",
        "git status --porcelain",
        "git status --porcelain -b",
        "git status -s -- docs",
        "git status -- src",
        "git status -s | wc -l",
        "git diff",
        "git diff --stat",
        "git diff --name-only",
        "git diff --name-status",
        "git diff --cached",
        "git diff --staged --stat",
        "git diff --cached --name-status",
        "git diff HEAD",
        "git diff HEAD --stat",
        "git diff -- README.md",
    ];
    for line in lines {
        let expected = real(d, line);
        let result = session.call("gitgate", json!({ "run": line })).await;
        let got = text(&result);
        if result.is_error == Some(true) || got != expected {
            mismatches.push(format!("{line}\n--- git\n{expected}--- gitgate\n{got}\n"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
