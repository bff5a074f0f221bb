//! The protocol end to end over both transports: initialize, tools/list, tools/call, errors.

use serde_json::json;

use crate::harness::{Env, Session, TRANSPORTS, text};

#[tokio::test]
async fn initialize_reports_gitgate_with_tools() {
    let env = Env::new();
    for transport in TRANSPORTS {
        let s = Session::start(transport, &env).await;
        let info = s.client.peer_info().expect("initialized");
        assert_eq!(
            info.server_info.as_ref().map(|i| i.name.as_str()),
            Some("gitgate"),
            "{transport:?}"
        );
        assert!(info.capabilities.tools.is_some(), "{transport:?}");
        s.client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn tools_list_is_the_committed_catalogue() {
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schemas/tools.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let env = Env::new();
    // Without GitHub configured, the git toolset and the gitgate tool (the remote git tools
    // need the GitHub host and come with the github toolset).
    let remote = ["git_fetch", "git_pull", "git_push"];
    let git_only: Vec<serde_json::Value> = committed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            let name = t["name"].as_str().unwrap();
            (name.starts_with("git_") && !remote.contains(&name)) || name == "gitgate"
        })
        .cloned()
        .collect();
    assert_eq!(git_only.len(), 16);
    for transport in TRANSPORTS {
        let s = Session::start(transport, &env).await;
        let tools = s.client.list_all_tools().await.unwrap();
        assert_eq!(
            serde_json::to_value(&tools).unwrap(),
            serde_json::Value::Array(git_only.clone()),
            "{transport:?}"
        );
        s.client.cancel().await.unwrap();
    }
    // Every toolset: the whole committed catalogue, in order.
    let s = Session::stdio(&env, &["--toolsets", "git,github,actions,meta"]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    assert_eq!(serde_json::to_value(&tools).unwrap(), committed["tools"]);
    s.client.cancel().await.unwrap();
    // A chosen few.
    let s = Session::stdio(
        &env,
        &["--toolsets", "git,github", "--tools", "git_log,gh_pr_view"],
    )
    .await;
    let names = crate::harness::tool_names(&s.client).await;
    assert_eq!(names, ["git_log", "gh_pr_view"]);
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_call_runs_git() {
    let env = Env::new();
    for transport in TRANSPORTS {
        let s = Session::start(transport, &env).await;
        let result = s.call("git_log", json!({"max_count": 1})).await;
        assert_eq!(
            result.is_error,
            Some(false),
            "{transport:?}: {}",
            text(&result)
        );
        assert!(
            text(&result).contains("second commit"),
            "{transport:?}: {}",
            text(&result)
        );
        // The single configured repository may also be named.
        let named = s
            .call("git_log", json!({"repo": "app", "max_count": 1}))
            .await;
        assert_eq!(text(&named), text(&result), "{transport:?}");
        s.client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn bad_arguments_are_tool_errors() {
    let env = Env::new();
    for transport in TRANSPORTS {
        let s = Session::start(transport, &env).await;
        let check = |args: serde_json::Value, expected: &'static str| {
            let s = &s;
            async move {
                let result = s.call("git_log", args.clone()).await;
                assert_eq!(result.is_error, Some(true), "{transport:?} {args}");
                let msg = text(&result);
                assert!(msg.contains(expected), "{transport:?} {args}: {msg}");
            }
        };
        check(json!({"max_count": "ten"}), "invalid arguments").await;
        check(json!({"bogus": 1}), "unknown field `bogus`").await;
        check(
            json!({"repo": "nope"}),
            "unknown repository 'nope'; configured: app",
        )
        .await;
        check(json!({"rev": "--output=/tmp/x"}), "must not start with '-'").await;
        check(
            json!({"json": ["nope"]}),
            "unknown json field 'nope'; available: sha",
        )
        .await;
        s.client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn unknown_tool_is_a_protocol_error() {
    let env = Env::new();
    for transport in TRANSPORTS {
        let s = Session::start(transport, &env).await;
        let err = s
            .client
            .call_tool(rmcp::model::CallToolRequestParams::new("git_push"))
            .await
            .expect_err("unknown tool");
        assert!(
            err.to_string().contains("unknown tool 'git_push'"),
            "{transport:?}: {err}"
        );
        // Regression (issue "Speak git and gh"): the error names the nearest tools.
        assert!(
            err.to_string().contains("nearest: "),
            "{transport:?}: {err}"
        );
        // The session survives the error.
        assert_eq!(
            s.call("git_status", json!({})).await.is_error,
            Some(false),
            "{transport:?}"
        );
        s.client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn json_fields_are_projected_and_structured() {
    let env = Env::new();
    for transport in TRANSPORTS {
        let s = Session::start(transport, &env).await;
        let result = s
            .call("git_log", json!({"json": ["subject"], "max_count": 2}))
            .await;
        let structured = result
            .structured_content
            .clone()
            .expect("structured content");
        assert_eq!(
            structured["items"],
            json!([{"subject": "second commit"}, {"subject": "first commit"}]),
            "{transport:?}"
        );
        s.client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn commit_time_can_be_pinned_for_reproducible_runs() {
    let mut shas = Vec::new();
    for _ in 0..2 {
        let env = Env::new();
        std::fs::write(env.repo.path().join("README.md"), "pinned\n").unwrap();
        let s = Session::stdio(&env, &["--commit-time", "1706788800"]).await;
        let out = s
            .call(
                "git_commit",
                serde_json::json!({"all": true, "message": "pinned"}),
            )
            .await;
        assert_eq!(out.is_error, Some(false), "{}", text(&out));
        let log = std::process::Command::new("git")
            .args(["log", "-1", "--format=%H %at %ct"])
            .current_dir(env.repo.path())
            .output()
            .unwrap();
        let line = String::from_utf8(log.stdout).unwrap();
        let mut parts = line.split_whitespace();
        let sha = parts.next().unwrap().to_owned();
        assert_eq!(parts.collect::<Vec<_>>(), ["1706788800", "1706788800"]);
        shas.push(sha);
        s.client.cancel().await.unwrap();
    }
    // Same tree, parents, identity and time: the same commit.
    assert_eq!(shas[0], shas[1]);
}
