//! JSON-RPC correctness over HTTP, through the real binary (load issue, items 5 to 7): the
//! codes JSON-RPC names for bad messages, a second `initialize` refused, a request id in use on
//! a session refused instead of leaving one request unanswered, and every refusal audited.

use reqwest::StatusCode;

use crate::harness::{Caller, Env, INIT, message, spawn_http};

/// Regression (items 6 and 7): malformed JSON and batches got HTTP 415, a `tools/call` without
/// a name -32601, a second `initialize` was accepted. Now: 400 with -32700 / -32600, a 200
/// with -32602, 400 with -32600; each refusal is audited as the caller's.
#[tokio::test]
async fn bad_messages_get_json_rpc_codes_and_are_audited() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let server = spawn_http(&env, &[]);
    let alice = Caller::open(&server, &token).await;

    let cases = [
        ("{not json", StatusCode::BAD_REQUEST, -32700),
        ("\"\u{1}", StatusCode::BAD_REQUEST, -32700),
        (
            r#"[{"jsonrpc":"2.0","id":5,"method":"ping"}]"#,
            StatusCode::BAD_REQUEST,
            -32600,
        ),
        (
            r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#,
            StatusCode::BAD_REQUEST,
            -32600,
        ),
        (INIT, StatusCode::BAD_REQUEST, -32600),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"nme":"git_status"}}"#,
            StatusCode::OK,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"git_status","arguments":"x"}}"#,
            StatusCode::OK,
            -32602,
        ),
    ];
    for (body, status, code) in cases {
        let resp = alice.post(&server, body).await;
        assert_eq!(resp.status(), status, "{body}");
        let answer = message(resp).await;
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    // The session goes on.
    let ok = alice
        .post(
            &server,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"git_status","arguments":{}}}"#,
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(message(ok).await["result"]["isError"], false);

    let events = env.audit().await;
    let refused: Vec<_> = events.iter().filter(|e| !e.decision.allowed).collect();
    assert_eq!(refused.len(), cases.len(), "{refused:?}");
    assert!(refused.iter().all(|e| e.user == "alice"), "{refused:?}");
    let bad_params = refused
        .iter()
        .filter(|e| e.decision.rule == "denied:bad-params")
        .count();
    assert_eq!(bad_params, 2, "{refused:?}");
}

/// Regression (item 5): two concurrent requests with one id on a session: one never got an
/// answer. Now the second is refused at once (-32600, naming the id) while the first runs,
/// the first gets its answer, and the id is free again afterwards.
#[tokio::test]
async fn a_request_id_in_use_on_the_session_is_refused_not_lost() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let server = spawn_http(&env, &["--lean"]);
    let alice = Caller::open(&server, &token).await;
    // A call that runs until the jq sandbox's CPU limit ends it: in flight for seconds.
    let slow = r#"{"jsonrpc":"2.0","id":"same","method":"tools/call","params":{"name":"gitgate","arguments":{"tool":"git_status","jq":"last(range(1e18))"}}}"#;
    let first = alice.post(&server, slow).await;
    // The answer's headers are out, so the request is in flight on the server.
    assert_eq!(first.status(), StatusCode::OK);
    let quick = r#"{"jsonrpc":"2.0","id":"same","method":"tools/call","params":{"name":"gitgate","arguments":{"tool":"git_status"}}}"#;
    let second = alice.post(&server, quick).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let refusal = message(second).await;
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
    assert_eq!(refusal["id"], "same", "{refusal}");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("still running"),
        "{refusal}"
    );
    // The first still gets its own answer (the filter's limit, as a tool error).
    let answer = message(first).await;
    assert_eq!(answer["id"], "same", "{answer}");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    // Its id is free again.
    let again = alice.post(&server, quick).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(message(again).await["result"]["isError"], false);
}
