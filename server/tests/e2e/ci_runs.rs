//! The CI loop through MCP against the forge (issue "The whole agent loop", items 2 and 3):
//! see a pull request's checks fail, read why from the failed step's log, push a fix, see the
//! new run pass; re-runs under write scope. The forge's CI is deterministic: a `todo!()` in the
//! tree fails the test job (the demo seed's open pull request #50 has one).
#![allow(clippy::disallowed_methods)] // The real git pushes the fix.

use std::process::Command;

use serde_json::json;

use crate::github::{REPO, World, err, ok};

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bob")
        .env("GIT_AUTHOR_EMAIL", "bob@example.com")
        .env("GIT_COMMITTER_NAME", "Bob")
        .env("GIT_COMMITTER_EMAIL", "bob@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_its_log_a_fix_and_a_green_run() {
    let w = World::start(None).await;
    let alice = w.client("alice").await;

    // The seeded runs: one per open pull request, the valve one failing.
    let runs = ok(&alice, "gh_run_list", json!({"repo": REPO})).await;
    assert_eq!(runs.lines().count(), 4, "{runs}");
    let failing: Vec<&str> = runs.lines().filter(|l| l.contains("\tfailure\t")).collect();
    assert_eq!(failing.len(), 1, "{runs}");
    assert!(
        failing[0].contains("\tCI\tfeature/valve-10\tpull_request\t"),
        "{runs}"
    );
    let run_id: u64 = failing[0].rsplit('\t').next().unwrap().parse().unwrap();

    let checks = ok(&alice, "gh_pr_checks", json!({"repo": REPO, "number": 50})).await;
    assert!(checks.starts_with("test\tfail\t1m5s\thttp"), "{checks}");
    let green = ok(&alice, "gh_pr_checks", json!({"repo": REPO, "number": 20})).await;
    assert!(green.starts_with("test\tpass\t"), "{green}");

    // Why it failed: the run's steps, then the failed step's log, bounded.
    let view = ok(
        &alice,
        "gh_run_view",
        json!({"repo": REPO, "run_id": run_id}),
    )
    .await;
    assert!(view.contains("X Run cargo test --locked"), "{view}");
    assert!(view.contains("✓ Run actions/checkout@v4"), "{view}");
    assert!(view.ends_with("pass log_failed=true"), "{view}");
    let log = ok(
        &alice,
        "gh_run_view",
        json!({"repo": REPO, "run_id": run_id, "log_failed": true, "log_lines": 12}),
    )
    .await;
    assert!(log.contains("test\t"), "{log}");
    assert!(log.contains("panicked at src/valve.rs:7:9:"), "{log}");
    assert!(log.contains("not yet implemented"), "{log}");
    assert!(
        log.contains("earlier log lines of test; pass log_lines=48"),
        "{log}"
    );

    // The fix, pushed with the real git as bob: a new run on the new head, green.
    let clone = tempfile::tempdir().unwrap();
    let url = w.forge.clone_url("acme", "widgets", "bob");
    git(
        clone.path(),
        &["clone", "-q", "-b", "feature/valve-10", &url, "."],
    );
    std::fs::write(
        clone.path().join("src/valve.rs"),
        "//! The valve.\n\npub struct Valve;\n\nimpl Valve {\n    pub fn open(&self) -> bool {\n        true\n    }\n}\n",
    )
    .unwrap();
    git(clone.path(), &["commit", "-q", "-am", "valve: open"]);
    git(clone.path(), &["push", "-q", "origin", "feature/valve-10"]);
    let after = ok(&alice, "gh_pr_checks", json!({"repo": REPO, "number": 50})).await;
    assert!(after.starts_with("test\tpass\t"), "{after}");
    let runs = ok(
        &alice,
        "gh_run_list",
        json!({"repo": REPO, "branch": "feature/valve-10"}),
    )
    .await;
    assert_eq!(runs.lines().count(), 2, "{runs}");
    assert!(
        runs.lines()
            .next()
            .unwrap()
            .starts_with("completed\tsuccess\t"),
        "{runs}"
    );

    // Re-running needs github:write; the re-run is the same deterministic job.
    let carol = w.client("carol").await;
    let denied = err(
        &carol,
        "gh_run_rerun",
        json!({"repo": REPO, "run_id": run_id}),
    )
    .await;
    assert!(denied.contains("github:write"), "{denied}");
    let bob = w.client("bob").await;
    let rerun = ok(
        &bob,
        "gh_run_rerun",
        json!({"repo": REPO, "run_id": run_id}),
    )
    .await;
    assert_eq!(rerun, format!("Requested rerun of run {run_id}"));
    let again = w
        .oracle(&format!("/repos/acme/widgets/actions/runs/{run_id}"))
        .await;
    assert_eq!(again["run_attempt"], 2);
    assert_eq!(again["conclusion"], "failure");
    // Opening a pull request runs CI on its head (a pull_request event).
    let created = ok(
        &bob,
        "gh_pr_create",
        json!({"repo": REPO, "head": "feature/dial-2", "base": "main", "title": "Dial again"}),
    )
    .await;
    let number: u64 = created
        .rsplit('/')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .expect("a pull request URL");
    let fresh = ok(
        &alice,
        "gh_pr_checks",
        json!({"repo": REPO, "number": number}),
    )
    .await;
    assert!(fresh.starts_with("test\tpass\t"), "{fresh}");
    // Unknown runs are not found, said as such.
    let missing = err(
        &alice,
        "gh_run_view",
        json!({"repo": REPO, "run_id": 999_999}),
    )
    .await;
    assert!(missing.contains("not found"), "{missing}");
}
