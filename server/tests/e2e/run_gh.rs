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
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GH_CONFIG_DIR", home)
        // gh caches run logs in $TMPDIR/gh-cli-cache by run id and time, which the seed fixes:
        // a shared /tmp would serve an earlier forge's logs (and inside the checkout the cache
        // would be an uncommitted change gh warns about).
        .env("TMPDIR", tmp.path())
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

/// Lines gh finishes with a non-zero status after printing (`gh pr checks` with a failed
/// check, `gh run view --exit-status` of a failed run) print the same, then that status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_exit_statuses_are_gh_statuses() {
    if !have_gh() {
        return;
    }
    let w = World::start_with(Some(CONFIG), Some(PUBLIC_URL)).await;
    let alice = w.client("alice").await;
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    for line in corpus("status") {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("{line}; echo \"[exit status $?]\""))
            .current_dir(home.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("GH_CONFIG_DIR", home.path())
            .env("TMPDIR", tmp.path())
            .env("GH_REPO", "acme/widgets")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .envs(w.forge.gh_env("alice"))
            .output()
            .unwrap();
        let expected = String::from_utf8(out.stdout).unwrap();
        let expected = expected.trim_end_matches('\n');
        assert!(
            !expected.ends_with("[exit status 0]"),
            "gh should fail: {line}"
        );
        let result = call(&alice, "gitgate", json!({ "run": line })).await;
        let got = text(&result);
        if result.is_error != Some(true) || got != expected {
            mismatches.push(format!("{line}\n--- gh\n{expected}\n--- gitgate\n{got}\n"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// What a repository's issues and pull requests are, for comparing two forges after the same
/// writes: every field a write can change, none that records when it happened.
async fn state_of(forge: &gitgate_forge::Handle) -> Vec<serde_json::Value> {
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    for path in [
        "/repos/acme/widgets/issues?state=all&per_page=100",
        "/repos/acme/widgets/pulls?state=all&per_page=100",
    ] {
        let page: serde_json::Value = http
            .get(format!("{}{path}", forge.base_url))
            .header("Authorization", format!("token {}", forge.token("alice")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for v in page.as_array().unwrap() {
            let names = |key: &str, field: &str| -> Vec<String> {
                v[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| x[field].as_str().unwrap_or("").to_owned())
                    .collect()
            };
            all.push(json!({
                "number": v["number"], "title": v["title"], "body": v["body"],
                "state": v["state"], "state_reason": v["state_reason"],
                "labels": names("labels", "name"), "assignees": names("assignees", "login"),
                "comments": v["comments"], "draft": v["draft"],
                "merged": !v["merged_at"].is_null(), "base": v["base"]["ref"], "head": v["head"]["ref"],
            }));
        }
    }
    // Releases and run attempts, which release create and run rerun change.
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("{}{path}", forge.base_url))
                .header("Authorization", format!("token {}", forge.token("alice")))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let releases = get("/repos/acme/widgets/releases?per_page=100").await;
    for r in releases.as_array().unwrap() {
        all.push(json!({
            "tag": r["tag_name"], "name": r["name"], "body": r["body"], "draft": r["draft"],
            "prerelease": r["prerelease"], "author": r["author"]["login"],
            "target": r["target_commitish"],
        }));
    }
    let runs = get("/repos/acme/widgets/actions/runs?per_page=100").await;
    for r in runs["workflow_runs"].as_array().unwrap() {
        all.push(
            json!({"run": r["id"], "attempt": r["run_attempt"], "conclusion": r["conclusion"]}),
        );
    }
    all
}

/// Every write line prints what gh prints and leaves the same state: gh on one freshly seeded
/// forge, gitgate on another seeded identically (each write changes its forge, so they cannot
/// share one). Outputs compare byte for byte (both forges name the same URLs and number things
/// alike); the end states compare on every field but times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_writes_print_and_change_what_gh_does() {
    if !have_gh() {
        return;
    }
    let w = World::start_with(Some(CONFIG), Some(PUBLIC_URL)).await;
    let alice = w.client("alice").await;
    let gh_dir = tempfile::tempdir().unwrap();
    let gh_forge = gitgate_forge::start(gitgate_forge::Config {
        data_dir: gh_dir.path().to_path_buf(),
        seed: Some("demo".into()),
        public_url: Some(PUBLIC_URL.into()),
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    // gh pr create reads the local checkout even when told the head: give it one whose
    // remote is the repository (gitgate has no checkout and needs none).
    for args in [
        &["init", "-q"][..],
        &[
            "remote",
            "add",
            "origin",
            "http://github.localhost/acme/widgets.git",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(home.path())
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let lines = corpus("writes");
    let mut mismatches = Vec::new();
    for line in &lines {
        let (ok, stdout, stderr) = real_gh(&gh_forge, "alice", home.path(), line);
        if !ok {
            mismatches.push(format!("{line}\n--- gh failed\n{stderr}"));
            continue;
        }
        let expected = format!("{stdout}{stderr}");
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
    let (by_gh, by_gitgate) = (state_of(&gh_forge).await, state_of(&w.forge).await);
    for (a, b) in by_gh.iter().zip(&by_gitgate) {
        assert_eq!(a, b, "the two forges differ after the writes");
    }
    assert_eq!(by_gh.len(), by_gitgate.len());
}

/// Governance holds for gh lines: each operation is decided as a call of its JSON tool and
/// audited as its own event under the run call's event, with the issue or pull request it
/// acted on; a user with only github:read is refused each write, operation by operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gh_operation_is_decided_and_audited_under_the_run_call() {
    let w = World::start_with(Some(CONFIG), Some(PUBLIC_URL)).await;
    let carol = w.client("carol").await;
    let run = |line: &'static str| {
        let carol = &carol;
        async move {
            let r = call(carol, "gitgate", json!({ "run": line })).await;
            (r.is_error == Some(true), text(&r))
        }
    };

    let (failed, said) =
        run("gh pr list -L 2 --json number --jq '.[].number' | xargs -n1 gh pr diff --name-only")
            .await;
    assert!(!failed, "{said}");
    assert_eq!(said, "src/valve.rs\nsrc/piston.rs\ntests/piston_test.rs\n");
    let events = w.env.audit().await;
    let parent = events
        .iter()
        .find(|e| e.tool == "gitgate" && e.user == "carol")
        .expect("the run call's event");
    let inner: Vec<_> = events
        .iter()
        .filter(|e| e.parent.as_deref() == Some(parent.id.as_str()))
        .map(|e| (e.tool.as_str(), e.decision.allowed, e.target.issue))
        .collect();
    assert_eq!(
        inner,
        [
            ("gh_pr_list", true, None),
            ("gh_pr_diff", true, Some(50)),
            ("gh_pr_diff", true, Some(45)),
        ]
    );

    // carol lacks github:write: each write of the line is refused by policy on its own.
    let (failed, said) =
        run("gh issue list -L 1 --json number; gh issue close 1; gh pr merge 20 --merge").await;
    assert!(failed && said.ends_with("[exit status 1]"), "{said}");
    assert!(said.contains("lacks scope github:write"), "{said}");
    assert!(said.contains("lacks scope github:merge"), "{said}");
    assert!(said.starts_with("[{\"number\":49}]\n"), "{said}");
    let events = w.env.audit().await;
    let parent = events
        .iter()
        .filter(|e| e.tool == "gitgate" && e.user == "carol")
        .find(|e| e.arguments.to_string().contains("gh issue close 1"))
        .expect("the second run call's event");
    let inner: Vec<_> = events
        .iter()
        .filter(|e| e.parent.as_deref() == Some(parent.id.as_str()))
        .map(|e| (e.tool.as_str(), e.decision.rule.as_str(), e.target.issue))
        .collect();
    assert_eq!(
        inner,
        [
            ("gh_issue_list", "scope:github:read;grant:acme/*", None),
            (
                "gh_issue_edit",
                "denied:missing-scope:github:write",
                Some(1)
            ),
            ("gh_pr_merge", "denied:missing-scope:github:merge", Some(20)),
        ]
    );
    let issue = w.oracle("/repos/acme/widgets/issues/1").await;
    assert_eq!(issue["state"], "open", "a refused close changed nothing");

    // Intended difference 1: without -R, a command acts on the configured default repository.
    let (failed, said) = run("gh repo view --json nameWithOwner --jq .nameWithOwner").await;
    assert!(!failed, "{said}");
    assert_eq!(said, "acme/widgets\n");
    // Intended difference 2: fields gitgate does not serve are refused, naming those it does.
    let (failed, said) = run("gh issue list --json projectCards").await;
    assert!(
        failed && said.contains("Available fields:\n  assignees"),
        "{said}"
    );
    // Unknown commands and flags name what gitgate runs.
    for (line, says) in [
        ("gh isue list", "nearest: issue"),
        ("gh pr lst", "nearest: list"),
        (
            "gh issue list --web",
            "unknown flag: --web\ngitgate supports for gh issue list: -L/--limit VALUE",
        ),
        ("gh api /user", "'user' is outside them"),
        (
            "gh api repos/acme/widgets/issues -X POST",
            "gitgate runs GET only, not POST",
        ),
        (
            "gh api repos/acme/widgets/issues -f title=x",
            "fields and --input",
        ),
        (
            "gh api repos/other/repo",
            "carol has no grant for repository other/repo (gh_api)",
        ),
    ] {
        let (failed, said) = run(line).await;
        assert!(failed && said.contains(says), "{line}: {said}");
        assert!(said.ends_with("[exit status 1]"), "{line}: {said}");
    }
}

/// The JSON tools the issue asked for: a pull request edited, closed and reopened by a tool
/// named for pull requests; its commits as a list; a GET inside a granted repository, with
/// paths out of it refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_edit_commits_and_api_tools() {
    let w = World::start_with(Some("[github]\ndefault_repo = \"acme/widgets\"\n"), None).await;
    let alice = w.client("alice").await;
    let edited = crate::github::ok(
        &alice,
        "gh_pr_edit",
        json!({"number": 40, "title": "Gasket, renamed", "add_label": ["bug"], "state": "closed"}),
    )
    .await;
    assert!(edited.ends_with("/acme/widgets/pull/40"), "{edited}");
    let back = w.oracle("/repos/acme/widgets/pulls/40").await;
    assert_eq!(
        (
            back["title"].as_str(),
            back["state"].as_str(),
            back["labels"][0]["name"].as_str()
        ),
        (Some("Gasket, renamed"), Some("closed"), Some("bug"))
    );
    crate::github::ok(&alice, "gh_pr_edit", json!({"number": 40, "state": "open"})).await;
    assert_eq!(
        w.oracle("/repos/acme/widgets/pulls/40").await["state"],
        "open"
    );

    let commits = crate::github::ok(&alice, "gh_pr_commits", json!({"number": 45})).await;
    let oracle = w.oracle("/repos/acme/widgets/pulls/45/commits").await;
    let expected: Vec<String> = oracle
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                &c["sha"].as_str().unwrap()[..7],
                c["commit"]["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(commits, expected.join("\n"));

    let body = crate::github::ok(&alice, "gh_api", json!({"path": "issues/1"})).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["number"], 1);
    for (args, says) in [
        (
            json!({"path": "../../users/alice"}),
            "'.' and '..' are not accepted",
        ),
        (
            json!({"path": "issues", "query": {"q": "x"}}),
            "query parameter 'q' is not passed on",
        ),
        (
            json!({"repo": "other/repo", "path": ""}),
            "no grant for repository other/repo",
        ),
    ] {
        let said = crate::github::err(&alice, "gh_api", args.clone()).await;
        assert!(said.contains(says), "{args}: {said}");
    }
}

/// Intended difference 5: `gh api --paginate` reads at most 10 pages and says so (gh reads
/// them all); within the bound every page is read (the corpus compares those with gh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_paginate_is_bounded() {
    let w = World::start_with(Some(CONFIG), Some(PUBLIC_URL)).await;
    let alice = w.client("alice").await;
    // 50 issues and pull requests, one a page: 50 pages.
    let line =
        "gh api --paginate 'repos/acme/widgets/issues?per_page=1&state=all' --jq '.[].number'";
    let result = call(&alice, "gitgate", json!({ "run": line })).await;
    let said = text(&result);
    assert_eq!(result.is_error, Some(true), "{said}");
    assert!(said.contains("at most 10 pages"), "{said}");
    let line =
        "gh api --paginate 'repos/acme/widgets/issues?per_page=5&state=all' --jq '.[].number'";
    let result = call(&alice, "gitgate", json!({ "run": line })).await;
    assert_eq!(text(&result).lines().count(), 50, "{}", text(&result));
}
