//! Review threads through MCP against the forge (issue "The whole agent loop", item 2):
//! `gh_pr_view` with `comments` shows issue comments and review comments (`path:line`, with
//! the ids to reply to) oldest first, its default output unchanged; `gh_pr_comment` comments
//! on the pull request or replies in a thread, under github:write.

use serde_json::json;

use crate::github::{REPO, World, err, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_comments_are_read_and_answered() {
    let w = World::start(None).await;
    let alice = w.client("alice").await;

    let plain = ok(&alice, "gh_pr_view", json!({"repo": REPO, "number": 20})).await;
    assert!(!plain.contains("---"), "{plain}");
    let with = ok(
        &alice,
        "gh_pr_view",
        json!({"repo": REPO, "number": 20, "comments": true}),
    )
    .await;
    assert!(with.starts_with(&plain), "the default view leads:\n{with}");
    let thread = &with[plain.len()..];
    assert!(
        thread.contains(
            "--- bob · 2024-01-04 · src/spring.rs:3 (id 1)\nShould `Spring` derive `Debug`?"
        ),
        "{thread}"
    );
    assert!(
        thread.contains(
            "--- alice · 2024-01-04 · src/spring.rs:3 (id 2, reply to 1)\nYes, in a follow-up."
        ),
        "{thread}"
    );

    // carol reads but may not write.
    let carol = w.client("carol").await;
    let denied = err(
        &carol,
        "gh_pr_comment",
        json!({"repo": REPO, "number": 20, "body": "me too", "reply_to": 1}),
    )
    .await;
    assert!(denied.contains("github:write"), "{denied}");

    let bob = w.client("bob").await;
    let reply = ok(
        &bob,
        "gh_pr_comment",
        json!({"repo": REPO, "number": 20, "body": "Thanks.", "reply_to": 2}),
    )
    .await;
    assert!(
        reply.contains("/acme/widgets/pull/20#discussion_r"),
        "{reply}"
    );
    let top = ok(
        &bob,
        "gh_pr_comment",
        json!({"repo": REPO, "number": 20, "body": "Ready when CI is."}),
    )
    .await;
    assert!(top.contains("/acme/widgets/pull/20#issuecomment-"), "{top}");
    let pull = w.oracle("/repos/acme/widgets/pulls/20").await;
    assert_eq!(
        pull["review_comments"], 3,
        "the pull request counts its review comments"
    );
    let review = w.oracle("/repos/acme/widgets/pulls/20/comments").await;
    let review = review.as_array().unwrap();
    assert_eq!(review.len(), 3);
    // A reply to a reply joins the thread's root, as on GitHub.
    assert_eq!(review[2]["in_reply_to_id"], 1);
    assert_eq!(review[2]["path"], "src/spring.rs");
    assert_eq!(review[2]["user"]["login"], "bob");
    let after = ok(
        &alice,
        "gh_pr_view",
        json!({"repo": REPO, "number": 20, "comments": true}),
    )
    .await;
    assert!(after.contains("(id 3, reply to 1)\nThanks."), "{after}");
    assert!(
        after.ends_with("Ready when CI is."),
        "newest last:\n{after}"
    );
    let missing = err(
        &bob,
        "gh_pr_comment",
        json!({"repo": REPO, "number": 20, "body": "x", "reply_to": 999}),
    )
    .await;
    assert!(missing.contains("not found"), "{missing}");
}
