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
