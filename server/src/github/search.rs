//! `gh search issues` and `gh search code`, over GitHub's search API.

use serde::Deserialize;
use serde_json::{Value, json};

use super::issues::{issue_line, issue_record};
use super::pages::More;
use super::query::{Kind, Query};
use super::request::Req;
use super::{Clients, Error, Output, RepoName, limit_of, list_output, s};

/// A query limited to the repository named, else the configured default repository, holding
/// the caller's free text. Policy has checked that repository against the caller's grants (a
/// call naming none needs `**`); the query builder makes sure nothing else can name another.
fn scoped_query(
    clients: &Clients,
    kind: Kind,
    text: &str,
    repo: Option<&str>,
) -> Result<Query, Error> {
    let repo = repo
        .or(clients.config().default_repo.as_deref())
        .map(RepoName::parse)
        .transpose()?;
    let mut q = Query::new(kind, repo);
    q.text(text)?;
    Ok(q)
}

/// Arguments of `gh_search_issues`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchIssuesArgs {
    #[serde(default)]
    pub query: String,
    pub repo: Option<String>,
    /// open or closed.
    pub state: Option<String>,
    #[serde(default)]
    pub label: Vec<String>,
    pub assignee: Option<String>,
    pub author: Option<String>,
    #[serde(default)]
    pub include_prs: bool,
    pub limit: Option<usize>,
}

/// Arguments of `gh_search_code`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchCodeArgs {
    pub query: String,
    pub repo: Option<String>,
    /// Path prefix.
    pub path: Option<String>,
    pub limit: Option<usize>,
}

pub(crate) const ISSUE_FIELDS: &[&str] = &[
    "repository",
    "number",
    "title",
    "state",
    "labels",
    "author",
    "assignees",
    "comments",
    "createdAt",
    "updatedAt",
    "url",
    "isPullRequest",
];

/// Most labels in one search (GitHub's own issues rarely carry more than a handful).
const MAX_LABELS: usize = 20;

pub(crate) const CODE_FIELDS: &[&str] = &["repository", "path", "sha", "url"];

/// The REST records `gh_search_issues` finds: the flags become qualifiers, as gh adds them.
/// The JSON tool and the run form both print from these.
pub(crate) async fn search_issue_items(
    clients: &Clients,
    user: &str,
    args: &SearchIssuesArgs,
) -> Result<(Vec<Value>, More), Error> {
    let limit = limit_of(args.limit)?;
    let mut q = scoped_query(clients, Kind::Issues, &args.query, args.repo.as_deref())?;
    match args.state.as_deref() {
        None => {}
        Some("open") => {
            q.fixed("state", "open");
        }
        Some("closed") => {
            q.fixed("state", "closed");
        }
        Some(_) => return Err(Error::invalid("state must be open or closed")),
    }
    if args.label.len() > MAX_LABELS {
        return Err(Error::invalid(format!(
            "at most {MAX_LABELS} labels per search; an issue matches only if it has them all"
        )));
    }
    for l in &args.label {
        q.quoted("label", l)?;
    }
    if let Some(a) = &args.assignee {
        q.login("assignee", a)?;
    }
    if let Some(a) = &args.author {
        q.login("author", a)?;
    }
    if !args.include_prs {
        q.fixed("type", "issue");
    }
    let q = q.build();
    search(clients, user, "/search/issues", &q, &[], limit).await
}

/// A commit search: the run form's `gh search commits` (no JSON tool of its own: tools/list
/// tokens are scarce, and gh_commits lists a repository's history). `qualifiers` are gh's
/// flags as `(key, value)`: logins for `author`/`committer`, `merge` `true`/`false`, the
/// rest quoted values.
#[derive(Debug, Default, Clone)]
pub struct SearchCommitsArgs {
    pub query: String,
    pub repo: Option<String>,
    pub qualifiers: Vec<(&'static str, String)>,
    /// `author-date` or `committer-date` (GitHub's default: best match).
    pub sort: Option<String>,
    /// `asc` or `desc`, with `sort`.
    pub order: Option<String>,
    pub limit: Option<usize>,
}

/// The REST records a commit search finds, in the repository (the default one when none).
pub(crate) async fn search_commit_items(
    clients: &Clients,
    user: &str,
    args: &SearchCommitsArgs,
) -> Result<(Vec<Value>, More), Error> {
    let limit = limit_of(args.limit)?;
    let mut q = scoped_query(clients, Kind::Commits, &args.query, args.repo.as_deref())?;
    for (key, value) in &args.qualifiers {
        match *key {
            "author" | "committer" => {
                q.login(key, value)?;
            }
            "merge" if value == "true" => {
                q.fixed("merge", "true");
            }
            "merge" => {
                q.fixed("merge", "false");
            }
            _ => {
                q.quoted(key, value)?;
            }
        }
    }
    let mut extra = Vec::new();
    if let Some(sort) = &args.sort {
        extra.push(("sort", sort.as_str()));
        extra.push(("order", args.order.as_deref().unwrap_or("desc")));
    }
    search(clients, user, "/search/commits", &q.build(), &extra, limit).await
}

/// Runs `gh_search_issues`.
pub async fn search_issues(
    clients: &Clients,
    user: &str,
    args: &SearchIssuesArgs,
) -> Result<Output, Error> {
    let (items, more) = search_issue_items(clients, user, args).await?;
    let records: Vec<Value> = items
        .iter()
        .map(|v| {
            let mut r = issue_record(v);
            r["repository"] = json!(repo_of(v));
            r["isPullRequest"] = json!(v.get("pull_request").is_some());
            r
        })
        .collect();
    let lines = records
        .iter()
        .map(|r| {
            format!(
                "{}{}",
                r["repository"].as_str().unwrap_or(""),
                issue_line(r)
            )
        })
        .collect();
    Ok(list_output(
        lines,
        records,
        ISSUE_FIELDS,
        more,
        "results",
        "no results",
    ))
}

/// Runs `gh_search_code`: `OWNER/NAME:path` per matching file.
pub async fn search_code(
    clients: &Clients,
    user: &str,
    args: &SearchCodeArgs,
) -> Result<Output, Error> {
    let limit = limit_of(args.limit)?;
    let mut q = scoped_query(clients, Kind::Code, &args.query, args.repo.as_deref())?;
    if let Some(p) = &args.path {
        q.quoted("path", p)?;
    }
    if q.is_empty() {
        return Err(Error::invalid("query must not be empty"));
    }
    let q = q.build();
    let (items, more) = search(clients, user, "/search/code", &q, &[], limit).await?;
    let records: Vec<Value> = items
        .iter()
        .map(|v| {
            json!({
                "repository": s(&v["repository"], "full_name"),
                "path": s(v, "path"),
                "sha": s(v, "sha"),
                "url": s(v, "html_url"),
            })
        })
        .collect();
    let lines = records
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["repository"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            )
        })
        .collect();
    Ok(list_output(
        lines,
        records,
        CODE_FIELDS,
        more,
        "files",
        "no results",
    ))
}

/// Pages through a search (explicit page numbers) until `limit` items; `total_count` gives the
/// "more" count without counting pages.
async fn search(
    clients: &Clients,
    user: &str,
    path: &str,
    q: &str,
    extra: &[(&'static str, &str)],
    limit: usize,
) -> Result<(Vec<Value>, More), Error> {
    if q.trim().is_empty() {
        return Err(Error::invalid("query must not be empty"));
    }
    let per_page = limit.min(100);
    let mut items = Vec::new();
    let mut total = 0;
    let mut page = 1;
    loop {
        let mut req = Req::get(path.to_owned(), "search")
            .query("q", q)
            .query("per_page", per_page)
            .query("page", page);
        for (key, value) in extra {
            req = req.query(key, *value);
        }
        let v = clients.json(user, &req).await?;
        total = v["total_count"].as_u64().map_or(total, |t| t as usize);
        let got = v["items"].as_array().cloned().unwrap_or_default();
        let n = got.len();
        items.extend(got.into_iter().take(limit - items.len()));
        if items.len() >= limit || n < per_page {
            break;
        }
        page += 1;
    }
    let more = total.saturating_sub(items.len());
    Ok((items, More::Exact(more)))
}

/// `OWNER/NAME` from an issue's `repository_url`.
fn repo_of(v: &Value) -> String {
    let url = s(v, "repository_url");
    let mut parts = url.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(name), Some(owner)) => format!("{owner}/{name}"),
        _ => String::new(),
    }
}
