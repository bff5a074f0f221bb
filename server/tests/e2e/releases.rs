//! Releases through MCP against the forge (issue "The whole agent loop", item 2): list and view
//! as gh prints them, create under github:write (a read-only user is refused), and the new
//! release becomes the latest.

use serde_json::json;

use crate::github::{REPO, World, err, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_list_view_and_create() {
    let w = World::start(None).await;
    let alice = w.client("alice").await;

    let list = ok(&alice, "gh_release_list", json!({"repo": REPO})).await;
    assert_eq!(
        list,
        "Widgets v1.0.0\tLatest\tv1.0.0\t2024-01-09T09:00:00Z\n\
         Widgets v0.2.0\t\tv0.2.0\t2024-01-06T02:00:00Z\n\
         Widgets v0.1.0\t\tv0.1.0\t2024-01-03T04:00:00Z"
    );
    let two = ok(&alice, "gh_release_list", json!({"repo": REPO, "limit": 2})).await;
    assert_eq!(two.lines().count(), 2, "{two}");

    let latest = ok(&alice, "gh_release_view", json!({"repo": REPO})).await;
    assert!(
        latest.starts_with("title:\tWidgets v1.0.0\ntag:\tv1.0.0\ndraft:\tfalse\n"),
        "{latest}"
    );
    assert!(latest.contains("\nauthor:\talice\n"), "{latest}");
    assert!(
        latest.contains("/acme/widgets/releases/tag/v1.0.0\n--\nStable API."),
        "{latest}"
    );
    let old = ok(
        &alice,
        "gh_release_view",
        json!({"repo": REPO, "tag": "v0.1.0"}),
    )
    .await;
    assert!(
        old.ends_with("--\nFirst release: widgets, gears and sprockets."),
        "{old}"
    );
    let missing = err(
        &alice,
        "gh_release_view",
        json!({"repo": REPO, "tag": "v9"}),
    )
    .await;
    assert!(missing.contains("not found"), "{missing}");

    // carol reads but may not write.
    let carol = w.client("carol").await;
    let denied = err(
        &carol,
        "gh_release_create",
        json!({"repo": REPO, "tag": "v1.1.0", "notes": "Valves."}),
    )
    .await;
    assert!(denied.contains("github:write"), "{denied}");

    let bob = w.client("bob").await;
    let created = ok(
        &bob,
        "gh_release_create",
        json!({"repo": REPO, "tag": "v1.1.0", "title": "Widgets 1.1", "notes": "Valves.",
               "prerelease": true}),
    )
    .await;
    assert!(
        created.ends_with("/acme/widgets/releases/tag/v1.1.0"),
        "{created}"
    );
    let rel = w.oracle("/repos/acme/widgets/releases/tags/v1.1.0").await;
    assert_eq!(rel["name"], "Widgets 1.1");
    assert_eq!(rel["body"], "Valves.");
    assert_eq!(rel["prerelease"], true);
    assert_eq!(rel["author"]["login"], "bob");
    let list = ok(&alice, "gh_release_list", json!({"repo": REPO})).await;
    assert!(
        list.starts_with("Widgets 1.1\tPre-release\tv1.1.0\t"),
        "{list}"
    );
    // The same tag twice is refused as GitHub refuses it.
    let again = err(
        &bob,
        "gh_release_create",
        json!({"repo": REPO, "tag": "v1.1.0"}),
    )
    .await;
    assert!(
        again.contains("already_exists") || again.contains("alidation"),
        "{again}"
    );
}

/// The run form's release and rerun commands are decided as their JSON tools: carol, who
/// only reads, is refused each write on its own, and reads go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_form_release_and_rerun_writes_need_github_write() {
    let w = World::start(Some(crate::run_gh::CONFIG)).await;
    let carol = w.client("carol").await;
    let r = crate::github::call(
        &carol,
        "gitgate",
        json!({"run": "gh release list -L 1; gh release create v9 -n x; gh run rerun 4 --failed"}),
    )
    .await;
    let said = crate::harness::text(&r);
    assert_eq!(r.is_error, Some(true), "{said}");
    assert!(
        said.starts_with("Widgets v1.0.0\tLatest\tv1.0.0\t"),
        "{said}"
    );
    assert_eq!(
        said.matches("lacks scope github:write").count(),
        2,
        "{said}"
    );
    let events = w.env.audit().await;
    let inner: Vec<_> = events
        .iter()
        .filter(|e| e.parent.is_some() && e.user == "carol")
        .map(|e| (e.tool.as_str(), e.decision.allowed))
        .collect();
    assert_eq!(
        inner,
        [
            ("gh_release_list", true),
            ("gh_release_create", false),
            ("gh_run_rerun", false)
        ]
    );
    let run = w.oracle("/repos/acme/widgets/actions/runs/4").await;
    assert_eq!(run["run_attempt"], 1, "a refused rerun changed nothing");
}
