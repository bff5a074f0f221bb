//! `gh pr list|view|diff|create|merge|review` and the changed files of a pull request.

use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::issues::written as created_output;
use super::pages::Listed;
use super::request::Req;
use super::{
    Clients, Error, Output, RepoName, assignee_logins, cut_lines, day, label_names, limit_of,
    list_output, login, s,
};

/// Pull request state filter.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrState {
    #[default]
    Open,
    Closed,
    Merged,
    All,
}

/// Arguments of `gh_pr_list`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrListArgs {
    pub repo: Option<String>,
    #[serde(default)]
    pub state: PrState,
    #[serde(default)]
    pub label: Vec<String>,
    pub author: Option<String>,
    pub assignee: Option<String>,
    pub draft: Option<bool>,
    pub base: Option<String>,
    pub head: Option<String>,
    pub limit: Option<usize>,
    /// The run form's `gh pr list -S QUERY` (GitHub search syntax). Not in the tool's schema:
    /// gh_search_issues searches, and tools/list tokens are scarce.
    #[serde(skip)]
    pub search: Option<String>,
}

/// Arguments of `gh_pr_view`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrViewArgs {
    pub repo: Option<String>,
    pub number: u64,
    /// With review comments (path:line).
    pub comments: Option<bool>,
}

/// Arguments of `gh_pr_diff`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrDiffArgs {
    pub repo: Option<String>,
    pub number: u64,
    /// Max lines.
    pub limit: Option<usize>,
}

/// Arguments of `gh_pr_files`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrFilesArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub limit: Option<usize>,
}

/// Arguments of `gh_pr_create`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrCreateArgs {
    pub repo: Option<String>,
    pub title: String,
    pub body: Option<String>,
    pub base: Option<String>,
    pub head: String,
    #[serde(default)]
    pub draft: bool,
}

/// How to merge.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    #[default]
    Merge,
    Squash,
    Rebase,
}

/// Arguments of `gh_pr_merge`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrMergeArgs {
    pub repo: Option<String>,
    pub number: u64,
    #[serde(default)]
    pub method: MergeMethod,
    /// Commit subject.
    pub subject: Option<String>,
    /// Commit body.
    pub body: Option<String>,
}

/// Review verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewEvent {
    Approve,
    Comment,
    RequestChanges,
}

/// Arguments of `gh_pr_review`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrReviewArgs {
    pub repo: Option<String>,
    pub number: u64,
    pub event: ReviewEvent,
    pub body: Option<String>,
}

pub(crate) const LIST_FIELDS: &[&str] = &[
    "number",
    "title",
    "state",
    "isDraft",
    "author",
    "baseRefName",
    "headRefName",
    "labels",
    "createdAt",
    "mergedAt",
    "url",
    "body",
];

pub(crate) const VIEW_FIELDS: &[&str] = &[
    "number",
    "title",
    "state",
    "isDraft",
    "author",
    "baseRefName",
    "headRefName",
    "labels",
    "createdAt",
    "mergedAt",
    "url",
    "assignees",
    "body",
    "commits",
    "additions",
    "deletions",
    "changedFiles",
    "mergeable",
    "reviews",
];

pub(crate) const FILE_FIELDS: &[&str] =
    &["path", "status", "additions", "deletions", "previousPath"];

/// Diff lines shown when no limit is given.
const DIFF_LINES: usize = 1000;

/// gh's state: OPEN, CLOSED or MERGED.
fn pr_state(v: &Value) -> &'static str {
    if !v["merged_at"].is_null() {
        "MERGED"
    } else if s(v, "state") == "closed" {
        "CLOSED"
    } else {
        "OPEN"
    }
}

pub(super) fn pr_record(v: &Value) -> Value {
    json!({
        "number": v["number"],
        "title": s(v, "title"),
        "state": pr_state(v),
        "isDraft": v["draft"].as_bool().unwrap_or(false),
        "author": login(v, "user"),
        "baseRefName": s(&v["base"], "ref"),
        "headRefName": s(&v["head"], "ref"),
        "labels": label_names(v),
        "createdAt": v["created_at"],
        "mergedAt": v["merged_at"],
        "url": s(v, "html_url"),
        "body": s(v, "body"),
    })
}

/// `#20  OPEN  Title  feature/x  alice` (DRAFT in place of OPEN for drafts).
fn pr_line(r: &Value) -> String {
    let state = if r["isDraft"] == Value::Bool(true) && r["state"] == "OPEN" {
        "DRAFT"
    } else {
        r["state"].as_str().unwrap_or("")
    };
    format!(
        "#{}  {}  {}  {}  {}",
        r["number"],
        state,
        r["title"].as_str().unwrap_or(""),
        r["headRefName"].as_str().unwrap_or(""),
        r["author"].as_str().unwrap_or(""),
    )
}

/// The REST records of the pull requests `gh_pr_list` lists, newest first. The JSON tool and
/// the run form's `gh pr list` both print from these.
pub(crate) async fn pr_items(
    clients: &Clients,
    user: &str,
    args: &PrListArgs,
) -> Result<(RepoName, Listed), Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let limit = limit_of(args.limit)?;
    let state = match args.state {
        PrState::Open => "open",
        PrState::Closed | PrState::Merged => "closed",
        PrState::All => "all",
    };
    let mut req = Req::get(repo.api("/pulls"), format!("repository {repo}")).query("state", state);
    if let Some(b) = &args.base {
        req = req.query("base", b);
    }
    if let Some(h) = &args.head {
        req = req.query("head", h);
    }
    let merged_only = args.state == PrState::Merged;
    // The search's matches (numbers), kept from the list below: REST search items lack the
    // pull request fields (head, draft) a list prints.
    let found: Option<Vec<u64>> = match &args.search {
        Some(query) => Some(search_numbers(clients, user, &repo, query).await?),
        None => None,
    };
    // The REST list filters neither by author, assignee, label, draft nor merged: those are
    // applied here.
    let filtered = merged_only
        || args.author.is_some()
        || args.assignee.is_some()
        || args.draft.is_some()
        || found.is_some()
        || !args.label.is_empty();
    let listed = if filtered {
        clients
            .list(user, &req, limit, |v| {
                (!merged_only || !v["merged_at"].is_null())
                    && args.author.as_deref().is_none_or(|a| login(v, "user") == a)
                    && args
                        .assignee
                        .as_deref()
                        .is_none_or(|a| assignee_logins(v).iter().any(|l| l == a))
                    && args.draft.is_none_or(|d| v["draft"].as_bool() == Some(d))
                    && found
                        .as_ref()
                        .is_none_or(|f| v["number"].as_u64().is_some_and(|n| f.contains(&n)))
                    && args.label.iter().all(|l| label_names(v).contains(l))
            })
            .await?
    } else {
        clients.list_all(user, &req, limit).await?
    };
    Ok((repo, listed))
}

/// The numbers of `repo`'s pull requests that GitHub's issue search finds for `query`.
async fn search_numbers(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    query: &str,
) -> Result<Vec<u64>, Error> {
    let search = super::SearchIssuesArgs {
        query: format!("{query} is:pr"),
        repo: Some(repo.to_string()),
        include_prs: true,
        limit: Some(super::MAX_LIMIT),
        ..super::SearchIssuesArgs::default()
    };
    let (items, _) = super::search::search_issue_items(clients, user, &search).await?;
    Ok(items.iter().filter_map(|v| v["number"].as_u64()).collect())
}

/// Runs `gh_pr_list`.
pub async fn pr_list(clients: &Clients, user: &str, args: &PrListArgs) -> Result<Output, Error> {
    let (repo, listed) = pr_items(clients, user, args).await?;
    let records: Vec<Value> = listed.items.iter().map(pr_record).collect();
    let lines = records.iter().map(pr_line).collect();
    Ok(list_output(
        lines,
        records,
        LIST_FIELDS,
        listed.more,
        "pull requests",
        &format!("no matching pull requests in {repo}"),
    ))
}

/// The REST record of pull request `number`.
pub(crate) async fn get_pr(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
) -> Result<Value, Error> {
    let req = Req::get(
        repo.api(&format!("/pulls/{number}")),
        format!("pull request #{number} in {repo}"),
    );
    clients.json(user, &req).await
}

/// The REST record of pull request `number` and its reviews (the first hundred).
pub(crate) async fn pr_with_reviews(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
) -> Result<(Value, Listed), Error> {
    let what = format!("pull request #{number} in {repo}");
    let path = repo.api(&format!("/pulls/{number}"));
    let v = clients
        .json(user, &Req::get(path.clone(), what.clone()))
        .await?;
    let reviews = clients
        .list_all(user, &Req::get(format!("{path}/reviews"), what), 100)
        .await?;
    Ok((v, reviews))
}

/// The latest verdict per reviewer, in order of first review, as gh summarises them.
fn latest_verdicts(reviews: &[Value]) -> Vec<(String, String)> {
    let mut latest: Vec<(String, String)> = Vec::new();
    for r in reviews {
        let (who, state) = (login(r, "user"), s(r, "state").to_owned());
        if state == "PENDING" {
            continue;
        }
        match latest.iter_mut().find(|(w, _)| *w == who) {
            Some(entry) if state != "COMMENTED" => entry.1 = state,
            Some(_) => {}
            None => latest.push((who, state)),
        }
    }
    latest
}

/// Runs `gh_pr_view`, with the latest review of each reviewer.
pub async fn pr_view(clients: &Clients, user: &str, args: &PrViewArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let (v, reviews) = pr_with_reviews(clients, user, &repo, args.number).await?;
    let latest = latest_verdicts(&reviews.items);
    let mut data = pr_record(&v);
    let extra = json!({
        "assignees": assignee_logins(&v),
        "body": s(&v, "body"),
        "commits": v["commits"],
        "additions": v["additions"],
        "deletions": v["deletions"],
        "changedFiles": v["changed_files"],
        "mergeable": v["mergeable"],
        "reviews": latest.iter().map(|(w, st)| json!({"author": w, "state": st})).collect::<Vec<_>>(),
    });
    if let (Some(d), Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    let mut text = format!(
        "{} #{}\n{}{} · {} wants to merge {} into {} from {} · +{} -{} · {} files · opened {}",
        s(&v, "title"),
        v["number"],
        pr_state(&v),
        if data["isDraft"] == Value::Bool(true) {
            " (draft)"
        } else {
            ""
        },
        login(&v, "user"),
        match v["commits"].as_u64() {
            Some(1) => "1 commit".to_owned(),
            n => format!("{} commits", n.unwrap_or(0)),
        },
        s(&v["base"], "ref"),
        s(&v["head"], "ref"),
        v["additions"],
        v["deletions"],
        v["changed_files"],
        day(s(&v, "created_at")),
    );
    let labels = label_names(&v);
    if !labels.is_empty() {
        text.push_str(&format!("\nlabels: {}", labels.join(", ")));
    }
    if !latest.is_empty() {
        let r: Vec<String> = latest.iter().map(|(w, st)| format!("{w} ({st})")).collect();
        text.push_str(&format!("\nreviewers: {}", r.join(", ")));
    }
    text.push('\n');
    text.push_str(s(&v, "html_url"));
    let body = s(&v, "body").trim_end();
    text.push_str("\n\n");
    text.push_str(if body.is_empty() {
        "(no description)"
    } else {
        body
    });
    let mut more = None;
    if args.comments.unwrap_or(false) {
        let (issue, review) =
            super::pull_comments::conversation(clients, user, &repo, args.number).await?;
        let (records, cut) = super::pull_comments::append_conversation(&mut text, &issue, &review);
        data["comments"] = Value::Array(records);
        more = cut;
    }
    Ok(Output {
        text,
        data,
        fields: VIEW_FIELDS,
        more,
    })
}

/// The whole unified diff of pull request `number`, as GitHub serves it.
pub(crate) async fn pr_diff_text(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
) -> Result<String, Error> {
    let mut req = Req::get(
        repo.api(&format!("/pulls/{number}")),
        format!("pull request #{number} in {repo}"),
    );
    req.accept = Some("application/vnd.github.diff");
    Ok(clients.send(user, &req).await?.body)
}

/// Runs `gh_pr_diff`: the unified diff, cut at `limit` lines.
pub async fn pr_diff(clients: &Clients, user: &str, args: &PrDiffArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let max = match args.limit {
        Some(0) => return Err(Error::invalid("limit must be at least 1")),
        Some(n) => n,
        None => DIFF_LINES,
    };
    let mut text = pr_diff_text(clients, user, &repo, args.number).await?;
    let more = cut_lines(&mut text, max, "diff lines");
    Ok(Output {
        data: json!({ "diff": text }),
        text,
        fields: &["diff"],
        more,
    })
}

/// The REST records of the files pull request `number` changes (at most `limit`).
pub(crate) async fn pr_file_items(
    clients: &Clients,
    user: &str,
    repo: &RepoName,
    number: u64,
    limit: usize,
) -> Result<Listed, Error> {
    let req = Req::get(
        repo.api(&format!("/pulls/{number}/files")),
        format!("pull request #{number} in {repo}"),
    );
    clients.list_all(user, &req, limit).await
}

/// Runs `gh_pr_files`: `M  path  +3 -1` per changed file.
pub async fn pr_files(clients: &Clients, user: &str, args: &PrFilesArgs) -> Result<Output, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let limit = limit_of(args.limit)?;
    let listed = pr_file_items(clients, user, &repo, args.number, limit).await?;
    let mut lines = Vec::new();
    let mut records = Vec::new();
    for f in &listed.items {
        let status = s(f, "status");
        let letter = match status {
            "added" => "A",
            "removed" => "D",
            "modified" | "changed" => "M",
            "renamed" => "R",
            "copied" => "C",
            _ => "?",
        };
        let path = match f["previous_filename"].as_str() {
            Some(prev) => format!("{prev} => {}", s(f, "filename")),
            None => s(f, "filename").to_owned(),
        };
        lines.push(format!(
            "{letter}  {path}  +{} -{}",
            f["additions"], f["deletions"]
        ));
        records.push(json!({
            "path": s(f, "filename"),
            "status": status,
            "additions": f["additions"],
            "deletions": f["deletions"],
            "previousPath": f["previous_filename"],
        }));
    }
    Ok(list_output(
        lines,
        records,
        FILE_FIELDS,
        listed.more,
        "files",
        "no files changed",
    ))
}

/// Runs `gh_pr_create`; the text is the new pull request's URL.
pub async fn pr_create(
    clients: &Clients,
    user: &str,
    args: &PrCreateArgs,
) -> Result<Output, Error> {
    Ok(created_output(&create_pr(clients, user, args).await?))
}

/// Opens a pull request; its REST record.
pub(crate) async fn create_pr(
    clients: &Clients,
    user: &str,
    args: &PrCreateArgs,
) -> Result<Value, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    if args.title.trim().is_empty() {
        return Err(Error::invalid("title must not be empty"));
    }
    let base = match &args.base {
        Some(b) => b.clone(),
        None => {
            let r = clients
                .json(user, &Req::get(repo.api(""), format!("repository {repo}")))
                .await?;
            s(&r, "default_branch").to_owned()
        }
    };
    let mut body = Map::new();
    body.insert("title".into(), json!(args.title));
    body.insert("head".into(), json!(args.head));
    body.insert("base".into(), json!(base));
    body.insert("draft".into(), json!(args.draft));
    if let Some(b) = &args.body {
        body.insert("body".into(), json!(b));
    }
    let req = Req::with_body(
        Method::POST,
        repo.api("/pulls"),
        Value::Object(body),
        format!("repository {repo}"),
    );
    clients.json(user, &req).await
}

/// Runs `gh_pr_merge`.
pub async fn pr_merge(clients: &Clients, user: &str, args: &PrMergeArgs) -> Result<Output, Error> {
    let (method, v) = merge_pr(clients, user, args).await?;
    let sha = s(&v, "sha").to_owned();
    Ok(Output {
        // The caller sent the number and method; what it learns is the commit (full id in data).
        text: format!("merged as {}", sha.get(..7).unwrap_or(&sha)),
        data: json!({ "number": args.number, "method": method, "sha": sha }),
        fields: &["number", "method", "sha"],
        more: None,
    })
}

/// Merges a pull request; the method's name and GitHub's answer (`sha`, `merged`).
pub(crate) async fn merge_pr(
    clients: &Clients,
    user: &str,
    args: &PrMergeArgs,
) -> Result<(&'static str, Value), Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let method = match args.method {
        MergeMethod::Merge => "merge",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    };
    let mut body = Map::new();
    body.insert("merge_method".into(), json!(method));
    if let Some(t) = &args.subject {
        body.insert("commit_title".into(), json!(t));
    }
    if let Some(b) = &args.body {
        body.insert("commit_message".into(), json!(b));
    }
    let req = Req::with_body(
        Method::PUT,
        repo.api(&format!("/pulls/{}/merge", args.number)),
        Value::Object(body),
        format!("pull request #{} in {repo}", args.number),
    );
    Ok((method, clients.json(user, &req).await?))
}

/// Runs `gh_pr_review`.
pub async fn pr_review(
    clients: &Clients,
    user: &str,
    args: &PrReviewArgs,
) -> Result<Output, Error> {
    let v = review_pr(clients, user, args).await?;
    Ok(Output {
        // Terse, as gh's own writes: the review's URL names the pull request; the caller knows
        // what it sent.
        text: s(&v, "html_url").to_owned(),
        data: json!({ "id": v["id"], "state": s(&v, "state"), "author": login(&v, "user"), "url": s(&v, "html_url") }),
        fields: &["id", "state", "author", "url"],
        more: None,
    })
}

/// Reviews a pull request; the review's REST record.
pub(crate) async fn review_pr(
    clients: &Clients,
    user: &str,
    args: &PrReviewArgs,
) -> Result<Value, Error> {
    let repo = RepoName::resolve(clients, args.repo.as_deref())?;
    let event = match args.event {
        ReviewEvent::Approve => "APPROVE",
        ReviewEvent::Comment => "COMMENT",
        ReviewEvent::RequestChanges => "REQUEST_CHANGES",
    };
    let body = args.body.clone().unwrap_or_default();
    if event != "APPROVE" && body.trim().is_empty() {
        return Err(Error::invalid(
            "body is required for comment and request_changes",
        ));
    }
    let req = Req::with_body(
        Method::POST,
        repo.api(&format!("/pulls/{}/reviews", args.number)),
        json!({ "event": event, "body": body }),
        format!("pull request #{} in {repo}", args.number),
    );
    clients.json(user, &req).await
}
