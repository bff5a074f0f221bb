//! Hostile GraphQL documents over HTTP: each is refused with GitHub's error shape and a message
//! naming the bound, and the forge keeps answering. Before the parser moved to apollo-parser, the
//! deep ones overflowed the stack of the hand-written parser or executor and took the forge (and
//! this test binary) down, and the doubling fragments ran for 2^40 fields.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Forge, json, send, start};

async fn errors(f: &Forge, q: &str) -> Value {
    let (s, _, b) = send(
        f,
        Method::POST,
        "alice",
        "/graphql",
        Some(json!({"query": q})),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let v = json(&b);
    assert!(
        v.get("data").is_none(),
        "refused documents run nothing: {v}"
    );
    v["errors"].clone()
}

/// `q`'s only error has `code` in its extensions and a message containing `message`.
async fn check(f: &Forge, q: &str, code: &str, message: &str) {
    let errs = errors(f, q).await;
    assert_eq!(errs.as_array().map(Vec::len), Some(1), "{errs}");
    let e = &errs[0];
    assert_eq!(e["extensions"]["code"], code, "{e}");
    let text = e["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{text:?} lacks {message:?}");
}

fn nested(n: usize) -> String {
    format!("{}{}", "{a".repeat(n), "}".repeat(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_have_githubs_shape() {
    let f = start().await;
    let errs = errors(&f, "query {\n  viewer { login ]\n}").await;
    assert_eq!(
        errs,
        json!([{
            "message": "Parse error on \"]\" at [2, 18]: expected R_CURLY, got ]",
            "type": "PARSE_ERROR",
            "locations": [{"line": 2, "column": 18}],
        }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_by_named_bounds() {
    let f = start().await;
    // Bug: 15,000 nested selection sets overflowed the recursive parser's stack.
    check(
        &f,
        &nested(15_000),
        "maxDepthExceeded",
        "maximum depth of 64",
    )
    .await;
    // Bug: nested list values did the same through the value parser.
    let list = format!("{{ a(b: {}1{}) }}", "[".repeat(15_000), "]".repeat(15_000));
    check(&f, &list, "maxDepthExceeded", "maximum depth of 64").await;
    // Bug: a fragment spreading itself sent the executor into endless recursion.
    check(
        &f,
        "{ viewer { ...me } } fragment me on User { login ...me }",
        "infiniteLoop",
        "Fragment me contains an infinite loop",
    )
    .await;
    // Bug: each fragment shallow, chained they nested past any stack.
    let mut chain = String::from("{ viewer { ...f0 } }");
    for i in 0..2_000 {
        chain.push_str(&format!(" fragment f{i} on User {{ ...f{} }}", i + 1));
    }
    chain.push_str(" fragment f2000 on User { login }");
    check(&f, &chain, "maxDepthExceeded", "maximum depth").await;
    // Bug: fragments spreading the previous one twice asked for 2^40 fields from 2 KiB.
    let mut laughs = String::from("fragment f0 on User { login name }");
    for i in 1..40 {
        laughs.push_str(&format!(
            " fragment f{i} on User {{ ...f{p} ...f{p} }}",
            p = i - 1
        ));
    }
    laughs.push_str(" { viewer { ...f39 } }");
    check(&f, &laughs, "maxFieldsExceeded", "more than 20000 fields").await;
    check(
        &f,
        &format!("{{ viewer {{ login{} }} }}", " login".repeat(30_000)),
        "queryTooLarge",
        "tokens",
    )
    .await;
    check(
        &f,
        &format!("{{ viewer(x: \"{}\") {{ login }} }}", "x".repeat(300_000)),
        "queryTooLarge",
        "exceeds the maximum of 262144 bytes",
    )
    .await;
    check(
        &f,
        "{ viewer { ...nowhere } }",
        "useAndDefineFragment",
        "Fragment nowhere was used, but not defined",
    )
    .await;
    // The forge still answers after all of that.
    let (s, _, b) = send(
        &f,
        Method::POST,
        "alice",
        "/graphql",
        Some(json!({"query": "{ viewer { login } }"})),
        None,
    )
    .await;
    assert_eq!(
        (s, json(&b)),
        (200, json!({"data": {"viewer": {"login": "alice"}}}))
    );
}
