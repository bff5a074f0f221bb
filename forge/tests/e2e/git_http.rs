//! Plain git against the forge over smart HTTP (git http-backend): clone with a token, push a
//! branch, and see it in REST and in a pull request opened through GraphQL.
#![allow(clippy::disallowed_methods)] // git itself is the client under test.

use std::path::Path;

use serde_json::json;

use crate::{get, json, start};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env("GIT_AUTHOR_NAME", "Bob Builder")
        .env("GIT_AUTHOR_EMAIL", "bob@acme.example")
        .env("GIT_COMMITTER_NAME", "Bob Builder")
        .env("GIT_COMMITTER_EMAIL", "bob@acme.example")
        .env("GIT_AUTHOR_DATE", "2024-02-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-02-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_push_then_rest_and_graphql_see_it() {
    let f = start().await;
    let work = tempfile::tempdir().expect("work");
    let url = f.handle.clone_url("acme", "widgets", "bob");
    let (w, u) = (work.path().to_path_buf(), url.clone());
    tokio::task::spawn_blocking(move || {
        git(&w, &["clone", "-q", &u, "widgets"]);
        let repo = w.join("widgets");
        std::fs::write(repo.join("src/flange.rs"), "//! Flanges.\n").expect("write");
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "flange: add"]);
        git(
            &repo,
            &["push", "-q", "origin", "HEAD:refs/heads/feature/flange"],
        );
    })
    .await
    .expect("git");

    let (_, _, branches) = get(&f, "bob", "/repos/acme/widgets/branches?per_page=100").await;
    assert!(
        json(&branches)
            .as_array()
            .expect("array")
            .iter()
            .any(|b| b["name"] == "feature/flange")
    );
    let (_, _, commits) = get(
        &f,
        "bob",
        "/repos/acme/widgets/commits?sha=feature/flange&per_page=1",
    )
    .await;
    assert_eq!(json(&commits)[0]["commit"]["message"], "flange: add");
    assert_eq!(json(&commits)[0]["author"]["login"], "bob");

    let (_, _, repo) = get(&f, "bob", "/repos/acme/widgets").await;
    let repo_id = json(&repo)["node_id"]
        .as_str()
        .expect("node id")
        .to_string();
    let query = "mutation($input: CreatePullRequestInput!) { createPullRequest(input: $input) { pullRequest { number url headRefName } } }";
    let body = json!({"query": query, "variables": {"input": {"repositoryId": repo_id, "baseRefName": "main", "headRefName": "feature/flange", "title": "Flanges"}}});
    let (s, _, answer) = crate::send(
        &f,
        reqwest::Method::POST,
        "bob",
        "/graphql",
        Some(body),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let answer = json(&answer);
    assert_eq!(
        answer["data"]["createPullRequest"]["pullRequest"]["number"], 51,
        "{answer}"
    );
    let (_, _, files) = get(&f, "bob", "/repos/acme/widgets/pulls/51/files").await;
    assert_eq!(json(&files)[0]["filename"], "src/flange.rs");

    let anon = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let r = anon
        .get(format!(
            "{}/acme/widgets.git/info/refs?service=git-upload-pack",
            f.handle.base_url
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.status().as_u16(),
        401,
        "git without a token is challenged"
    );
}
