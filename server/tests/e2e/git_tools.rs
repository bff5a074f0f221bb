//! JSON git tools that share their backend with the run form, against plain git on the same
//! repository: `git_merge_base`, and `git_log` with `patch`, `stat` and `name_only`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{Env, Session, text};
use crate::run_form::rich_repo;

/// What `git ARGS` prints in `dir`.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `text` without blank lines and without the trailing "... N more" line: git separates a
/// commit's line from its changes by a blank line, git_log does not.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("... "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn merge_base_and_log_changes_are_gits() {
    let mut env = Env::new();
    env.repo = rich_repo();
    let dir = env.repo.path().to_owned();
    let session = Session::stdio(&env, &[]).await;

    let base = session
        .call("git_merge_base", json!({ "a": "main", "b": "feature" }))
        .await;
    assert_ne!(base.is_error, Some(true), "{}", text(&base));
    assert_eq!(
        text(&base),
        git(&dir, &["merge-base", "main", "feature"]).trim_end()
    );

    let format = "--format=%h %ad %an %s";
    for (option, flag) in [
        ("patch", "-p"),
        ("stat", "--stat"),
        ("name_only", "--name-only"),
    ] {
        let got = session
            .call("git_log", json!({ "max_count": 4, option: true }))
            .await;
        assert_ne!(got.is_error, Some(true), "{option}: {}", text(&got));
        let want = git(&dir, &["log", "-n", "4", format, "--date=short", flag]);
        assert_eq!(
            lines(&text(&got)),
            lines(&want),
            "git_log {option} vs git log {flag}"
        );
        // Each option prints something under the commit lines.
        assert!(
            lines(&want).len() > 4,
            "{flag} printed nothing under the commits"
        );
    }

    let both = session
        .call("git_log", json!({ "patch": true, "stat": true }))
        .await;
    assert_eq!(both.is_error, Some(true), "{}", text(&both));
}
