//! Stopping the server: SIGTERM (what `systemctl stop` and `docker stop` send) stops it as
//! Ctrl-C does, with exit status 0 and its audit spool chained into the store.

use crate::harness::{Env, connect_http, spawn_http, text};

/// Regression (load issue, item 9): SIGTERM was not handled, so the process died on the
/// signal (no clean exit, the spool left for the next start to chain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly_with_its_audit_chained() {
    let env = Env::new();
    let token = env.user("alice", "git:read", &["app"]).await;
    let mut server = spawn_http(&env, &[]);
    let client = connect_http(&server.url, &token).await.unwrap();
    let result = client
        .call_tool(rmcp::model::CallToolRequestParams::new("git_status"))
        .await
        .unwrap();
    assert!(text(&result).starts_with("## main"));
    drop(client);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    // A clean stop chains the spool and removes the file: nothing is left for a restart.
    let spool_dir = env.data.path().join("gitgate.db-spool");
    assert!(
        spool_dir.is_dir(),
        "the server spooled its events in {spool_dir:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&spool_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spool files left: {left:?}");
    let events = env.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e.tool == "git_status" && e.user == "alice" && e.outcome.ok),
        "{events:?}"
    );
}
