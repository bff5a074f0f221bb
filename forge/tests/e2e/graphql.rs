//! GraphQL answers beyond what gh happens to ask: errors with types and paths, cursor
//! pagination, node lookups, and a mutation read back through REST.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Forge, get, json, send, start};

async fn query(f: &Forge, login: &str, q: &str, vars: Value) -> Value {
    let (s, _, b) = send(
        f,
        Method::POST,
        login,
        "/graphql",
        Some(json!({"query": q, "variables": vars})),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    json(&b)
}

async fn check(f: &Forge, q: &str, vars: Value, expected: Value) {
    let got = query(f, "alice", q, vars).await;
    assert_eq!(got, expected, "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_errors_and_pagination() {
    let f = start().await;
    check(
        &f,
        "{ viewer { login name } }",
        json!({}),
        json!({"data": {"viewer": {"login": "alice", "name": "Alice Liddell"}}}),
    )
    .await;
    check(
        &f,
        "query($o: String!) { repository(owner: $o, name: \"nope\") { id } }",
        json!({"o": "acme"}),
        json!({
            "data": {"repository": null},
            "errors": [{"type": "NOT_FOUND", "path": ["repository"], "locations": [], "message": "Could not resolve to a Repository with the name 'acme/nope'."}]
        }),
    )
    .await;
    check(
        &f,
        "{ repository(owner: \"acme\", name: \"widgets\") { pr: pullRequest(number: 5) { number state merged mergeCommit { oid } } } }",
        json!({}),
        {
            let sha = json(&get(&f, "alice", "/repos/acme/widgets/pulls/5").await.2)["merge_commit_sha"].clone();
            json!({"data": {"repository": {"pr": {"number": 5, "state": "MERGED", "merged": true, "mergeCommit": {"oid": sha}}}}})
        },
    )
    .await;
    let page = "query($after: String) { repository(owner: \"acme\", name: \"widgets\") { issues(first: 15, after: $after, states: [OPEN, CLOSED]) { totalCount nodes { number } pageInfo { hasNextPage endCursor } } } }";
    let mut numbers = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = query(&f, "alice", page, json!({"after": after})).await;
        let issues = &v["data"]["repository"]["issues"];
        assert_eq!(issues["totalCount"], 40);
        numbers.extend(
            issues["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["number"].as_i64().expect("number")),
        );
        if issues["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = issues["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(numbers.len(), 40);
    let v = query(&f, "alice", "{ nope }", json!({})).await;
    assert_eq!(
        v["errors"][0]["message"],
        "Field 'nope' doesn't exist on type 'Query'"
    );
    let v = query(&f, "alice", "{ unclosed", json!({})).await;
    assert_eq!(v["errors"][0]["type"], "PARSE_ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_are_attributed_and_visible_in_rest() {
    let f = start().await;
    let id = query(
        &f,
        "bob",
        "{ repository(owner: \"acme\", name: \"widgets\") { issue(number: 1) { id } } }",
        json!({}),
    )
    .await["data"]["repository"]["issue"]["id"]
        .clone();
    let bug = query(
        &f,
        "bob",
        "{ repository(owner: \"acme\", name: \"widgets\") { label(name: \"bug\") { id } } }",
        json!({}),
    )
    .await["data"]["repository"]["label"]["id"]
        .clone();
    let v = query(
        &f,
        "bob",
        "mutation($id: ID!, $l: [ID!]!) { addLabelsToLabelable(input: {labelableId: $id, labelIds: $l}) { labelable { ... on Issue { labels(first: 10) { nodes { name } } } } } }",
        json!({"id": id, "l": [bug]}),
    )
    .await;
    assert!(
        v["data"]["addLabelsToLabelable"]["labelable"]["labels"]["nodes"]
            .as_array()
            .expect("labels")
            .iter()
            .any(|l| l["name"] == "bug"),
        "{v}"
    );
    let v = query(&f, "bob", "mutation($id: ID!) { closeIssue(input: {issueId: $id, stateReason: NOT_PLANNED}) { issue { state stateReason } } }", json!({"id": id})).await;
    assert_eq!(
        v["data"]["closeIssue"]["issue"],
        json!({"state": "CLOSED", "stateReason": "NOT_PLANNED"})
    );
    let rest = json(&get(&f, "alice", "/repos/acme/widgets/issues/1").await.2);
    assert_eq!(
        (
            rest["state"].as_str(),
            rest["state_reason"].as_str(),
            rest["closed_by"]["login"].as_str()
        ),
        (Some("closed"), Some("not_planned"), Some("bob"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_writes_show_up_in_graphql() {
    let f = start().await;
    let (s, _, _) = send(
        &f,
        Method::POST,
        "carol",
        "/repos/acme/widgets/issues",
        Some(json!({"title": "From REST", "labels": ["question"]})),
        None,
    )
    .await;
    assert_eq!(s, 201);
    let (s, _, _) = send(
        &f,
        Method::POST,
        "bob",
        "/repos/acme/widgets/issues/51/comments",
        Some(json!({"body": "Seen"})),
        None,
    )
    .await;
    assert_eq!(s, 201);
    check(
        &f,
        "{ repository(owner: \"acme\", name: \"widgets\") { issue(number: 51) { title author { login } labels(first: 5) { nodes { name } } comments(first: 5) { totalCount nodes { author { login } body } } } } }",
        json!({}),
        json!({"data": {"repository": {"issue": {
            "title": "From REST",
            "author": {"login": "carol"},
            "labels": {"nodes": [{"name": "question"}]},
            "comments": {"totalCount": 1, "nodes": [{"author": {"login": "bob"}, "body": "Seen"}]},
        }}}}),
    )
    .await;
}
