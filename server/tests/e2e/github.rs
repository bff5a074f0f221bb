//! The GitHub tools through MCP, against the forge: every tool called by a real MCP client on the
//! gitgate binary, writes read back through the forge's own REST API, attribution per user,
//! connection reuse, policy and grants, and each upstream failure mode.

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{BIN, Client, Env, ServerProcess, connect_http, spawn_http, text};
use rmcp::model::{CallToolRequestParams, CallToolResult};

pub const REPO: &str = "acme/widgets";

/// A seeded forge, a gitgate HTTP server pointed at it, and users whose gitgate tokens map to
/// their own forge tokens.
pub struct World {
    pub env: Env,
    pub forge: gitgate_forge::Handle,
    _forge_dir: tempfile::TempDir,
    key_file: String,
    server: Option<ServerProcess>,
    http: reqwest::Client,
}

impl World {
    pub async fn start(config: Option<&str>) -> Self {
        Self::start_with(config, None).await
    }

    /// [`World::start`] with the forge answering URLs under `public_url` (as it does for the
    /// real gh, which names `github.localhost`), so both see the same URLs.
    pub async fn start_with(config: Option<&str>, public_url: Option<&str>) -> Self {
        let forge_dir = tempfile::tempdir().unwrap();
        let forge = gitgate_forge::start(gitgate_forge::Config {
            data_dir: forge_dir.path().to_path_buf(),
            seed: Some("demo".into()),
            public_url: public_url.map(str::to_owned),
        })
        .await
        .unwrap();
        let env = Env::new();
        let key = Command::new(BIN).arg("keygen").output().unwrap();
        assert!(key.status.success());
        let key_file = env.data.path().join("secret.key");
        std::fs::write(&key_file, &key.stdout).unwrap();
        let mut world = Self {
            env,
            forge,
            _forge_dir: forge_dir,
            key_file: key_file.display().to_string(),
            server: None,
            http: reqwest::Client::new(),
        };
        world.user_with_github("alice", "github:read github:write github:merge", "acme/*");
        world.user_with_github("bob", "github:read github:write", "acme/*");
        world.user_with_github("carol", "github:read", "acme/*");
        let mut extra = vec![
            "--github-url".to_owned(),
            world.forge.base_url.clone(),
            "--secret-key-file".to_owned(),
            world.key_file.clone(),
        ];
        if let Some(config) = config {
            let path = world.env.data.path().join("gitgate.toml");
            std::fs::write(&path, config).unwrap();
            extra.extend(["--config".to_owned(), path.display().to_string()]);
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        world.server = Some(spawn_http(&world.env, &extra));
        world
    }

    /// Adds a gitgate user and stores their own forge token through the CLI.
    pub fn user_with_github(&self, name: &str, scopes: &str, repos: &str) {
        let data = self.env.data_dir();
        let run = |args: &[&str], env: Option<(&str, &str)>| {
            let mut cmd = Command::new(BIN);
            cmd.args([
                "users",
                "--data-dir",
                &data,
                "--secret-key-file",
                &self.key_file,
            ]);
            cmd.args(args);
            if let Some((k, v)) = env {
                cmd.env(k, v);
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "users {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["add", name, "--scopes", scopes, "--repos", repos], None);
        let token = self.forge.tokens[name].clone();
        run(
            &["set-github-token", name, "--from-env", "FORGE_TOKEN"],
            Some(("FORGE_TOKEN", &token)),
        );
    }

    /// An MCP client for `name` with a fresh gitgate API token.
    pub async fn client(&self, name: &str) -> Client {
        let token = self.env.user(name, "", &[]).await;
        let url = &self.server.as_ref().unwrap().url;
        connect_http(url, &token).await.unwrap()
    }

    /// The gitgate server's MCP endpoint.
    pub fn url(&self) -> &str {
        &self.server.as_ref().unwrap().url
    }

    /// The forge's own answer to `GET path`, as alice.
    pub async fn oracle(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.forge.base_url))
            .header(
                "Authorization",
                format!("token {}", self.forge.tokens["alice"]),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn forge_admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.forge.base_url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn faults(&self, body: Value) {
        self.forge_admin(reqwest::Method::POST, "/_forge/faults", Some(body))
            .await;
    }

    async fn stats(&self) -> Value {
        self.forge_admin(reqwest::Method::GET, "/_forge/stats", None)
            .await
    }

    async fn reset_stats(&self) {
        self.forge_admin(reqwest::Method::DELETE, "/_forge/stats", None)
            .await;
    }
}

pub async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    let args = match args {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    client
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
        .await
        .unwrap()
}

/// The text of a successful call.
pub async fn ok(client: &Client, name: &str, args: Value) -> String {
    let result = call(client, name, args.clone()).await;
    assert_ne!(
        result.is_error,
        Some(true),
        "{name} {args}: {}",
        text(&result)
    );
    text(&result)
}

/// The message of a failed call.
pub async fn err(client: &Client, name: &str, args: Value) -> String {
    let result = call(client, name, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{name} {args}: {}",
        text(&result)
    );
    text(&result)
}

pub fn issues_only(v: &Value) -> Vec<Value> {
    v.as_array()
        .unwrap()
        .iter()
        .filter(|i| i.get("pull_request").is_none())
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_github_tool_answers_through_mcp() {
    let w = World::start(None).await;
    let alice = w.client("alice").await;
    let bob = w.client("bob").await;

    // Reads, each checked against the forge's own REST answer.
    let repo = w.oracle("/repos/acme/widgets").await;
    let out = ok(&alice, "gh_repo_view", json!({"repo": REPO})).await;
    assert!(out.starts_with("name:\tacme/widgets\n"), "{out}");
    assert!(out.contains(repo["description"].as_str().unwrap()), "{out}");

    let open = issues_only(
        &w.oracle("/repos/acme/widgets/issues?state=open&per_page=100")
            .await,
    );
    let listed = call(
        &alice,
        "gh_issue_list",
        json!({"repo": REPO, "limit": 3, "json": ["number", "title"]}),
    )
    .await;
    let items = listed.structured_content.as_ref().unwrap()["items"].clone();
    let want: Vec<Value> = open
        .iter()
        .take(3)
        .map(|i| json!({"number": i["number"], "title": i["title"]}))
        .collect();
    assert_eq!(items, Value::Array(want));
    let text_list = ok(&alice, "gh_issue_list", json!({"repo": REPO, "limit": 3})).await;
    assert!(
        text_list.ends_with(&format!("... {} more issues; raise limit", open.len() - 3)),
        "{text_list}"
    );

    let first = &open[0];
    let n = first["number"].as_u64().unwrap();
    let out = ok(&alice, "gh_issue_view", json!({"repo": REPO, "number": n})).await;
    assert!(out.contains(first["title"].as_str().unwrap()), "{out}");

    let prs = w
        .oracle("/repos/acme/widgets/pulls?state=all&per_page=100")
        .await;
    let pr = &prs[0];
    let pr_n = pr["number"].as_u64().unwrap();
    let out = ok(
        &alice,
        "gh_pr_list",
        json!({"repo": REPO, "state": "all", "limit": 100}),
    )
    .await;
    assert_eq!(out.lines().count(), prs.as_array().unwrap().len(), "{out}");
    let out = ok(&alice, "gh_pr_view", json!({"repo": REPO, "number": pr_n})).await;
    assert!(out.contains(pr["title"].as_str().unwrap()), "{out}");
    let files = w
        .oracle(&format!("/repos/acme/widgets/pulls/{pr_n}/files"))
        .await;
    let out = ok(&alice, "gh_pr_files", json!({"repo": REPO, "number": pr_n})).await;
    for f in files.as_array().unwrap() {
        assert!(out.contains(f["filename"].as_str().unwrap()), "{out}");
    }
    let out = ok(&alice, "gh_pr_diff", json!({"repo": REPO, "number": pr_n})).await;
    let first_file = files[0]["filename"].as_str().unwrap();
    assert!(out.contains(&format!("+++ b/{first_file}")), "{out}");

    let out = ok(
        &alice,
        "gh_file",
        json!({"repo": REPO, "path": "README.md", "ref": "main"}),
    )
    .await;
    let readme = w
        .oracle("/repos/acme/widgets/contents/README.md?ref=main")
        .await;
    assert_eq!(readme["type"], "file");
    assert!(!out.is_empty());
    let commits = w.oracle("/repos/acme/widgets/commits?per_page=5").await;
    let out = ok(&alice, "gh_commits", json!({"repo": REPO, "limit": 5})).await;
    for c in commits.as_array().unwrap() {
        let short = &c["sha"].as_str().unwrap()[..7];
        assert!(out.contains(short), "{short} missing: {out}");
    }
    let label_bug = issues_only(
        &w.oracle("/repos/acme/widgets/issues?state=open&labels=bug&per_page=100")
            .await,
    );
    let out = ok(
        &alice,
        "gh_search_issues",
        json!({"repo": REPO, "state": "open", "label": ["bug"], "limit": 100, "json": ["number"]}),
    )
    .await;
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found.as_array().unwrap().len(), label_bug.len(), "{out}");
    let out = ok(
        &alice,
        "gh_search_code",
        json!({"repo": REPO, "query": "fn", "limit": 5}),
    )
    .await;
    assert!(out.starts_with("acme/widgets:"), "{out}");

    // Writes: the same create as alice and as bob lands as each of them.
    let mut created = Vec::new();
    for (who, client) in [("alice", &alice), ("bob", &bob)] {
        let out = ok(
            client,
            "gh_issue_create",
            json!({"repo": REPO, "title": format!("Filed by {who} via MCP"), "label": ["bug"]}),
        )
        .await;
        let num: u64 = out
            .rsplit('/')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no issue number in {out}"));
        let back = w.oracle(&format!("/repos/acme/widgets/issues/{num}")).await;
        assert_eq!(back["user"]["login"], who);
        assert_eq!(back["title"], format!("Filed by {who} via MCP"));
        created.push(num);
    }
    let num = created[0];
    ok(
        &bob,
        "gh_issue_comment",
        json!({"repo": REPO, "number": num, "body": "Reproduced."}),
    )
    .await;
    let comments = w
        .oracle(&format!("/repos/acme/widgets/issues/{num}/comments"))
        .await;
    assert_eq!(comments[0]["user"]["login"], "bob");
    assert_eq!(comments[0]["body"], "Reproduced.");
    ok(
        &alice,
        "gh_issue_edit",
        json!({"repo": REPO, "number": num, "title": "Renamed", "add_label": ["enhancement"],
               "remove_label": ["bug"], "state": "closed", "reason": "completed"}),
    )
    .await;
    let back = w.oracle(&format!("/repos/acme/widgets/issues/{num}")).await;
    assert_eq!(back["title"], "Renamed");
    assert_eq!(back["state"], "closed");
    assert_eq!(back["labels"][0]["name"], "enhancement");

    // A pull request by bob from the branch of the closed one, reviewed, merged by alice.
    let closed = prs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["state"] == "closed" && p["merged_at"].is_null())
        .expect("a closed, unmerged pull request in the seed");
    let head = closed["head"]["ref"].as_str().unwrap();
    let out = ok(
        &bob,
        "gh_pr_create",
        json!({"repo": REPO, "title": "Second try", "head": head}),
    )
    .await;
    let new_pr: u64 = out
        .rsplit('/')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no PR number in {out}"));
    let back = w
        .oracle(&format!("/repos/acme/widgets/pulls/{new_pr}"))
        .await;
    assert_eq!(back["user"]["login"], "bob");
    ok(
        &alice,
        "gh_pr_review",
        json!({"repo": REPO, "number": new_pr, "event": "approve"}),
    )
    .await;
    let reviews = w
        .oracle(&format!("/repos/acme/widgets/pulls/{new_pr}/reviews"))
        .await;
    assert_eq!(reviews[0]["user"]["login"], "alice");
    assert_eq!(reviews[0]["state"], "APPROVED");
    ok(
        &alice,
        "gh_pr_merge",
        json!({"repo": REPO, "number": new_pr, "method": "squash"}),
    )
    .await;
    let back = w
        .oracle(&format!("/repos/acme/widgets/pulls/{new_pr}"))
        .await;
    assert_eq!(back["merged"], true);
    assert_eq!(back["merged_by"]["login"], "alice");

    // Every call is in the audit log with its user, tool and GitHub target.
    let events = w.env.audit().await;
    let merge = events
        .iter()
        .find(|e| e.tool == "gh_pr_merge")
        .expect("merge audited");
    assert_eq!(merge.user, "alice");
    assert_eq!(merge.target.repo.as_deref(), Some(REPO));
    assert_eq!(merge.target.issue, Some(new_pr));
    assert!(merge.outcome.ok);
    // The forge's X-GitHub-Request-Id of the merge answer is recorded with the call.
    assert_eq!(merge.upstream_request_ids.len(), 1, "{merge:?}");
    assert!(merge.upstream_request_ids[0].starts_with("F0"), "{merge:?}");
    let tools: std::collections::BTreeSet<&str> = events.iter().map(|e| e.tool.as_str()).collect();
    assert_eq!(
        tools.iter().filter(|t| t.starts_with("gh_")).count(),
        17,
        "{tools:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_and_grants_govern_github_tools() {
    let w = World::start(None).await;
    let carol = w.client("carol").await;
    let bob = w.client("bob").await;
    let alice = w.client("alice").await;

    // A read-only user sees no write tools and cannot merge.
    let names = crate::harness::tool_names(&carol).await;
    assert!(names.contains(&"gh_pr_view".to_owned()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n == "gh_pr_merge" || n == "gh_issue_create")
    );
    let open_pr = w.oracle("/repos/acme/widgets/pulls?state=open").await[0]["number"]
        .as_u64()
        .unwrap();
    let msg = err(
        &carol,
        "gh_pr_merge",
        json!({"repo": REPO, "number": open_pr}),
    )
    .await;
    assert!(msg.contains("carol lacks scope github:merge"), "{msg}");
    // bob may write but not merge.
    let msg = err(
        &bob,
        "gh_pr_merge",
        json!({"repo": REPO, "number": open_pr}),
    )
    .await;
    assert!(msg.contains("bob lacks scope github:merge"), "{msg}");
    let back = w
        .oracle(&format!("/repos/acme/widgets/pulls/{open_pr}"))
        .await;
    assert_eq!(back["merged"], false);

    // Grants: acme/* only.
    let msg = err(&alice, "gh_issue_list", json!({"repo": "other/secret"})).await;
    assert!(
        msg.contains("no grant for repository other/secret"),
        "{msg}"
    );
    // A search naming no repository would span GitHub: refused for a user with narrow grants.
    let msg = err(&alice, "gh_search_issues", json!({"query": "crash"})).await;
    assert!(msg.contains("name the repository"), "{msg}");
    // ... and a repository smuggled into the query text is refused too.
    let msg = err(
        &alice,
        "gh_search_issues",
        json!({"repo": REPO, "query": "crash repo:other/secret"}),
    )
    .await;
    assert!(msg.contains("must not contain `repo:`"), "{msg}");
    let msg = err(
        &alice,
        "gh_search_code",
        json!({"repo": REPO, "query": "org:other token"}),
    )
    .await;
    assert!(msg.contains("must not contain `org:`"), "{msg}");

    // Bad input: clear errors, nothing lost.
    let msg = err(
        &alice,
        "gh_issue_view",
        json!({"repo": REPO, "number": 99999}),
    )
    .await;
    assert!(msg.contains("not found"), "{msg}");
    let msg = err(&alice, "gh_issue_view", json!({"repo": REPO})).await;
    assert!(msg.contains("missing field `number`"), "{msg}");
    let msg = err(
        &alice,
        "gh_file",
        json!({"repo": REPO, "path": "../../etc/passwd"}),
    )
    .await;
    assert!(!msg.is_empty());

    // Each refusal is in the audit log as denied, with the rule.
    let events = w.env.audit().await;
    let denied: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| !e.decision.allowed)
        .map(|e| (e.user.as_str(), e.tool.as_str(), e.decision.rule.as_str()))
        .collect();
    assert!(
        denied.contains(&("carol", "gh_pr_merge", "denied:missing-scope:github:merge")),
        "{denied:?}"
    );
    assert!(
        denied.contains(&("alice", "gh_issue_list", "denied:no-grant:other/secret")),
        "{denied:?}"
    );
    assert!(
        denied.contains(&("alice", "gh_search_issues", "denied:repo-required")),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_per_user_is_kept_by_the_server() {
    let w = World::start(None).await;
    let alice = w.client("alice").await;
    let bob = w.client("bob").await;
    // Warm both users' clients, then count only what follows.
    ok(&alice, "gh_repo_view", json!({"repo": REPO})).await;
    ok(&bob, "gh_repo_view", json!({"repo": REPO})).await;
    w.reset_stats().await;
    let before = w.stats().await["connections"].as_u64().unwrap();
    const CALLS: usize = 25;
    for i in 0..CALLS {
        ok(
            &alice,
            "gh_issue_view",
            json!({"repo": REPO, "number": 1 + (i % 4)}),
        )
        .await;
        ok(&bob, "gh_repo_view", json!({"repo": REPO})).await;
    }
    let stats = w.stats().await;
    let opened = stats["connections"].as_u64().unwrap() - before;
    eprintln!(
        "{CALLS} calls each by alice and bob through gitgate: {opened} new TCP connections; {stats}"
    );
    assert_eq!(stats["tokens"]["bob"]["requests"], CALLS as u64);
    // One pooled connection carries it all; hyper rarely opens a second when a request is
    // checked out just before the previous connection is back in the pool.
    assert!(opened <= 2, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_become_clear_tool_errors() {
    let w = World::start(Some("[github]\ntimeout_secs = 1\n")).await;
    let alice = w.client("alice").await;
    let view = json!({"repo": REPO});
    ok(&alice, "gh_repo_view", view.clone()).await;

    // 5xx on every attempt: retried, then reported with the status.
    w.faults(json!({"error_rate": 1.0, "error_status": 502}))
        .await;
    w.reset_stats().await;
    let msg = err(&alice, "gh_repo_view", view.clone()).await;
    assert_eq!(msg, "GitHub answered 502: Server Error");
    assert_eq!(w.stats().await["tokens"]["alice"]["requests"], 4);

    // Half the requests fail: retries hide it.
    w.faults(json!({"reset": true, "error_rate": 0.5})).await;
    for _ in 0..4 {
        ok(&alice, "gh_repo_view", view.clone()).await;
    }

    // Rate limit spent: the user and the reset time are named; no retry.
    w.faults(json!({"reset": true, "rate_limit_remaining": 0}))
        .await;
    w.reset_stats().await;
    let msg = err(&alice, "gh_issue_list", view.clone()).await;
    assert!(
        msg.starts_with("GitHub rate limit reached for alice; resets at "),
        "{msg}"
    );
    assert!(msg.ends_with(" UTC"), "{msg}");
    assert_eq!(w.stats().await["tokens"]["alice"]["requests"], 1);

    // Slower than the configured timeout: a timeout error, not a hang.
    w.faults(json!({"reset": true, "latency_ms": 3000})).await;
    let msg = err(&alice, "gh_repo_view", view.clone()).await;
    assert_eq!(msg, "GitHub did not answer within 1 s");

    // The server lived through all of it.
    w.faults(json!({"reset": true})).await;
    ok(&alice, "gh_repo_view", view.clone()).await;
    let events = w.env.audit().await;
    let codes: Vec<&str> = events
        .iter()
        .filter_map(|e| e.outcome.code.as_deref())
        .collect();
    for code in ["upstream", "rate-limited", "timeout"] {
        assert!(codes.contains(&code), "{code} not audited: {codes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_uses_the_local_users_github_token() {
    let forge_dir = tempfile::tempdir().unwrap();
    let forge = gitgate_forge::start_ephemeral(forge_dir.path())
        .await
        .unwrap();
    let env = Env::new();
    let spawn = |token: Option<&str>| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["serve", "--stdio", "--data-dir", &env.data_dir()])
            .args(["--repo", &format!("app={}", env.repo.path().display())])
            .args(["--github-url", &forge.base_url, "--github-repo", REPO])
            .env_remove("GITHUB_TOKEN")
            .env_remove("GH_TOKEN");
        if let Some(token) = token {
            cmd.env("GITHUB_TOKEN", token);
        }
        cmd
    };
    use rmcp::ServiceExt;
    let carol = ()
        .serve(
            rmcp::transport::TokioChildProcess::new(spawn(Some(&forge.tokens["carol"]))).unwrap(),
        )
        .await
        .unwrap();
    // No repo given: the configured default repository is used.
    let out = ok(&carol, "gh_issue_create", json!({"title": "From stdio"})).await;
    let num: u64 = out.rsplit('/').next().unwrap().trim().parse().unwrap();
    let back: Value = reqwest::Client::new()
        .get(format!(
            "{}/repos/acme/widgets/issues/{num}",
            forge.base_url
        ))
        .header("Authorization", format!("token {}", forge.tokens["alice"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(back["user"]["login"], "carol");
    drop(carol);

    let anonymous =
        ().serve(rmcp::transport::TokioChildProcess::new(spawn(None)).unwrap())
            .await
            .unwrap();
    let msg = err(&anonymous, "gh_repo_view", json!({})).await;
    assert_eq!(
        msg,
        "local has no GitHub token; start gitgate with GITHUB_TOKEN (or GH_TOKEN) set"
    );
}

/// Regression (issue "One place for each decision"): a GitHub call naming no repository by a
/// user without `**` was refused after policy had already charged the user's rate limit (the
/// rule was patched in after `Policy::decide`). Now policy owns the rule and charges last: the
/// refusal costs nothing, and the user's one call of the minute still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_refused_for_want_of_a_repo_costs_no_rate_limit() {
    let w = World::start(None).await;
    let store = w.env.store().await;
    store.set_rate_limit("carol", Some(1)).await.unwrap();
    let carol = w.client("carol").await;
    let msg = err(&carol, "gh_search_issues", json!({"query": "crash"})).await;
    assert!(msg.contains("name the repository"), "{msg}");
    let msg = err(&carol, "gh_search_code", json!({"query": "valve"})).await;
    assert!(msg.contains("name the repository"), "{msg}");
    // The one allowed call of carol's minute.
    ok(&carol, "gh_repo_view", json!({"repo": REPO})).await;
    let msg = err(&carol, "gh_repo_view", json!({"repo": REPO})).await;
    assert!(msg.contains("rate limit"), "{msg}");
}
