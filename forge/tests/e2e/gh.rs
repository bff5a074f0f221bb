//! The real gh CLI (Debian's 2.23) against the in-process forge: GH_HOST=github.localhost and
//! HTTP_PROXY pointing at the forge, so gh's REST and GraphQL calls arrive as proxy requests.
//! Every command's output is checked against what the seed implies, and its writes are read
//! back through REST. Skips (with a message) when gh is not installed.
#![allow(clippy::disallowed_methods)] // Spawning gh is the point of these tests.

use std::path::Path;

use serde_json::Value;

use crate::{Forge, get, json, start};

/// Whether the real gh is here. Under CI (`CI` set) its absence is a failure, not a skip:
/// `scripts/test.sh` installs it, so a missing gh there means these tests silently test nothing.
fn have_gh() -> bool {
    let present = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        present || std::env::var_os("CI").is_none(),
        "gh is not installed; run scripts/test.sh (it installs the Debian package gh)"
    );
    present
}

async fn gh(f: &Forge, login: &str, args: &[&str]) -> (bool, String, String) {
    gh_in(f, login, args, None).await
}

async fn gh_in(
    f: &Forge,
    login: &str,
    args: &[&str],
    cwd: Option<&Path>,
) -> (bool, String, String) {
    let config = tempfile::tempdir().expect("config dir");
    let mut cmd = tokio::process::Command::new("gh");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", config.path())
        .env("GH_CONFIG_DIR", config.path())
        // gh caches run logs in $TMPDIR by run id and time, which the seed fixes.
        .env("TMPDIR", config.path())
        .envs(f.handle.gh_env(login))
        .output()
        .await
        .expect("gh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs gh and checks that stdout contains every expected fragment.
async fn check(f: &Forge, login: &str, args: &[&str], expected: &[&str]) -> String {
    let (ok, out, err) = gh(f, login, args).await;
    assert!(ok, "gh {args:?} failed: {err}\n{out}");
    for e in expected {
        assert!(
            out.contains(e),
            "gh {args:?}: expected {e:?} in\n{out}\nstderr: {err}"
        );
    }
    out
}

async fn issue(f: &Forge, n: u32) -> Value {
    json(
        &get(f, "alice", &format!("/repos/acme/widgets/issues/{n}"))
            .await
            .2,
    )
}

const R: &str = "acme/widgets";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_reads_issues_prs_and_repo() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    check(
        &f,
        "alice",
        &["issue", "list", "-R", R],
        &["1\tOPEN\tAdd a dial option to the widget builder\tdocumentation"],
    )
    .await;
    let bugs = check(
        &f,
        "alice",
        &["issue", "list", "-R", R, "-l", "bug", "--state", "all"],
        &["14\tOPEN"],
    )
    .await;
    assert!(bugs.lines().all(|l| l.contains("bug")), "{bugs}");
    check(
        &f,
        "alice",
        &["issue", "view", "3", "-R", R],
        &[
            "title:\tQuestion: can a spring drive a sprocket?",
            "state:\tCLOSED",
            "comments:\t3",
        ],
    )
    .await;
    check(
        &f,
        "alice",
        &["issue", "view", "2", "-R", R, "--comments"],
        &["Comment 2 on #2: I looked at the lever."],
    )
    .await;
    check(
        &f,
        "alice",
        &["pr", "list", "-R", R],
        &[
            "20\tAdd the spring module\tfeature/spring-4\tOPEN",
            "45\tAdd the piston module\tfeature/piston-9\tDRAFT",
        ],
    )
    .await;
    check(
        &f,
        "alice",
        &["pr", "list", "-R", R, "--state", "merged"],
        &["5\tAdd the knob module\tfeature/knob-1\tMERGED"],
    )
    .await;
    check(
        &f,
        "alice",
        &["pr", "view", "20", "-R", R],
        &[
            "title:\tAdd the spring module",
            "state:\tOPEN",
            "reviewers:\tcarol (Changes requested)",
            "additions:\t3",
        ],
    )
    .await;
    let (_, _, rest_diff) = crate::send(
        &f,
        reqwest::Method::GET,
        "alice",
        "/repos/acme/widgets/pulls/20",
        None,
        Some("application/vnd.github.diff"),
    )
    .await;
    let diff = check(
        &f,
        "alice",
        &["pr", "diff", "20", "-R", R],
        &["diff --git a/src/spring.rs b/src/spring.rs"],
    )
    .await;
    assert_eq!(diff.trim_end(), rest_diff.trim_end());
    check(
        &f,
        "alice",
        &["repo", "view", R],
        &[
            "name:\tacme/widgets",
            "description:\tWidgets, gears and sprockets",
            "# widgets",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_issue_writes_show_up_in_rest() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    check(
        &f,
        "bob",
        &[
            "issue",
            "create",
            "-R",
            R,
            "-t",
            "Sprocket squeaks",
            "-b",
            "Loudly.",
        ],
        &["/acme/widgets/issues/51"],
    )
    .await;
    let created = issue(&f, 51).await;
    assert_eq!(
        (created["title"].as_str(), created["user"]["login"].as_str()),
        (Some("Sprocket squeaks"), Some("bob"))
    );

    check(
        &f,
        "carol",
        &["issue", "comment", "51", "-R", R, "-b", "Me too"],
        &["#issuecomment-"],
    )
    .await;
    let (_, _, comments) = get(&f, "alice", "/repos/acme/widgets/issues/51/comments").await;
    assert_eq!(json(&comments)[0]["user"]["login"], "carol");

    check(&f, "alice", &["issue", "close", "51", "-R", R], &[]).await;
    let closed = issue(&f, 51).await;
    assert_eq!(
        (
            closed["state"].as_str(),
            closed["closed_by"]["login"].as_str()
        ),
        (Some("closed"), Some("alice"))
    );
    check(&f, "alice", &["issue", "reopen", "51", "-R", R], &[]).await;
    assert_eq!(issue(&f, 51).await["state"], "open");

    check(
        &f,
        "alice",
        &[
            "issue",
            "edit",
            "51",
            "-R",
            R,
            "--title",
            "Sprocket squeaks loudly",
            "--add-label",
            "bug",
            "--add-assignee",
            "carol",
        ],
        &[],
    )
    .await;
    let edited = issue(&f, 51).await;
    assert_eq!(edited["title"], "Sprocket squeaks loudly");
    assert_eq!(edited["labels"][0]["name"], "bug");
    assert_eq!(edited["assignees"][0]["login"], "carol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_pr_merge_comment_create() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    check(
        &f,
        "carol",
        &["pr", "comment", "40", "-R", R, "-b", "Ship it"],
        &["/acme/widgets/pull/40#issuecomment-"],
    )
    .await;
    check(
        &f,
        "alice",
        &["pr", "merge", "20", "-R", R, "--squash"],
        &[],
    )
    .await;
    let pull = json(&get(&f, "alice", "/repos/acme/widgets/pulls/20").await.2);
    assert_eq!(pull["merged"], true);
    assert_eq!(pull["merged_by"]["login"], "alice");
    let main = json(
        &get(&f, "alice", "/repos/acme/widgets/commits?per_page=1")
            .await
            .2,
    );
    assert_eq!(main[0]["sha"], pull["merge_commit_sha"]);
    assert_eq!(main[0]["commit"]["message"], "Add the spring module (#20)");

    // A closed pull request's branch can be proposed again.
    check(
        &f,
        "bob",
        &[
            "pr",
            "create",
            "-R",
            R,
            "-t",
            "Dial, again",
            "-b",
            "Second try",
            "-H",
            "feature/dial-2",
            "-B",
            "main",
        ],
        &["/acme/widgets/pull/51"],
    )
    .await;
    let created = json(&get(&f, "alice", "/repos/acme/widgets/pulls/51").await.2);
    assert_eq!(
        (
            created["user"]["login"].as_str(),
            created["head"]["ref"].as_str()
        ),
        (Some("bob"), Some("feature/dial-2"))
    );
}

/// Plain git through the forge as an HTTP proxy, the way gh users reach github.localhost.
fn git(proxy: &str, dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("http_proxy", proxy)
        .env("GIT_AUTHOR_NAME", "Carol Danvers")
        .env("GIT_AUTHOR_EMAIL", "carol@acme.example")
        .env("GIT_COMMITTER_NAME", "Carol Danvers")
        .env("GIT_COMMITTER_EMAIL", "carol@acme.example")
        .env("GIT_AUTHOR_DATE", "2024-02-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-02-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_inside_a_clone_finds_the_repository() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    let work = tempfile::tempdir().expect("work");
    let with_token = format!(
        "http://x:{}@github.localhost/acme/widgets.git",
        f.token("carol")
    );
    let proxy = f.handle.base_url.clone();
    let clone = work.path().join("widgets");
    let (w, c) = (work.path().to_path_buf(), clone.clone());
    // git blocks; keep it off the runtime's workers, which serve the forge.
    tokio::task::spawn_blocking(move || {
        git(&proxy, &w, &["clone", "-q", &with_token, "widgets"]);
        git(
            &proxy,
            &c,
            &[
                "remote",
                "set-url",
                "origin",
                "http://github.localhost/acme/widgets.git",
            ],
        );
        git(&proxy, &c, &["checkout", "-q", "-b", "feature/ratchet"]);
        std::fs::write(c.join("src/ratchet.rs"), "//! Ratchets.\n").expect("write");
        git(&proxy, &c, &["add", "."]);
        git(&proxy, &c, &["commit", "-q", "-m", "ratchet: add"]);
        git(&proxy, &c, &["push", "-q", &with_token, "HEAD"]);
    })
    .await
    .expect("git");

    let (ok, out, err) = gh_in(
        &f,
        "carol",
        &["issue", "list", "--limit", "1"],
        Some(&clone),
    )
    .await;
    assert!(ok && out.starts_with("49\tOPEN"), "{out}{err}");
    let (ok, out, err) = gh_in(
        &f,
        "carol",
        &[
            "pr",
            "create",
            "-t",
            "Ratchets",
            "-b",
            "New part",
            "-H",
            "feature/ratchet",
            "-B",
            "main",
        ],
        Some(&clone),
    )
    .await;
    assert!(ok && out.contains("/acme/widgets/pull/51"), "{out}{err}");
    let files = json(
        &get(&f, "alice", "/repos/acme/widgets/pulls/51/files")
            .await
            .2,
    );
    assert_eq!(files[0]["filename"], "src/ratchet.rs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_pr_review_close_reopen_and_issue_delete() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    check(
        &f,
        "bob",
        &["pr", "review", "40", "-R", R, "--approve"],
        &[],
    )
    .await;
    let (ok, _, err) = gh(&f, "alice", &["pr", "review", "40", "-R", R, "--approve"]).await;
    assert!(
        !ok && err.contains("Can not approve your own pull request"),
        "{err}"
    );
    check(
        &f,
        "alice",
        &["pr", "view", "40", "-R", R],
        &["reviewers:\tbob (Approved)"],
    )
    .await;
    check(&f, "alice", &["pr", "close", "40", "-R", R], &[]).await;
    assert_eq!(
        json(&get(&f, "alice", "/repos/acme/widgets/pulls/40").await.2)["state"],
        "closed"
    );
    check(&f, "alice", &["pr", "reopen", "40", "-R", R], &[]).await;
    assert_eq!(
        json(&get(&f, "alice", "/repos/acme/widgets/pulls/40").await.2)["state"],
        "open"
    );
    check(
        &f,
        "alice",
        &["issue", "delete", "4", "-R", R, "--yes"],
        &[],
    )
    .await;
    assert_eq!(
        get(&f, "alice", "/repos/acme/widgets/issues/4").await.0,
        404
    );
    check(
        &f,
        "alice",
        &["issue", "create", "-R", R, "-t", "After delete", "-b", "x"],
        &["/issues/51"],
    )
    .await;
}

/// Issue "The whole agent loop", item 3: gh 2.23's CI commands against the forge's
/// deterministic CI (the seed's open pull request #50 fails its test job).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_sees_ci_runs_checks_and_failed_logs() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    let runs = check(
        &f,
        "alice",
        &["run", "list", "-R", R],
        &["completed\tfailure\tfeature/valve-10\tCI\tfeature/valve-10\tpull_request\t"],
    )
    .await;
    assert_eq!(runs.lines().count(), 4, "{runs}");
    assert_eq!(runs.matches("\tsuccess\t").count(), 3, "{runs}");
    let id = runs
        .lines()
        .find(|l| l.contains("failure"))
        .and_then(|l| l.split('\t').nth(6))
        .expect("a failed run's id")
        .to_owned();
    check(
        &f,
        "alice",
        &["run", "view", &id, "-R", R],
        &[
            "X test in 1m5s",
            "  X Run cargo test --locked",
            "  ✓ Run actions/checkout@v4",
            "gh run view 4 --log-failed",
        ],
    )
    .await;
    let log = check(
        &f,
        "alice",
        &["run", "view", &id, "--log-failed", "-R", R],
        &[
            "test\tRun cargo test --locked\t",
            "thread 'valve::open' panicked at src/valve.rs:7:9:",
            "not yet implemented",
        ],
    )
    .await;
    // Only the failed step's lines.
    assert!(
        log.lines()
            .all(|l| l.starts_with("test\tRun cargo test --locked\t")),
        "{log}"
    );
    // gh pr checks reads the GraphQL status rollup; failing checks exit non-zero, as gh does.
    let (ok, out, _) = gh(&f, "alice", &["pr", "checks", "50", "-R", R]).await;
    assert!(!ok);
    assert!(
        out.starts_with("test\tfail\t1m5s\thttp://github.localhost/acme/widgets/actions/runs/"),
        "{out}"
    );
    let (ok, out, err) = gh(&f, "alice", &["pr", "checks", "20", "-R", R]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("test\tpass\t1m5s\t"), "{out}");
    // A re-run is a new attempt of the same run.
    let (ok, _, err) = gh(&f, "bob", &["run", "rerun", &id, "-R", R]).await;
    assert!(ok, "{err}");
    let run = json(
        &get(
            &f,
            "alice",
            &format!("/repos/acme/widgets/actions/runs/{id}"),
        )
        .await
        .2,
    );
    assert_eq!(run["run_attempt"], 2);
}

/// gh 2.23's release commands (GraphQL list, REST view and create) against the seeded releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_lists_views_and_creates_releases() {
    if !have_gh() {
        eprintln!("gh not installed; skipping");
        return;
    }
    let f = start().await;
    let list = check(&f, "alice", &["release", "list", "-R", R], &[]).await;
    assert_eq!(
        list,
        "Widgets v1.0.0\tLatest\tv1.0.0\t2024-01-09T09:00:00Z\n\
         Widgets v0.2.0\t\tv0.2.0\t2024-01-06T02:00:00Z\n\
         Widgets v0.1.0\t\tv0.1.0\t2024-01-03T04:00:00Z\n"
    );
    check(
        &f,
        "alice",
        &["release", "view", "v0.2.0", "-R", R],
        &[
            "title:\tWidgets v0.2.0",
            "author:\talice",
            "- Breaking: `Gear::teeth` is now `u16`.",
        ],
    )
    .await;
    check(
        &f,
        "alice",
        &["release", "view", "-R", R],
        &["tag:\tv1.0.0"],
    )
    .await;
    let created = check(
        &f,
        "bob",
        &[
            "release",
            "create",
            "v1.1.0",
            "--title",
            "Widgets 1.1",
            "--notes",
            "Valves.",
            "-R",
            R,
        ],
        &["/acme/widgets/releases/tag/v1.1.0"],
    )
    .await;
    assert_eq!(created.lines().count(), 1);
    // The tag was made at the default branch, and the release is now the latest, by bob.
    let rel = json(
        &get(&f, "alice", "/repos/acme/widgets/releases/latest")
            .await
            .2,
    );
    assert_eq!(rel["tag_name"], "v1.1.0");
    assert_eq!(rel["author"]["login"], "bob");
    let tag = json(
        &get(&f, "alice", "/repos/acme/widgets/git/ref/tags/v1.1.0")
            .await
            .2,
    );
    let main = json(
        &get(&f, "alice", "/repos/acme/widgets/git/ref/heads/main")
            .await
            .2,
    );
    assert_eq!(tag["object"]["sha"], main["object"]["sha"]);
    // A second release of the same tag is refused as GitHub refuses it.
    let (ok, _, err) = gh(
        &f,
        "bob",
        &["release", "create", "v1.1.0", "--notes", "again", "-R", R],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains("already_exists") || err.contains("Validation Failed"),
        "{err}"
    );
}
