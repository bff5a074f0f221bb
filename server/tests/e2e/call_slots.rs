//! Calls running at once, per user and in total (load issue, item 1: nothing limited a user's
//! concurrent calls, so one user's burst took the server's threads and memory from the rest).

use rmcp::model::CallToolRequestParams;
use serde_json::json;

use crate::harness::{Client, Env, connect_http, spawn_http, text};

async fn call(client: &Client, args: serde_json::Value) -> (bool, String) {
    let serde_json::Value::Object(args) = args else {
        unreachable!()
    };
    let r = client
        .call_tool(CallToolRequestParams::new("gitgate").with_arguments(args))
        .await
        .unwrap();
    (r.is_error == Some(true), text(&r))
}

/// Regression: with a cap of one call per user, two of alice's slow calls at once: one runs,
/// the other is refused at once with what to do (and audited); bob is served meanwhile.
#[tokio::test]
async fn a_user_past_their_cap_is_refused_at_once_and_others_are_served() {
    let env = Env::new();
    let alice = env.user("alice", "git:read", &["app"]).await;
    let bob = env.user("bob", "git:read", &["app"]).await;
    let server = spawn_http(&env, &["--lean", "--max-calls-per-user", "1"]);
    let a1 = connect_http(&server.url, &alice).await.unwrap();
    let a2 = connect_http(&server.url, &alice).await.unwrap();
    let b = connect_http(&server.url, &bob).await.unwrap();
    // Each spins until the jq sandbox's CPU limit ends it: seconds, so the two overlap.
    let spin = json!({"tool": "git_status", "jq": "last(range(1e18))"});
    let (first, second, bobs) =
        tokio::join!(call(&a1, spin.clone()), call(&a2, spin.clone()), async {
            call(&b, json!({"tool": "git_status"})).await
        });
    let busy: Vec<&String> = [&first.1, &second.1]
        .into_iter()
        .filter(|said| said.contains("already runs 1 call(s) at once"))
        .collect();
    assert_eq!(busy.len(), 1, "{first:?} {second:?}");
    assert!(first.0 && second.0, "{first:?} {second:?}");
    assert!(!bobs.0 && bobs.1.starts_with("## main"), "{bobs:?}");
    // The slot came back: alice is served again.
    let (is_error, status) = call(&a1, json!({"tool": "git_status"})).await;
    assert!(!is_error, "{status}");
    let refused: Vec<_> = env
        .audit()
        .await
        .into_iter()
        .filter(|e| e.decision.rule == "denied:busy:user")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].user, "alice");
    assert_eq!(refused[0].tool, "gitgate");
}
