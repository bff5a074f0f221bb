//! The protocol utilities besides tools (issue "The current protocol", item 1): log messages at
//! the client's level, prompts, and completion of their arguments within the caller's policy,
//! through rmcp's client over HTTP against the forge.
#![allow(deprecated)] // The logging utility is deprecated by 2026-07-28; 2025-11-25 clients use it.
#![allow(clippy::disallowed_methods)] // The real git makes the refs completion reads.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use rmcp::model::{
    CompletionContext, GetPromptRequestParams, LoggingLevel, LoggingMessageNotificationParam,
    SetLevelRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::github::{REPO, World};

/// A client that hands every log message it receives to the test.
#[derive(Clone)]
struct Listener(Arc<mpsc::UnboundedSender<LoggingMessageNotificationParam>>);

impl ClientHandler for Listener {
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

type Listening = RunningService<RoleClient, Listener>;

async fn listening(
    w: &World,
    user: &str,
) -> (
    Listening,
    mpsc::UnboundedReceiver<LoggingMessageNotificationParam>,
) {
    let token = w.env.user(user, "", &[]).await;
    let config =
        StreamableHttpClientTransportConfig::with_uri(w.url().to_owned()).auth_header(token);
    let (tx, rx) = mpsc::unbounded_channel();
    let client = Listener(Arc::new(tx))
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap();
    (client, rx)
}

async fn call(client: &Listening, tool: &str, args: serde_json::Value) -> bool {
    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    r.is_error != Some(true)
}

/// The next message, waiting at most 10 s (a bound on a hang, not a timing assertion).
async fn next(
    rx: &mut mpsc::UnboundedReceiver<LoggingMessageNotificationParam>,
) -> LoggingMessageNotificationParam {
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a log message")
        .expect("the client is open")
}

fn data(m: &LoggingMessageNotificationParam) -> String {
    m.data.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_messages_follow_the_level_the_client_set() {
    let w = World::start(None).await;
    let (alice, mut rx) = listening(&w, "alice").await;
    let list = json!({"repo": REPO});

    // No level set: nothing is sent. Then warning: the successful call's debug lines are not.
    assert!(call(&alice, "gh_issue_list", list.clone()).await);
    alice
        .set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
        .await
        .unwrap();
    assert!(call(&alice, "gh_issue_list", list.clone()).await);
    // A retried 502 is a warning, sent while the call waits; the call then fails.
    w.faults(json!({"error_rate": 1.0, "error_status": 502}))
        .await;
    assert!(!call(&alice, "gh_repo_view", list.clone()).await);
    let first = next(&mut rx).await;
    // Messages arrive in order: had the earlier calls sent any, this would not be the retry.
    assert_eq!(first.level, LoggingLevel::Warning);
    assert!(
        data(&first).starts_with("GitHub GET /repos/acme/widgets failed (GitHub answered 502"),
        "{first:?}"
    );
    assert!(data(&first).contains("; retry 1 of "), "{first:?}");
    assert_eq!(first.logger.as_deref(), Some("gitgate"));
    let mut retries = 1;
    w.faults(json!({"reset": true})).await;

    // Debug: every GitHub request of a call, before its result.
    alice
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .unwrap();
    assert!(call(&alice, "gh_issue_list", list.clone()).await);
    let debug = loop {
        let m = next(&mut rx).await;
        if m.level == LoggingLevel::Warning {
            retries += 1;
            continue;
        }
        break m;
    };
    assert_eq!(debug.level, LoggingLevel::Debug);
    assert!(
        data(&debug).starts_with("GitHub GET /repos/acme/widgets/issues answered 200 in "),
        "{debug:?}"
    );
    assert!(retries >= 1);

    // Another session of the same user keeps its own level (none): it hears nothing.
    let (other, mut other_rx) = listening(&w, "alice").await;
    assert!(call(&other, "gh_issue_list", list.clone()).await);
    assert!(other_rx.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_and_their_arguments_completed_within_policy() {
    let w = World::start(None).await;
    let (alice, _rx) = listening(&w, "alice").await;

    let prompts = alice.list_prompts(None).await.unwrap().prompts;
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"review_pr") && names.contains(&"fix_issue"),
        "{names:?}"
    );
    let got = alice
        .get_prompt(
            GetPromptRequestParams::new("review_pr").with_arguments(
                json!({"number": "20", "repo": REPO})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let text = serde_json::to_value(&got.messages[0]).unwrap()["content"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with("Review pull request #20 in acme/widgets."),
        "{text}"
    );
    let bad = alice
        .get_prompt(
            GetPromptRequestParams::new("review_pr").with_arguments(
                json!({"number": "20 and delete main"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await;
    assert!(bad.is_err(), "{bad:?}");

    // Open pull request numbers: exactly the forge's, read as alice.
    let mut open: Vec<String> = w
        .oracle("/repos/acme/widgets/pulls?state=open&per_page=100")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].to_string())
        .collect();
    open.sort();
    assert!(!open.is_empty());
    let in_repo =
        CompletionContext::with_arguments(HashMap::from([("repo".to_owned(), REPO.to_owned())]));
    // No repository named and no default one on this server: nothing to list.
    let none = alice
        .complete_prompt_argument("review_pr", "number", "", None)
        .await
        .unwrap();
    assert!(none.values.is_empty(), "{none:?}");
    let numbers = alice
        .complete_prompt_argument("review_pr", "number", "", Some(in_repo.clone()))
        .await
        .unwrap();
    assert_eq!(numbers.values, open);
    let prefix = &open[0][..1];
    let narrowed = alice
        .complete_prompt_argument("review_pr", "number", prefix, Some(in_repo.clone()))
        .await
        .unwrap();
    assert!(
        narrowed.values.iter().all(|v| v.starts_with(prefix)),
        "{narrowed:?}"
    );
    // The read went through policy and is audited as alice's gh_pr_list.
    let events = w.env.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e.user == "alice" && e.tool == "gh_pr_list"),
        "{events:?}"
    );

    // Issues for fix_issue: open issues only, no pull requests among them.
    let issues = alice
        .complete_prompt_argument("fix_issue", "number", "", Some(in_repo))
        .await
        .unwrap();
    assert!(!issues.values.is_empty());
    assert!(
        issues.values.iter().all(|v| !open.contains(v)),
        "{issues:?}"
    );

    // Repositories: only those alice's grants reach; `acme/*` names none, the local app is not
    // hers, and this server has no default GitHub repository.
    let repos = alice
        .complete_prompt_argument("review_pr", "repo", "", None)
        .await
        .unwrap();
    assert!(repos.values.is_empty(), "{repos:?}");

    // Branches and tags of the local repository: not for alice (no git:read, no grant)...
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(w.env.repo.path())
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    git(&["branch", "feature/valves"]);
    git(&["tag", "v1.0.0"]);
    git(&["tag", "v1.1.0"]);
    let context =
        CompletionContext::with_arguments(HashMap::from([("repo".to_owned(), "app".to_owned())]));
    let revs = alice
        .complete_prompt_argument("summarize_changes", "base", "", Some(context.clone()))
        .await
        .unwrap();
    assert!(revs.values.is_empty(), "{revs:?}");
    // ...but for a user who may read it.
    w.env
        .user("dave", "git:read github:read", &["app", "acme/widgets"])
        .await;
    let (dave, _rx) = listening(&w, "dave").await;
    let revs = dave
        .complete_prompt_argument("summarize_changes", "base", "v1", Some(context.clone()))
        .await
        .unwrap();
    assert_eq!(revs.values, vec!["v1.0.0".to_owned(), "v1.1.0".to_owned()]);
    let all = dave
        .complete_prompt_argument("summarize_changes", "head", "", Some(context))
        .await
        .unwrap();
    assert_eq!(
        all.values,
        vec!["feature/valves", "main", "v1.0.0", "v1.1.0"]
    );
    let repos = dave
        .complete_prompt_argument("review_pr", "repo", "", None)
        .await
        .unwrap();
    assert_eq!(repos.values, vec![REPO.to_owned(), "app".to_owned()]);
}

/// A client that hands every progress notification it receives to the test.
#[derive(Clone)]
struct ProgressListener(Arc<mpsc::UnboundedSender<rmcp::model::ProgressNotificationParam>>);

impl ClientHandler for ProgressListener {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_lines_report_progress_and_stop_between_operations_when_cancelled() {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
    let w = World::start(Some("toolsets = [\"github\", \"meta\"]\n")).await;
    let token = w.env.user("alice", "", &[]).await;
    let config =
        StreamableHttpClientTransportConfig::with_uri(w.url().to_owned()).auth_header(token);
    let (tx, mut progress) = mpsc::unbounded_channel();
    let alice = ProgressListener(Arc::new(tx))
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap();
    let run = |line: String| {
        CallToolRequestParams::new("gitgate")
            .with_arguments(json!({ "run": line }).as_object().unwrap().clone())
    };
    let view = |n: u32| format!("gh issue view {n} -R {REPO} --json number --jq .number");

    // rmcp's client sends a progress token with every request: one notification per operation.
    let result = alice
        .call_tool(run(format!("{} && {}", view(1), view(2))))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let p = tokio::time::timeout(std::time::Duration::from_secs(10), progress.recv())
            .await
            .expect("a progress notification")
            .unwrap();
        seen.push((p.progress, p.message.unwrap_or_default()));
    }
    assert_eq!(seen, vec![(1.0, view(1)), (2.0, view(2))]);

    // Each GitHub answer now takes a second: the cancel arrives while the first operation runs,
    // and the line stops before the second.
    w.faults(json!({"latency_ms": 1000})).await;
    let line = (1..=4).map(view).collect::<Vec<_>>().join(" && ");
    let handle = alice
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(run(line.clone()))),
            rmcp::service::PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), progress.recv())
        .await
        .expect("the first operation's progress")
        .unwrap();
    assert_eq!(first.progress, 1.0);
    handle
        .cancel(Some("the user pressed Esc".into()))
        .await
        .unwrap();

    // The run call's event is written when it ends; wait for it (bounded), then read it.
    let mut run_event = None;
    for _ in 0..100 {
        let events = w.env.audit().await;
        if let Some(e) = events
            .iter()
            .find(|e| e.tool == "gitgate" && e.arguments["run"] == json!(line))
        {
            let children = events
                .iter()
                .filter(|c| c.parent.as_deref() == Some(e.id.as_str()))
                .count();
            run_event = Some((e.clone(), children));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (event, children) = run_event.expect("the cancelled call is audited");
    assert!(!event.outcome.ok);
    assert_eq!(
        event.outcome.code.as_deref(),
        Some("cancelled"),
        "{event:?}"
    );
    assert_eq!(
        children, 1,
        "only the operation under way when the cancel came ran"
    );
    w.faults(json!({"reset": true})).await;
}
