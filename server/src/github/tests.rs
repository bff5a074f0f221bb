//! The GitHub operations against the in-process forge: each read compared with the forge's own
//! REST answers (the oracle), writes read back and attributed, connection reuse measured with
//! `/_forge/stats`, and retries, rate limits and timeouts driven by `/_forge/faults`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const REPO: &str = "acme/widgets";

/// A seeded forge, a client set pointed at it, and a plain REST client for the oracle.
struct Fixture {
    _dir: tempfile::TempDir,
    forge: gitgate_forge::Handle,
    clients: Clients,
    http: reqwest::Client,
}

impl Fixture {
    async fn start() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(tweak: impl FnOnce(&mut GithubConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let forge = gitgate_forge::start_ephemeral(dir.path())
            .await
            .expect("forge starts");
        let mut config = GithubConfig {
            base_url: forge.base_url.clone(),
            timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(2),
            default_repo: None,
            max_body: client::MAX_BODY,
            git_url: None,
        };
        tweak(&mut config);
        let mut tokens = forge.tokens.clone();
        tokens.insert("mallory".into(), "ghp_not_a_token".into());
        let clients = Clients::new(config, Arc::new(tokens)).expect("clients");
        Self {
            _dir: dir,
            forge,
            clients,
            http: reqwest::Client::new(),
        }
    }

    /// The forge's own answer to `GET path` as alice.
    async fn oracle(&self, path: &str) -> Value {
        self.oracle_as("alice", path).await
    }

    async fn oracle_as(&self, login: &str, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.forge.base_url))
            .header(
                "Authorization",
                format!("token {}", self.forge.token(login)),
            )
            .send()
            .await
            .expect("oracle request");
        assert!(
            resp.status().is_success(),
            "oracle {path}: {}",
            resp.status()
        );
        resp.json().await.expect("oracle json")
    }

    async fn oracle_text(&self, path: &str, accept: &str) -> String {
        self.http
            .get(format!("{}{path}", self.forge.base_url))
            .header(
                "Authorization",
                format!("token {}", self.forge.token("alice")),
            )
            .header("Accept", accept)
            .send()
            .await
            .expect("oracle request")
            .text()
            .await
            .expect("oracle text")
    }

    async fn faults(&self, body: Value) {
        let resp = self
            .http
            .post(format!("{}/_forge/faults", self.forge.base_url))
            .json(&body)
            .send()
            .await
            .expect("faults");
        assert_eq!(resp.status().as_u16(), 200, "faults {body}");
    }

    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_forge/stats", self.forge.base_url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    async fn reset_stats(&self) {
        self.http
            .delete(format!("{}/_forge/stats", self.forge.base_url))
            .send()
            .await
            .expect("reset stats");
    }
}

/// Asserts the text's lines equal `expected` exactly (a trailing more line included).
fn check(out: &Output, expected: &[String]) {
    let got: Vec<&str> = out.text.lines().collect();
    let want: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(got, want, "full text:\n{}", out.text);
}

fn repo() -> Option<String> {
    Some(REPO.into())
}

/// `#12  OPEN  Title  label1, label2  alice` from a REST issue, the oracle's way.
fn expected_issue_line(v: &Value) -> String {
    let labels: Vec<&str> = v["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l["name"].as_str().expect("name"))
        .collect();
    format!(
        "#{}  {}  {}  {}  {}",
        v["number"],
        v["state"].as_str().expect("state").to_uppercase(),
        v["title"].as_str().expect("title"),
        labels.join(", "),
        v["user"]["login"].as_str().expect("login")
    )
}

fn issues_only(v: &Value) -> Vec<Value> {
    v.as_array()
        .expect("array")
        .iter()
        .filter(|i| i.get("pull_request").is_none())
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_match_the_forge() {
    let f = Fixture::start().await;
    let c = &f.clients;

    // gh_repo_view
    let out = repo_view(c, "alice", &RepoViewArgs { repo: repo() })
        .await
        .expect("repo view");
    let r = f.oracle("/repos/acme/widgets").await;
    assert!(
        out.text.starts_with("name:\tacme/widgets\n"),
        "{}",
        out.text
    );
    assert!(out.text.contains(&format!(
        "description:\t{}",
        r["description"].as_str().expect("d")
    )));
    assert!(out.text.contains("default branch:\tmain"));
    assert_eq!(out.data["defaultBranch"], "main");

    // gh_issue_list: default (open, 30) and filtered, cut with a more line.
    let all_open = issues_only(
        &f.oracle("/repos/acme/widgets/issues?state=open&per_page=100")
            .await,
    );
    let out = issue_list(
        c,
        "alice",
        &IssueListArgs {
            repo: repo(),
            ..Default::default()
        },
    )
    .await
    .expect("issue list");
    let mut want: Vec<String> = all_open.iter().take(30).map(expected_issue_line).collect();
    if all_open.len() > 30 {
        want.push(format!(
            "... {} more issues; raise limit",
            all_open.len() - 30
        ));
    }
    check(&out, &want);

    let closed = issues_only(
        &f.oracle("/repos/acme/widgets/issues?state=closed&per_page=100")
            .await,
    );
    assert!(closed.len() > 3, "the fixture closes some issues");
    let out = issue_list(
        c,
        "alice",
        &IssueListArgs {
            repo: repo(),
            state: issues::StateFilter::Closed,
            limit: Some(3),
            ..Default::default()
        },
    )
    .await
    .expect("closed issues");
    let mut want: Vec<String> = closed.iter().take(3).map(expected_issue_line).collect();
    want.push(format!("... {} more issues; raise limit", closed.len() - 3));
    check(&out, &want);
    assert_eq!(out.data.as_array().expect("records").len(), 3);

    // A label and an assignee filter, as the forge applies them.
    let labelled = &closed[0]["labels"][0]["name"];
    if let Some(label) = labelled.as_str() {
        let want = issues_only(
            &f.oracle(&format!(
                "/repos/acme/widgets/issues?state=all&labels={}&per_page=100",
                percent_encoding::utf8_percent_encode(label, percent_encoding::NON_ALPHANUMERIC)
            ))
            .await,
        );
        let out = issue_list(
            c,
            "alice",
            &IssueListArgs {
                repo: repo(),
                state: issues::StateFilter::All,
                label: vec![label.into()],
                limit: Some(100),
                ..Default::default()
            },
        )
        .await
        .expect("labelled issues");
        check(
            &out,
            &want.iter().map(expected_issue_line).collect::<Vec<_>>(),
        );
    }

    // gh_issue_view with its comments.
    let with_comments = all_open
        .iter()
        .chain(&closed)
        .find(|i| i["comments"].as_u64().unwrap_or(0) >= 2)
        .expect("an issue with comments");
    let n = with_comments["number"].as_u64().expect("number");
    let comments = f
        .oracle(&format!("/repos/acme/widgets/issues/{n}/comments"))
        .await;
    let out = issue_view(
        c,
        "bob",
        &IssueViewArgs {
            repo: repo(),
            number: n,
            limit: None,
        },
    )
    .await
    .expect("issue view");
    let first = out.text.lines().next().expect("title line");
    assert_eq!(
        first,
        format!("{} #{n}", with_comments["title"].as_str().expect("t"))
    );
    for cm in comments.as_array().expect("comments") {
        assert!(
            out.text
                .contains(cm["body"].as_str().expect("body").trim_end())
        );
        assert!(
            out.text
                .contains(&format!("--- {}", cm["user"]["login"].as_str().expect("l")))
        );
    }
    assert_eq!(
        out.data["comments"].as_array().expect("records").len(),
        comments.as_array().expect("comments").len()
    );
    let out = issue_view(
        c,
        "bob",
        &IssueViewArgs {
            repo: repo(),
            number: n,
            limit: Some(1),
        },
    )
    .await
    .expect("issue view, one comment");
    let more = comments.as_array().expect("c").len() - 1;
    assert_eq!(
        out.more,
        Some(format!("... {more} more comments; raise limit"))
    );
    assert!(out.text.ends_with(out.more.as_deref().expect("more")));

    // gh_pr_list: merged, all, and drafts shown as DRAFT.
    let out = pr_list(
        c,
        "alice",
        &PrListArgs {
            repo: repo(),
            state: pulls::PrState::Merged,
            ..Default::default()
        },
    )
    .await
    .expect("merged prs");
    let numbers: Vec<u64> = out
        .data
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["number"].as_u64().expect("n"))
        .collect();
    assert_eq!(numbers, vec![35, 25, 15, 5]);
    assert!(
        out.text.lines().all(|l| l.contains("  MERGED  ")),
        "{}",
        out.text
    );
    let out = pr_list(
        c,
        "alice",
        &PrListArgs {
            repo: repo(),
            ..Default::default()
        },
    )
    .await
    .expect("open prs");
    assert_eq!(out.text.lines().count(), 4, "{}", out.text);
    assert!(out.text.contains("#45  DRAFT  "), "{}", out.text);
    let out = pr_list(
        c,
        "alice",
        &PrListArgs {
            repo: repo(),
            state: pulls::PrState::All,
            limit: Some(4),
            ..Default::default()
        },
    )
    .await
    .expect("all prs");
    assert_eq!(
        out.more.as_deref(),
        Some("... 6 more pull requests; raise limit")
    );

    // gh_pr_view: #20 has changes requested.
    let p = f.oracle("/repos/acme/widgets/pulls/20").await;
    let out = pr_view(
        c,
        "alice",
        &PrViewArgs {
            repo: repo(),
            number: 20,
            comments: None,
        },
    )
    .await
    .expect("pr view");
    check(
        &Output {
            text: out.text.lines().take(2).collect::<Vec<_>>().join("\n"),
            ..out.clone()
        },
        &[
            format!("{} #20", p["title"].as_str().expect("t")),
            format!(
                "OPEN · {} wants to merge {} into main from {} · +{} -{} · {} files · opened {}",
                p["user"]["login"].as_str().expect("l"),
                // Regression: "1 commits" (issue "Speak git and gh").
                match p["commits"].as_u64() {
                    Some(1) => "1 commit".to_owned(),
                    n => format!("{} commits", n.expect("commits")),
                },
                p["head"]["ref"].as_str().expect("h"),
                p["additions"],
                p["deletions"],
                p["changed_files"],
                &p["created_at"].as_str().expect("c")[..10],
            ),
        ],
    );
    assert!(out.text.contains("CHANGES_REQUESTED"), "{}", out.text);

    // gh_pr_diff: byte-equal to the forge's diff; cut with a more line.
    let diff = f
        .oracle_text(
            "/repos/acme/widgets/pulls/20",
            "application/vnd.github.diff",
        )
        .await;
    let out = pr_diff(
        c,
        "alice",
        &PrDiffArgs {
            repo: repo(),
            number: 20,
            limit: None,
        },
    )
    .await
    .expect("pr diff");
    assert!(diff.starts_with("diff --git"), "{diff}");
    assert_eq!(out.text, diff);
    let out = pr_diff(
        c,
        "alice",
        &PrDiffArgs {
            repo: repo(),
            number: 20,
            limit: Some(3),
        },
    )
    .await
    .expect("pr diff cut");
    let mut want: Vec<String> = diff.lines().take(3).map(str::to_owned).collect();
    want.push(format!(
        "... {} more diff lines; raise limit",
        diff.lines().count() - 3
    ));
    check(&out, &want);

    // gh_pr_files.
    let files = f.oracle("/repos/acme/widgets/pulls/20/files").await;
    let out = pr_files(
        c,
        "alice",
        &PrFilesArgs {
            repo: repo(),
            number: 20,
            limit: None,
        },
    )
    .await
    .expect("pr files");
    let want: Vec<String> = files
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let letter = match f["status"].as_str().expect("status") {
                "added" => "A",
                "removed" => "D",
                "renamed" => "R",
                _ => "M",
            };
            format!(
                "{letter}  {}  +{} -{}",
                f["filename"].as_str().expect("name"),
                f["additions"],
                f["deletions"]
            )
        })
        .collect();
    check(&out, &want);

    // gh_search_issues: closed issues, compared with the forge's search.
    let found = f
        .oracle(
            "/search/issues?q=repo%3Aacme%2Fwidgets%20state%3Aclosed%20type%3Aissue&per_page=100",
        )
        .await;
    let out = search_issues(
        c,
        "carol",
        &SearchIssuesArgs {
            repo: repo(),
            state: Some("closed".into()),
            limit: Some(2),
            ..Default::default()
        },
    )
    .await
    .expect("search issues");
    let total = found["total_count"].as_u64().expect("total") as usize;
    let mut want: Vec<String> = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .take(2)
        .map(|i| format!("acme/widgets{}", expected_issue_line(i)))
        .collect();
    want.push(format!("... {} more results; raise limit", total - 2));
    check(&out, &want);

    // gh_search_code.
    let found = f
        .oracle("/search/code?q=fn%20repo%3Aacme%2Fwidgets&per_page=100")
        .await;
    let out = search_code(
        c,
        "alice",
        &SearchCodeArgs {
            query: "fn".into(),
            repo: repo(),
            path: None,
            limit: Some(100),
        },
    )
    .await
    .expect("search code");
    let want: Vec<String> = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| format!("acme/widgets:{}", i["path"].as_str().expect("path")))
        .collect();
    assert!(!want.is_empty(), "the fixture has code with fn");
    check(&out, &want);

    // gh_file at a tag, and a directory.
    let raw = f
        .oracle_text(
            "/repos/acme/widgets/contents/README.md?ref=v0.1.0",
            "application/vnd.github.raw",
        )
        .await;
    let out = file(
        c,
        "alice",
        &FileArgs {
            repo: repo(),
            path: "README.md".into(),
            r#ref: Some("v0.1.0".into()),
            limit: None,
        },
    )
    .await
    .expect("file");
    assert_eq!(out.text, raw);
    let err = file(
        c,
        "alice",
        &FileArgs {
            repo: repo(),
            path: "no/such.rs".into(),
            r#ref: Some("main".into()),
            limit: None,
        },
    )
    .await
    .expect_err("missing file");
    assert_eq!(
        err.to_string(),
        "no/such.rs at main in acme/widgets not found on GitHub"
    );
    let root = f.oracle("/repos/acme/widgets/contents/").await;
    let out = file(
        c,
        "alice",
        &FileArgs {
            repo: repo(),
            path: "".into(),
            ..Default::default()
        },
    )
    .await
    .expect("root dir");
    assert_eq!(
        out.text.lines().count(),
        root.as_array().expect("entries").len()
    );

    // gh_commits: 207 on main, ten shown.
    let log = f.oracle("/repos/acme/widgets/commits?per_page=10").await;
    let out = commits(
        c,
        "alice",
        &CommitsArgs {
            repo: repo(),
            limit: Some(10),
            ..Default::default()
        },
    )
    .await
    .expect("commits");
    let shas: Vec<&str> = out.text.lines().take(10).map(|l| &l[..7]).collect();
    let want: Vec<&str> = log
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| &c["sha"].as_str().expect("sha")[..7])
        .collect();
    assert_eq!(shas, want);
    assert_eq!(
        out.more.as_deref(),
        Some("... 197 more commits; raise limit")
    );

    // The exact count costs one request for the last page, however long the history.
    for (limit, requests, more) in [(10, 2, 197), (150, 3, 57), (207, 3, 0), (300, 3, 0)] {
        f.reset_stats().await;
        let args = CommitsArgs {
            repo: repo(),
            limit: Some(limit),
            ..Default::default()
        };
        let out = commits(c, "alice", &args).await.expect("commits");
        assert_eq!(out.data.as_array().expect("records").len(), limit.min(207));
        let more = (more > 0).then(|| format!("... {more} more commits; raise limit"));
        assert_eq!(out.more, more, "limit {limit}");
        assert_eq!(alice_requests(&f).await, requests, "limit {limit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_land_as_the_calling_user() {
    let f = Fixture::start().await;
    let c = &f.clients;

    // The same create as alice and as bob shows up as each of them.
    let mut numbers = Vec::new();
    for who in ["alice", "bob"] {
        let out = issue_create(
            c,
            who,
            &IssueCreateArgs {
                repo: repo(),
                title: format!("Filed by {who}"),
                body: Some("via gitgate".into()),
                label: vec!["bug".into()],
                assignee: vec!["carol".into()],
            },
        )
        .await
        .expect("create");
        let n = out.data["number"].as_u64().expect("number");
        assert!(
            out.text.ends_with(&format!("/acme/widgets/issues/{n}")),
            "{}",
            out.text
        );
        let back = f.oracle(&format!("/repos/acme/widgets/issues/{n}")).await;
        assert_eq!(back["user"]["login"], who);
        assert_eq!(back["title"], format!("Filed by {who}"));
        assert_eq!(back["labels"][0]["name"], "bug");
        assert_eq!(back["assignees"][0]["login"], "carol");
        numbers.push(n);
    }
    let n = numbers[0];

    // A comment by bob on alice's issue.
    let out = issue_comment(
        c,
        "bob",
        &IssueCommentArgs {
            repo: repo(),
            number: n,
            body: "Seen.".into(),
        },
    )
    .await
    .expect("comment");
    assert_eq!(out.data["author"], "bob");
    let back = f
        .oracle(&format!("/repos/acme/widgets/issues/{n}/comments"))
        .await;
    assert_eq!(back[0]["user"]["login"], "bob");
    assert_eq!(back[0]["body"], "Seen.");

    // Edit: title, labels and assignees added and removed, then close and reopen.
    let out = issue_edit(
        c,
        "carol",
        &IssueEditArgs {
            repo: repo(),
            number: n,
            title: Some("Renamed".into()),
            add_label: vec!["enhancement".into()],
            remove_label: vec!["bug".into()],
            add_assignee: vec!["alice".into()],
            remove_assignee: vec!["carol".into()],
            ..Default::default()
        },
    )
    .await
    .expect("edit");
    // As short as gh's reply: the issue's URL; the record is in the data.
    assert!(
        out.text.ends_with(&format!("/acme/widgets/issues/{n}")) && !out.text.contains('\n'),
        "{}",
        out.text
    );
    assert_eq!(out.data["title"], "Renamed");
    let back = f.oracle(&format!("/repos/acme/widgets/issues/{n}")).await;
    assert_eq!(back["title"], "Renamed");
    assert_eq!(back["labels"].as_array().expect("l").len(), 1);
    assert_eq!(back["labels"][0]["name"], "enhancement");
    assert_eq!(back["assignees"][0]["login"], "alice");
    assert_eq!(back["assignees"].as_array().expect("a").len(), 1);

    let close = IssueEditArgs {
        repo: repo(),
        number: n,
        state: Some(issues::State::Closed),
        reason: Some(issues::Reason::NotPlanned),
        ..Default::default()
    };
    issue_edit(c, "alice", &close).await.expect("close");
    let back = f.oracle(&format!("/repos/acme/widgets/issues/{n}")).await;
    assert_eq!(
        (back["state"].as_str(), back["state_reason"].as_str()),
        (Some("closed"), Some("not_planned"))
    );
    let reopen = IssueEditArgs {
        repo: repo(),
        number: n,
        state: Some(issues::State::Open),
        ..Default::default()
    };
    issue_edit(c, "alice", &reopen).await.expect("reopen");
    let back = f.oracle(&format!("/repos/acme/widgets/issues/{n}")).await;
    assert_eq!(back["state"], "open");
    let err = issue_edit(
        c,
        "alice",
        &IssueEditArgs {
            repo: repo(),
            number: n,
            ..Default::default()
        },
    )
    .await
    .expect_err("nothing to edit");
    assert_eq!(err.to_string(), "nothing to edit");

    // A pull request by carol from the branch of closed #10, onto the default branch.
    let closed = f.oracle("/repos/acme/widgets/pulls/10").await;
    let head = closed["head"]["ref"].as_str().expect("head").to_owned();
    let out = pr_create(
        c,
        "carol",
        &PrCreateArgs {
            repo: repo(),
            title: "Second try".into(),
            head: head.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("pr create");
    let pr = out.data["number"].as_u64().expect("number");
    let back = f.oracle(&format!("/repos/acme/widgets/pulls/{pr}")).await;
    assert_eq!(back["user"]["login"], "carol");
    assert_eq!(
        (back["base"]["ref"].as_str(), back["head"]["ref"].as_str()),
        (Some("main"), Some(head.as_str()))
    );

    // Reviews by two others, then an approval of one's own refused by GitHub's rule.
    let approve = |event| PrReviewArgs {
        repo: repo(),
        number: pr,
        event,
        body: Some("Looks right.".into()),
    };
    let out = pr_review(c, "bob", &approve(pulls::ReviewEvent::Approve))
        .await
        .expect("approve");
    assert!(
        out.text.contains(&format!("/pull/{pr}#pullrequestreview-")),
        "{}",
        out.text
    );
    pr_review(c, "alice", &approve(pulls::ReviewEvent::RequestChanges))
        .await
        .expect("request changes");
    let reviews = f
        .oracle(&format!("/repos/acme/widgets/pulls/{pr}/reviews"))
        .await;
    let got: Vec<(&str, &str)> = reviews
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| {
            (
                r["user"]["login"].as_str().expect("l"),
                r["state"].as_str().expect("s"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("bob", "APPROVED"), ("alice", "CHANGES_REQUESTED")]
    );
    let err = pr_review(c, "carol", &approve(pulls::ReviewEvent::Approve))
        .await
        .expect_err("own approval");
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("Can not approve your own pull request"),
        "{err}"
    );

    // Squash-merge as alice.
    let out = pr_merge(
        c,
        "alice",
        &PrMergeArgs {
            repo: repo(),
            number: pr,
            method: pulls::MergeMethod::Squash,
            ..Default::default()
        },
    )
    .await
    .expect("merge");
    let back = f.oracle(&format!("/repos/acme/widgets/pulls/{pr}")).await;
    assert_eq!(back["merged"], true);
    assert_eq!(back["merged_by"]["login"], "alice");
    assert_eq!(out.data["sha"], back["merge_commit_sha"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_per_user_is_reused() {
    let f = Fixture::start().await;
    let c = &f.clients;
    f.reset_stats().await;
    let before = f.stats().await["connections"]
        .as_u64()
        .expect("connections");
    const CALLS: usize = 40;
    for i in 0..CALLS {
        let n = [1, 2, 3, 4][i % 4];
        issue_view(
            c,
            "alice",
            &IssueViewArgs {
                repo: repo(),
                number: n,
                limit: None,
            },
        )
        .await
        .expect("view");
        repo_view(c, "bob", &RepoViewArgs { repo: repo() })
            .await
            .expect("repo");
    }
    let stats = f.stats().await;
    let opened = stats["connections"].as_u64().expect("connections") - before;
    eprintln!(
        "connection reuse: {CALLS} tool calls each by alice and bob: {stats}; new TCP connections {opened}"
    );
    assert_eq!(c.cached_users(), 2);
    assert!(stats["tokens"]["alice"]["requests"].as_u64().expect("r") >= CALLS as u64);
    assert_eq!(stats["tokens"]["bob"]["requests"], CALLS as u64);
    // One connection carries most of it, shared by alice and bob (one pool). Sometimes hyper
    // opens another: a request can be checked out just before the previous connection is back
    // in the pool (the forge's own stats test notes the same race), more often on a loaded
    // machine. Measured: 1 new connection in 5 of 6 runs, 2 in the other, for 110 requests; once
    // 4 (3 seen by alice) while CI built other crates beside it. Without reuse each of the 80
    // calls would open its own, so a bound of 5 still fails if reuse breaks.
    for who in ["alice", "bob"] {
        let n = stats["tokens"][who]["connections"]
            .as_u64()
            .expect("connections");
        assert!((1..=5).contains(&n), "{who}: {stats}");
    }
    assert!(opened <= 5, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_reported() {
    let f = Fixture::start().await;
    let c = &f.clients;
    let view = RepoViewArgs { repo: repo() };

    // Every other request fails (the forge's share is deterministic: success, failure, ...):
    // the first call succeeds at once, each later one on its first retry.
    f.faults(json!({"error_rate": 0.5})).await;
    f.reset_stats().await;
    for _ in 0..10 {
        repo_view(c, "alice", &view)
            .await
            .expect("retried to success");
    }
    assert_eq!(alice_requests(&f).await, 19);

    // Every request fails: four attempts (three retries), then a clear error.
    f.faults(json!({"error_rate": 1.0, "error_status": 502}))
        .await;
    f.reset_stats().await;
    let err = repo_view(c, "alice", &view).await.expect_err("all fail");
    assert!(
        matches!(err, Error::Upstream { status: 502, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "GitHub answered 502: Server Error");
    assert_eq!(alice_requests(&f).await, 4);

    // A create is not repeated after a 502 (it may have been applied) ...
    f.reset_stats().await;
    let create = IssueCreateArgs {
        repo: repo(),
        title: "Once".into(),
        ..Default::default()
    };
    let first = issue_create(c, "alice", &create).await;
    assert!(
        matches!(first, Err(Error::Upstream { status: 502, .. })),
        "{first:?}"
    );
    assert_eq!(alice_requests(&f).await, 1);

    // ... but is after a 503, which says the request was not processed.
    f.faults(json!({"reset": true, "error_rate": 0.5, "error_status": 503}))
        .await;
    repo_view(c, "alice", &view)
        .await
        .expect("takes the first, successful slot");
    f.reset_stats().await;
    issue_create(c, "alice", &create)
        .await
        .expect("retried after 503");
    assert_eq!(alice_requests(&f).await, 2);
    f.faults(json!({"reset": true})).await;
    let titled = issues_only(
        &f.oracle("/repos/acme/widgets/issues?state=all&per_page=100")
            .await,
    )
    .into_iter()
    .filter(|i| i["title"] == "Once")
    .count();
    assert_eq!(titled, 1);
}

async fn alice_requests(f: &Fixture) -> u64 {
    f.stats().await["tokens"]["alice"]["requests"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_name_the_user_and_the_reset() {
    let f = Fixture::start().await;
    let c = &f.clients;
    let rate = f.oracle("/rate_limit").await;
    let reset = rate["resources"]["core"]["reset"]
        .as_i64()
        .or_else(|| rate["rate"]["reset"].as_i64())
        .expect("reset");
    let resets_at = chrono::DateTime::from_timestamp(reset, 0).expect("instant");
    for status in [403, 429] {
        f.faults(json!({"reset": true, "rate_limit_remaining": 0, "rate_limit_status": status}))
            .await;
        f.reset_stats().await;
        let err = issue_list(
            c,
            "alice",
            &IssueListArgs {
                repo: repo(),
                ..Default::default()
            },
        )
        .await
        .expect_err("limited");
        // The forge asks for 60 s, beyond the wait budget: no retry, an error at once.
        assert_eq!(
            alice_requests(&f).await,
            1,
            "{status}: retried a rate limit"
        );
        match &err {
            Error::RateLimited {
                user,
                resets_at: at,
            } => {
                assert_eq!(user, "alice");
                assert_eq!(*at, resets_at);
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "GitHub rate limit reached for alice; resets at {} UTC",
                resets_at.format("%H:%M")
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_time_out() {
    let f = Fixture::with(|c| c.timeout = Duration::from_millis(200)).await;
    f.faults(json!({"latency_ms": 1500})).await;
    f.reset_stats().await;
    let err = repo_view(&f.clients, "alice", &RepoViewArgs { repo: repo() })
        .await
        .expect_err("too slow");
    // A timed-out attempt is not retried (a slow GitHub stays slow; a write may land).
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(alice_requests(&f).await, 1);
    assert_eq!(err.to_string(), "GitHub did not answer within 0.2 s");
    f.faults(json!({"reset": true})).await;
    repo_view(&f.clients, "alice", &RepoViewArgs { repo: repo() })
        .await
        .expect("fine again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_and_missing_things_are_clear() {
    let f = Fixture::start().await;
    let c = &f.clients;
    let err = repo_view(c, "mallory", &RepoViewArgs { repo: repo() })
        .await
        .expect_err("bad token");
    assert_eq!(
        err.to_string(),
        "GitHub rejected mallory's token; set a new one with gitgate users set-github-token"
    );
    assert_eq!(c.cached_users(), 0, "a rejected token's client is dropped");
    let err = repo_view(c, "nobody", &RepoViewArgs { repo: repo() })
        .await
        .expect_err("no token");
    assert_eq!(
        err.to_string(),
        "nobody has no GitHub token; an operator sets one with gitgate users set-github-token"
    );
    let err = issue_view(
        c,
        "alice",
        &IssueViewArgs {
            repo: repo(),
            number: 999,
            limit: None,
        },
    )
    .await
    .expect_err("no issue");
    assert_eq!(
        err.to_string(),
        "issue #999 in acme/widgets not found on GitHub"
    );
    let err = repo_view(c, "alice", &RepoViewArgs { repo: None })
        .await
        .expect_err("no repo");
    assert_eq!(err.to_string(), "pass repo as OWNER/NAME");
}

mod unit {
    use super::super::*;

    fn check(repo: &str, expected: Result<&str, &str>) {
        let got = RepoName::parse(repo)
            .map(|r| r.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(got.as_deref().map_err(String::as_str), expected, "{repo}");
    }

    #[test]
    fn repo_names_are_validated() {
        check("acme/widgets", Ok("acme/widgets"));
        check("a-b/c.d_e", Ok("a-b/c.d_e"));
        check("acme", Err("bad repo 'acme': expected OWNER/NAME"));
        check(
            "acme/../x",
            Err("bad repo 'acme/../x': expected OWNER/NAME"),
        );
        check("../x", Err("bad repo '../x': expected OWNER/NAME"));
        check(
            "acme/wid gets",
            Err("bad repo 'acme/wid gets': expected OWNER/NAME"),
        );
        check(
            "acme/w?x=1",
            Err("bad repo 'acme/w?x=1': expected OWNER/NAME"),
        );
    }

    #[test]
    fn paths_and_values_are_encoded() {
        assert_eq!(
            upstream_path("src/a b/#c.rs;x").expect("path"),
            "src/a%20b/%23c.rs%3Bx"
        );
    }

    fn check_path(path: &str, expected: Result<&str, &str>) {
        match (upstream_path(path).map_err(|e| e.to_string()), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{path:?}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{path:?}: {e}"),
            (got, want) => panic!("{path:?}: got {got:?}, expected {want:?}"),
        }
    }

    /// Bug: gh_file sent `../` segments to the upstream unchanged.
    #[test]
    fn upstream_paths_cannot_leave_the_repository() {
        check_path("README.md", Ok("README.md"));
        check_path("src/lib.rs", Ok("src/lib.rs"));
        check_path("src/", Ok("src"));
        check_path("", Ok(""));
        check_path(".github/workflows/ci.yml", Ok(".github/workflows/ci.yml"));
        check_path("a..b/c", Ok("a..b/c"));
        check_path("100%.txt", Ok("100%25.txt"));
        for dots in [
            "..",
            "../x",
            "src/../../acme/gadgets",
            "a/./b",
            ".",
            "a/..",
            "%2e%2e/x",
            "%2E%2e",
            ".%2e/x",
            "%2e",
        ] {
            check_path(dots, Err("'.' and '..' are not accepted"));
        }
        check_path("a//b", Err("empty segment"));
        check_path("a//", Err("empty segment"));
        check_path("/etc/passwd", Err("absolute"));
        check_path("..\\x", Err("not '\\'"));
        check_path("a\u{0}b", Err("control"));
        check_path("a\nb", Err("control"));
        check_path("..%2fx", Err("encoded '/'"));
        check_path("a%5c..", Err("encoded '/'"));
        check_path(&"a/".repeat(3000), Err("longer than"));
    }

    #[test]
    fn long_text_is_cut_with_a_more_line() {
        let mut text = "a\nb\nc\nd\n".to_owned();
        let more = cut_lines(&mut text, 2, "lines");
        assert_eq!(text, "a\nb\n... 2 more lines; raise limit");
        assert_eq!(more.as_deref(), Some("... 2 more lines; raise limit"));
    }

    /// Bug: a file or diff of few but endless lines came back whole, whatever its size.
    #[test]
    fn long_text_is_cut_at_a_byte_bound_too() {
        let line = format!("{}\n", "x".repeat(1000));
        let mut text = line.repeat(2000);
        let more = cut_lines(&mut text, 2000, "lines").expect("cut");
        assert!(text.len() <= (1 << 20) + 200, "{}", text.len());
        assert_eq!(
            more,
            "... 953 more lines; cut at 1 MiB; lower limit or narrow the request"
        );
        let mut one = "y".repeat(3 << 20);
        let more = cut_lines(&mut one, 10, "lines").expect("cut");
        assert!(one.len() <= (1 << 20) + 200, "{}", one.len());
        assert_eq!(
            more,
            "... lines cut at 1 MiB; lower limit or narrow the request"
        );
    }
}

mod budget {
    use super::super::*;

    /// The minimised input schemas of every GitHub operation, in o200k tokens: the part of the
    /// catalogue this module controls (names, descriptions and the `json` argument come later).
    #[test]
    fn argument_schemas_fit_the_catalogue_budget() {
        let schemas = [
            ("repo_view", schemars::schema_for!(RepoViewArgs)),
            ("issue_list", schemars::schema_for!(IssueListArgs)),
            ("issue_view", schemars::schema_for!(IssueViewArgs)),
            ("issue_create", schemars::schema_for!(IssueCreateArgs)),
            ("issue_comment", schemars::schema_for!(IssueCommentArgs)),
            ("issue_edit", schemars::schema_for!(IssueEditArgs)),
            ("pr_list", schemars::schema_for!(PrListArgs)),
            ("pr_view", schemars::schema_for!(PrViewArgs)),
            ("pr_diff", schemars::schema_for!(PrDiffArgs)),
            ("pr_files", schemars::schema_for!(PrFilesArgs)),
            ("pr_create", schemars::schema_for!(PrCreateArgs)),
            ("pr_merge", schemars::schema_for!(PrMergeArgs)),
            ("pr_review", schemars::schema_for!(PrReviewArgs)),
            ("search_issues", schemars::schema_for!(SearchIssuesArgs)),
            ("search_code", schemars::schema_for!(SearchCodeArgs)),
            ("file", schemars::schema_for!(FileArgs)),
            ("commits", schemars::schema_for!(CommitsArgs)),
        ];
        let mut total = 0;
        let mut table = Vec::new();
        for (name, schema) in schemas {
            let mut min = schema.to_value();
            strip(&mut min);
            let tokens = crate::schemas::o200k_tokens(&min.to_string()).expect("tokenizer");
            table.push(format!("{name} {tokens}"));
            total += tokens;
        }
        eprintln!(
            "github argument schemas: {total} o200k tokens ({})",
            table.join(", ")
        );
        // 17 tools × ~40 tokens of name, description and json argument leave this much room.
        assert!(total <= 1_800, "{total}: {}", table.join(", "));
    }

    /// Roughly what `tools::schema::minimize` (private to tools) removes, for an estimate.
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for key in [
                    "$schema",
                    "title",
                    "format",
                    "default",
                    "additionalProperties",
                ] {
                    map.remove(key);
                }
                if map.get("minimum").and_then(serde_json::Value::as_f64) == Some(0.0) {
                    map.remove("minimum");
                }
                if let Some(serde_json::Value::Array(types)) = map.get("type") {
                    let kept: Vec<_> = types.iter().filter(|t| *t != "null").cloned().collect();
                    if kept.len() == 1 {
                        map.insert("type".into(), kept[0].clone());
                    }
                }
                for (key, v) in map.iter_mut() {
                    match (key.as_str(), v) {
                        // Names of arguments, not keywords: strip inside, keep the names.
                        ("properties" | "$defs", serde_json::Value::Object(named)) => {
                            named.values_mut().for_each(strip)
                        }
                        (_, v) => strip(v),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
}

mod transport {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::*;

    /// Serves one request on a raw socket with a `{}` answer; returns its request head.
    async fn one_request(base_path: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 8192];
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.expect("read");
                assert!(n > 0, "closed early");
                head.extend_from_slice(&buf[..n]);
            }
            let reply =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
            sock.write_all(reply.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&head).into_owned()
        });
        let config = GithubConfig {
            base_url: format!("http://{addr}{base_path}"),
            ..GithubConfig::default()
        };
        let tokens: std::collections::HashMap<String, String> =
            [("alice".to_owned(), "tok_alice".to_owned())].into();
        let clients = Clients::new(config, Arc::new(tokens)).expect("clients");
        let _ = repo_view(
            &clients,
            "alice",
            &RepoViewArgs {
                repo: Some("acme/widgets".into()),
            },
        )
        .await
        .expect("answer");
        server.await.expect("server")
    }

    /// FACTS pitfall: with a custom base, octocrab adds the user's header only to relative URIs.
    #[tokio::test]
    async fn enterprise_base_keeps_its_path_and_the_users_token() {
        let head = one_request("/api/v3").await.to_ascii_lowercase();
        assert!(
            head.starts_with("get /api/v3/repos/acme/widgets http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("authorization: bearer tok_alice\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_host_is_reported_after_retries() {
        // Bind then drop: nothing listens on the port any more.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let config = GithubConfig {
            base_url: format!("http://{addr}"),
            backoff: Duration::from_millis(1),
            ..GithubConfig::default()
        };
        let tokens: std::collections::HashMap<String, String> =
            [("alice".to_owned(), "t".to_owned())].into();
        let clients = Clients::new(config, Arc::new(tokens)).expect("clients");
        let err = repo_view(
            &clients,
            "alice",
            &RepoViewArgs {
                repo: Some("a/b".into()),
            },
        )
        .await
        .expect_err("nobody listens");
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
        eprintln!("unreachable: {err}");
    }
}

mod retry {
    use http::{HeaderMap, HeaderValue, Method, StatusCode};

    use super::super::failure::classify;
    use super::super::request::Req;

    /// Classifies one failed answer: (retry, wait in seconds, error text).
    fn check(
        method: Method,
        status: u16,
        headers: &[(&'static str, &str)],
        body: &str,
        expected: (bool, Option<u64>, &str),
    ) {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        let mut req = Req::get("/repos/a/b/issues/9".into(), "issue #9 in a/b");
        req.method = method;
        let status = StatusCode::from_u16(status).expect("status");
        let out = classify(
            "alice",
            &req,
            status,
            &map,
            body,
            req.method != Method::POST,
        );
        let got = (
            out.retry,
            out.wait.map(|w| w.as_secs()),
            out.error.to_string(),
        );
        assert_eq!(
            (got.0, got.1, got.2.as_str()),
            expected,
            "{status} {headers:?} {body}"
        );
    }

    #[test]
    fn failures_are_classified() {
        let get = || Method::GET;
        let post = || Method::POST;
        // 2040-01-01T12:04:00Z
        let reset = "2209032240";
        let limited = "GitHub rate limit reached for alice; resets at 12:04 UTC";
        check(
            get(),
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", reset),
                ("retry-after", "2"),
            ],
            "{}",
            (true, Some(2), limited),
        );
        check(
            post(),
            429,
            &[("x-ratelimit-reset", reset), ("retry-after", "5")],
            "{}",
            (true, Some(5), limited),
        );
        check(
            get(),
            403,
            &[("retry-after", "1"), ("x-ratelimit-reset", reset)],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
            (true, Some(1), limited),
        );
        check(
            get(),
            403,
            &[],
            r#"{"message":"Resource not accessible by integration"}"#,
            (
                false,
                None,
                "GitHub answered 403: Resource not accessible by integration",
            ),
        );
        check(
            get(),
            500,
            &[],
            r#"{"message":"Server Error"}"#,
            (true, None, "GitHub answered 500: Server Error"),
        );
        check(
            post(),
            500,
            &[],
            "",
            (false, None, "GitHub answered 500: Internal Server Error"),
        );
        check(
            post(),
            503,
            &[("retry-after", "3")],
            "",
            (true, Some(3), "GitHub answered 503: Service Unavailable"),
        );
        check(
            get(),
            404,
            &[],
            r#"{"message":"Not Found"}"#,
            (false, None, "issue #9 in a/b not found on GitHub"),
        );
        check(
            get(),
            401,
            &[],
            r#"{"message":"Bad credentials"}"#,
            (
                false,
                None,
                "GitHub rejected alice's token; set a new one with gitgate users set-github-token",
            ),
        );
        check(
            post(),
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"}]}"#,
            (false, None, "Validation Failed (Issue title missing_field)"),
        );
    }
}
