//! REST details octocrab does not show: error bodies and status codes, Link and X-RateLimit
//! headers, the diff media type, determinism of the seed, and writes racing each other.

use reqwest::Method;
use serde_json::json;

use crate::{get, json, send, start};

fn check_error(status: u16, body: &str, expected_status: u16, expected_message: &str) {
    assert_eq!(status, expected_status, "{body}");
    let v = json(body);
    assert_eq!(v["message"], expected_message, "{body}");
    assert_eq!(v["documentation_url"], "https://docs.github.com/rest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_token_is_401_bad_credentials() {
    let f = start().await;
    for auth in [None, Some("token nope"), Some("Bearer nope")] {
        let mut req = crate::http().get(f.url("/user"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 401);
        let body = resp.text().await.expect("body");
        assert_eq!(body, serde_json::to_string_pretty(&json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})).expect("json"));
    }
    let resp = crate::http()
        .get(f.url("/user"))
        .bearer_auth(f.token("carol"))
        .send()
        .await
        .expect("bearer");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_githubs_shape() {
    let f = start().await;
    let (s, _, b) = get(&f, "alice", "/repos/acme/nope").await;
    check_error(s, &b, 404, "Not Found");
    let (s, _, b) = get(&f, "alice", "/repos/acme/widgets/issues/999").await;
    check_error(s, &b, 404, "Not Found");
    let (s, _, b) = send(
        &f,
        Method::POST,
        "alice",
        "/repos/acme/widgets/issues",
        Some(json!({"body": "x"})),
        None,
    )
    .await;
    check_error(s, &b, 422, "Validation Failed");
    assert_eq!(json(&b)["errors"][0]["field"], "title");
    let (s, _, b) = send(
        &f,
        Method::PUT,
        "alice",
        "/repos/acme/widgets/pulls/5/merge",
        Some(json!({})),
        None,
    )
    .await;
    check_error(s, &b, 405, "Pull Request is not mergeable");
    let (s, _, b) = get(&f, "alice", "/repos/acme/widgets/issues?state=bogus").await;
    check_error(s, &b, 422, "Validation Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_link_and_rate_limit_headers() {
    let f = start().await;
    let (s, h, b) = get(
        &f,
        "alice",
        "/repos/acme/widgets/issues?state=all&per_page=10&page=2",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(json(&b).as_array().map(Vec::len), Some(10));
    let link = h["link"].to_str().expect("ascii");
    let base = &f.handle.base_url;
    assert_eq!(
        link,
        format!(
            "<{base}/repos/acme/widgets/issues?state=all&per_page=10&page=1>; rel=\"prev\", \
             <{base}/repos/acme/widgets/issues?state=all&per_page=10&page=3>; rel=\"next\", \
             <{base}/repos/acme/widgets/issues?state=all&per_page=10&page=5>; rel=\"last\", \
             <{base}/repos/acme/widgets/issues?state=all&per_page=10&page=1>; rel=\"first\""
        )
    );
    assert_eq!(h["x-ratelimit-limit"], "5000");
    assert_eq!(h["x-ratelimit-remaining"], "4999");
    assert_eq!(h["x-ratelimit-used"], "1");
    assert_eq!(h["x-ratelimit-resource"], "core");
    let mut numbers = Vec::new();
    for page in 1..=5 {
        let (_, _, b) = get(
            &f,
            "alice",
            &format!("/repos/acme/widgets/issues?state=all&per_page=10&page={page}"),
        )
        .await;
        numbers.extend(
            json(&b)
                .as_array()
                .expect("array")
                .iter()
                .map(|i| i["number"].as_i64().expect("number")),
        );
    }
    assert_eq!(numbers, (1..=50).rev().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_media_type_matches_files() {
    let f = start().await;
    let (s, h, diff) = send(
        &f,
        Method::GET,
        "bob",
        "/repos/acme/widgets/pulls/45",
        None,
        Some("application/vnd.github.diff"),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        h["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/vnd.github.diff")
    );
    let (_, _, files) = get(&f, "bob", "/repos/acme/widgets/pulls/45/files").await;
    for file in json(&files).as_array().expect("array") {
        let name = file["filename"].as_str().expect("filename");
        assert!(
            diff.contains(&format!("diff --git a/{name} b/{name}")),
            "{name} in {diff}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_gives_identical_answers() {
    let a = start().await;
    let b = start().await;
    for path in [
        "/repos/acme/widgets",
        "/repos/acme/widgets/commits?per_page=100&page=2",
        "/repos/acme/widgets/issues?state=all&per_page=100",
        "/repos/acme/widgets/pulls/15",
        "/repos/acme/widgets/branches",
        "/search/issues?q=repo:acme/widgets+label:bug",
    ] {
        let (_, _, x) = get(&a, "alice", path).await;
        let (_, _, y) = get(&b, "alice", path).await;
        let x = x.replace(&a.handle.addr.to_string(), "HOST");
        let y = y.replace(&b.handle.addr.to_string(), "HOST");
        assert!(x == y, "{path} differs between two seeds");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_nothing() {
    let f = std::sync::Arc::new(start().await);
    let mut tasks = Vec::new();
    for w in 0..16 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let login = ["alice", "bob", "carol", "ci-bot"][w % 4];
            for k in 0..5 {
                let (s, _, b) = send(
                    &f,
                    Method::POST,
                    login,
                    "/repos/acme/widgets/issues",
                    Some(json!({"title": format!("w{w} k{k}")})),
                    None,
                )
                .await;
                assert_eq!(s, 201, "{b}");
                let (s, _, b) = send(
                    &f,
                    Method::POST,
                    login,
                    "/repos/acme/widgets/issues/1/comments",
                    Some(json!({"body": format!("w{w} k{k}")})),
                    None,
                )
                .await;
                assert_eq!(s, 201, "{b}");
                let q = json!({"query": "mutation($b: String!) { addComment(input: {subjectId: \"I_kgDO00000002\", body: $b}) { clientMutationId } }", "variables": {"b": format!("g{w} k{k}")}});
                let (s, _, b) = send(&f, Method::POST, login, "/graphql", Some(q), None).await;
                assert!(s == 200 && !b.contains("errors"), "{b}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let (_, _, b) = get(
        &f,
        "alice",
        "/repos/acme/widgets/issues?state=all&per_page=100&page=2",
    )
    .await;
    let page2 = json(&b).as_array().map_or(0, Vec::len);
    assert_eq!(100 + page2, 50 + 16 * 5, "every issue is there");
    let (_, _, b) = get(&f, "alice", "/repos/acme/widgets/issues/1").await;
    assert_eq!(json(&b)["comments"], 1 + 16 * 5);
    let (_, _, b) = get(&f, "alice", "/repos/acme/widgets/issues/2").await;
    assert_eq!(
        json(&b)["comments"],
        2 + 16 * 5,
        "every GraphQL comment is there"
    );
}
