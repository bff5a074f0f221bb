//! Lean mode and the `gitgate` meta tool: one small definition in `tools/list`, help on demand,
//! jq filters, server-side pipelines with fan-out, and every inner call judged by policy and
//! audited as its own event linked to the pipeline call.

use serde_json::{Value, json};

use crate::github::{REPO, World, call, err, issues_only, ok};
use crate::harness::{Env, Session, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_mode_lists_one_tool_and_reaches_all_through_it() {
    let env = Env::new();
    let s = Session::stdio(&env, &["--lean"]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["gitgate"]);

    // help: signatures, a query, one schema.
    let all = ok(&s.client, "gitgate", json!({"tool": "help"})).await;
    assert_eq!(all.lines().count(), 22, "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("git_log(") && l.contains("max_count")),
        "{all}"
    );
    let found = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "args": {"query": "blame"}}),
    )
    .await;
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(found.starts_with("git_blame(path*"), "{found}");
    let schema = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "args": {"tool": "git_log"}}),
    )
    .await;
    let schema: Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(schema["name"], "git_log");
    assert_eq!(schema["inputSchema"]["type"], "object");

    // One call through gitgate answers exactly as the direct call.
    let direct = s.call("git_log", json!({"max_count": 2})).await;
    let through = ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "args": {"max_count": 2}}),
    )
    .await;
    assert_eq!(through, text(&direct));
    // A jq filter over the JSON records.
    let subjects = ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "args": {"max_count": 2}, "jq": "[.[].subject]"}),
    )
    .await;
    assert_eq!(subjects, "second commit\nfirst commit");
    let count = ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "jq": "length"}),
    )
    .await;
    assert_eq!(count, "2");

    // The short form: flags beside the tool, the same answer; an integer may come as a string.
    let short = ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "max_count": "2"}),
    )
    .await;
    assert_eq!(short, text(&direct));
    let found = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "query": "blame"}),
    )
    .await;
    assert!(found.starts_with("git_blame(path*"), "{found}");
    let named = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "name": "git_log"}),
    )
    .await;
    assert!(named.contains("\"name\":\"git_log\""), "{named}");
    // A cut list says so under a filtered list or a count, not under one picked string.
    let cut = s.call("git_log", json!({"max_count": 1})).await;
    assert!(
        text(&cut).ends_with("... 1 more commit; pass skip=1"),
        "{}",
        text(&cut)
    );
    let picked = ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "max_count": 1, "jq": ".[0].subject"}),
    )
    .await;
    assert_eq!(picked, "second commit");
    let listed = ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "max_count": 1, "jq": "map(.subject)"}),
    )
    .await;
    // Bounded by the caller and filtered: no note (issue "Speak git and gh", a fan-out's
    // result was 45 of 49 tokens of "more" lines). Cut at the default bound, the note stays:
    // `a_pipeline_fans_out_in_one_round_trip_under_policy`.
    assert_eq!(listed, "second commit");

    // Mistakes come back as actionable errors.
    let msg = err(&s.client, "gitgate", json!({"tool": "git_lgo"})).await;
    assert!(msg.contains("unknown tool 'git_lgo'"), "{msg}");
    // Regression (issue "Speak git and gh"): an unknown tool named no nearest tool and no help.
    assert!(msg.contains("nearest: git_log"), "{msg}");
    assert!(msg.contains(r#"{"tool": "help"}"#), "{msg}");
    // Called directly by a name the lean tools/list does not show: the same help, not a bare
    // "unknown tool" (regression, issue "Speak git and gh").
    let direct = s
        .client
        .call_tool(rmcp::model::CallToolRequestParams::new("git_comit"))
        .await
        .expect_err("unknown tool");
    let direct = direct.to_string();
    assert!(direct.contains("unknown tool 'git_comit'"), "{direct}");
    assert!(direct.contains("nearest: git_commit"), "{direct}");
    assert!(direct.contains(r#"{"tool": "help"}"#), "{direct}");
    let msg = err(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "jq": ".[] |"}),
    )
    .await;
    assert!(msg.starts_with("jq filter does not parse"), "{msg}");
    let msg = err(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "args": {"max_cnt": 1}}),
    )
    .await;
    assert!(msg.contains("unknown field `max_cnt`"), "{msg}");
    let msg = err(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "max_cnt": 1}),
    )
    .await;
    assert!(msg.contains("unknown field `max_cnt`"), "{msg}");
    let msg = err(
        &s.client,
        "gitgate",
        json!({"tool": "git_log", "each": ".[]"}),
    )
    .await;
    assert!(msg.contains("each belongs in a step"), "{msg}");
    let msg = err(&s.client, "gitgate", json!({})).await;
    assert!(msg.contains("name a tool"), "{msg}");
    let nine: Vec<Value> = (0..9).map(|_| json!({"tool": "git_status"})).collect();
    let msg = err(&s.client, "gitgate", json!({"steps": nine})).await;
    assert!(msg.contains("at most 8 steps"), "{msg}");
    let msg = err(
        &s.client,
        "gitgate",
        json!({"steps": [{"tool": "git_status"}, {"tool": "git_log", "each": "range(60) | {max_count: 1}"}]}),
    )
    .await;
    assert!(msg.contains("at most 50 calls"), "{msg}");
    let msg = err(
        &s.client,
        "gitgate",
        json!({"steps": [{"tool": "gitgate", "args": {"tool": "git_status"}}]}),
    )
    .await;
    assert!(msg.contains("must be a git_* or gh_* tool"), "{msg}");

    // Inner calls are audited as their own events, linked to the pipeline call.
    let events = env.audit().await;
    let outer = events
        .iter()
        .rev()
        .find(|e| e.tool == "gitgate" && e.arguments["jq"] == "length")
        .expect("pipeline call audited");
    let inner: Vec<_> = events
        .iter()
        .filter(|e| e.parent.as_deref() == Some(outer.id.as_str()))
        .collect();
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].tool, "git_log");
    assert!(inner[0].outcome.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_fans_out_in_one_round_trip_under_policy() {
    let w = World::start(Some("lean = true\n")).await;
    let alice = w.client("alice").await;

    // Open bug issues, then each one's comments: one call, answered like jq would.
    let out = ok(
        &alice,
        "gitgate",
        json!({"steps": [
            {"tool": "gh_issue_list", "args": {"repo": REPO, "label": ["bug"], "limit": 4},
             "jq": "map({number})"},
            {"tool": "gh_issue_view", "args": {"repo": REPO}, "each": ".[]",
             "jq": "map({number, comments: (.comments | length)})"}
        ]}),
    )
    .await;
    let got: Vec<Value> = serde_json::from_str(&out).unwrap();
    let bugs = issues_only(
        &w.oracle("/repos/acme/widgets/issues?state=open&labels=bug&per_page=4")
            .await,
    );
    assert_eq!(got.len(), bugs.len().min(4), "{out}");
    for (g, b) in got.iter().zip(&bugs) {
        assert_eq!(g["number"], b["number"]);
        assert_eq!(g["comments"], b["comments"], "{out}");
    }
    let pipeline = w
        .env
        .audit()
        .await
        .into_iter()
        .rfind(|e| e.tool == "gitgate")
        .expect("pipeline audited");
    let inner: Vec<String> = w
        .env
        .audit()
        .await
        .into_iter()
        .filter(|e| e.parent.as_deref() == Some(pipeline.id.as_str()))
        .map(|e| e.tool)
        .collect();
    assert_eq!(inner.len(), 1 + got.len(), "{inner:?}");
    assert!(inner.iter().all(|t| t.starts_with("gh_issue_")));

    // A join across steps through $steps: open PR authors' open bug issues, in one call.
    let out = ok(
        &alice,
        "gitgate",
        json!({"steps": [
            {"tool": "gh_pr_list", "repo": REPO, "jq": "[.[].author]"},
            // The short form, as a model writes it: flags beside the tool, a label as a string.
            {"tool": "gh_issue_list", "repo": REPO, "label": "bug", "limit": "100",
             "jq": "[.[] | select([.assignees[]] | any(. as $a | $steps[0] | index($a))) | .number]"}
        ]}),
    )
    .await;
    // A list of plain values comes back one per line.
    let joined: Vec<u64> = out.lines().map(|l| l.parse().unwrap()).collect();
    let authors: Vec<String> = w
        .oracle("/repos/acme/widgets/pulls?state=open&per_page=100")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["login"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<u64> = issues_only(
        &w.oracle("/repos/acme/widgets/issues?state=open&labels=bug&per_page=100")
            .await,
    )
    .iter()
    .filter(|i| {
        i["assignees"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| authors.iter().any(|l| a["login"] == l.as_str()))
    })
    .map(|i| i["number"].as_u64().unwrap())
    .collect();
    assert!(!want.is_empty(), "the seed has such issues");
    assert_eq!(joined, want, "{out}");

    // carol may only read: a merge inside a pipeline is refused like a direct one.
    let carol = w.client("carol").await;
    let open_pr = w.oracle("/repos/acme/widgets/pulls?state=open").await[0]["number"]
        .as_u64()
        .unwrap();
    let result = call(
        &carol,
        "gitgate",
        json!({"steps": [{"tool": "gh_pr_view", "args": {"repo": REPO, "number": open_pr}},
                         {"tool": "gh_pr_merge", "args": {"repo": REPO, "number": open_pr}}]}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    let msg = text(&result);
    assert!(
        msg.starts_with("step 2 (gh_pr_merge): carol lacks scope github:merge"),
        "{msg}"
    );
    let pr = w
        .oracle(&format!("/repos/acme/widgets/pulls/{open_pr}"))
        .await;
    assert_eq!(pr["merged"], false);
    let denied = w
        .env
        .audit()
        .await
        .into_iter()
        .find(|e| e.tool == "gh_pr_merge" && e.user == "carol")
        .expect("inner denial audited");
    assert!(!denied.decision.allowed);
    assert!(denied.parent.is_some());

    // The seed's 40 issues, cut at the default 30: the filtered answer says so; bounded by the
    // caller's own limit, it does not (the caller asked for that many).
    let defaulted = ok(
        &alice,
        "gitgate",
        json!({"tool": "gh_issue_list", "args": {"repo": REPO, "state": "all"}, "jq": "map(.number) | length"}),
    )
    .await;
    assert!(defaulted.starts_with("30\n... "), "{defaulted}");
    let bounded = ok(
        &alice,
        "gitgate",
        json!({"tool": "gh_issue_list", "args": {"repo": REPO, "state": "all", "limit": 5}, "jq": "map(.number) | length"}),
    )
    .await;
    assert_eq!(bounded, "5");
}

/// The default tools/list (the gitgate tool on) leaves the less used tools out; each is still
/// called by name, through the gitgate tool's run and tool forms, and shown by its help.
/// Without the gitgate tool, nothing else would reach them, so they are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_less_used_tools_wait_behind_the_gitgate_tool_and_stay_callable() {
    let env = Env::new();
    let s = Session::stdio(&env, &[]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"gitgate"), "{names:?}");
    assert!(names.contains(&"git_status"), "{names:?}");
    for hidden in ["git_stash", "git_tag", "git_merge_base", "git_rm"] {
        assert!(!names.contains(&hidden), "{hidden} listed: {names:?}");
    }

    // By name: a tag, then read back through the run form.
    ok(
        &s.client,
        "git_tag",
        json!({"name": "v1", "message": "first release"}),
    )
    .await;
    let tags = ok(&s.client, "gitgate", json!({"run": "git tag -l"})).await;
    assert_eq!(tags.trim(), "v1");
    // Through the run form, as a model would type it.
    let base = ok(
        &s.client,
        "gitgate",
        json!({"run": "git merge-base main v1"}),
    )
    .await;
    let head = ok(&s.client, "gitgate", json!({"run": "git rev-parse HEAD"})).await;
    assert_eq!(base.trim(), head.trim());
    // Through the tool form, and in help with its signature.
    std::fs::write(env.repo.path().join("README.md"), "changed\n").unwrap();
    ok(
        &s.client,
        "gitgate",
        json!({"tool": "git_stash", "action": "push", "message": "wip"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(env.repo.path().join("README.md")).unwrap(),
        "hello\nworld\n"
    );
    let help = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "query": "stash"}),
    )
    .await;
    assert!(help.starts_with("git_stash("), "{help}");

    // Without the gitgate tool every tool of the toolset is listed.
    let plain = Session::stdio(&env, &["--toolsets", "git"]).await;
    let names = crate::harness::tool_names(&plain.client).await;
    assert!(names.contains(&"git_stash".to_owned()), "{names:?}");
    assert!(!names.contains(&"gitgate".to_owned()), "{names:?}");
}

/// `json` is gh's `--json a,b` string in tools/list, without the field names: a bare or wrong
/// one gets an error naming them, and the gitgate tool's help shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_fields_are_told_by_errors_and_help() {
    let env = Env::new();
    let s = Session::stdio(&env, &[]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    let log = tools.iter().find(|t| t.name == "git_log").unwrap();
    assert_eq!(
        log.input_schema["properties"]["json"],
        json!({"type": "string"})
    );

    let subjects = ok(
        &s.client,
        "git_log",
        json!({"json": "subject,short", "max_count": 1}),
    )
    .await;
    // The records, then a line saying how to get the rest.
    let first_line = subjects.lines().next().unwrap_or_default();
    let parsed: Value = serde_json::from_str(first_line).unwrap();
    assert_eq!(parsed[0]["subject"], "second commit");
    // A list of names works as before.
    let listed = ok(
        &s.client,
        "git_log",
        json!({"json": ["subject", "short"], "max_count": 1}),
    )
    .await;
    assert_eq!(listed, subjects);

    // `true`: every field.
    let whole = ok(&s.client, "git_log", json!({"json": true, "max_count": 1})).await;
    let whole: Value = serde_json::from_str(whole.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(whole[0]["subject"], "second commit");
    assert!(whole[0]["parents"].is_array(), "{whole}");
    let bare = err(&s.client, "git_log", json!({"json": ""})).await;
    assert!(bare.contains("sha,short,date,author"), "{bare}");
    let wrong = err(&s.client, "git_log", json!({"json": "title"})).await;
    assert!(wrong.contains("unknown json field 'title'"), "{wrong}");
    assert!(wrong.contains("subject"), "{wrong}");
    let help = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "query": "history"}),
    )
    .await;
    assert!(help.contains("json=sha,short,date,author"), "{help}");
    let schema = ok(
        &s.client,
        "gitgate",
        json!({"tool": "help", "name": "git_log"}),
    )
    .await;
    let schema: Value = serde_json::from_str(&schema).unwrap();
    let described = schema["inputSchema"]["properties"]["json"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(described.contains("subject"), "{schema}");
}
