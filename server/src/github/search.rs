//! `gh search issues` and `gh search code`, over GitHub's search API.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{More, Req};
use super::issues::{issue_line, issue_record};
use super::{Clients, Error, Output, RepoName, limit_of, list_output, s};

/// Qualifiers that widen a search to other owners or repositories. The repository is named by
/// the `repo` argument (which policy checks against the caller's grants), never inside the query
/// text, where GitHub would OR a second `repo:` with ours and reach outside the grants.
const SCOPE_QUALIFIERS: &[&str] = &["repo:", "org:", "user:", "owner:"];

/// The query text, refused when it carries a scope qualifier.
fn own_query(query: &str) -> Result<String, Error> {
    let lower = query.to_ascii_lowercase();
    for word in lower.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        let word = word.trim_start_matches(['-', '"', '\'']);
        if let Some(q) = SCOPE_QUALIFIERS.iter().find(|q| word.starts_with(**q)) {
            return Err(Error::invalid(format!(
                "the query must not contain `{q}`; name the repository with repo: OWNER/NAME"
            )));
        }
    }
    Ok(query.trim().to_owned())
}

/// The caller's query text (checked by [`own_query`]) and the repository qualifier: the one
/// named, else the configured default repository.
fn scoped_query(clients: &Clients, query: &str, repo: Option<&str>) -> Result<Vec<String>, Error> {
    let mut q = vec![own_query(query)?];
    if let Some(r) = repo.or(clients.config().default_repo.as_deref()) {
        q.push(format!("repo:{}", RepoName::parse(r)?));
    }
    Ok(q)
}

/// Arguments of `gh_search_issues`.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchIssuesArgs {
    /// GitHub search query.
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

pub(crate) const CODE_FIELDS: &[&str] = &["repository", "path", "sha", "url"];

/// Runs `gh_search_issues`: the flags become qualifiers, as gh adds them.
pub async fn search_issues(
    clients: &Clients,
    user: &str,
    args: &SearchIssuesArgs,
) -> Result<Output, Error> {
    let limit = limit_of(args.limit)?;
    let mut q = scoped_query(clients, &args.query, args.repo.as_deref())?;
    if let Some(st) = &args.state {
        if st != "open" && st != "closed" {
            return Err(Error::invalid("state must be open or closed"));
        }
        q.push(format!("state:{st}"));
    }
    for l in &args.label {
        q.push(format!("label:{}", quote(l)));
    }
    if let Some(a) = &args.assignee {
        q.push(format!("assignee:{a}"));
    }
    if let Some(a) = &args.author {
        q.push(format!("author:{a}"));
    }
    if !args.include_prs {
        q.push("type:issue".into());
    }
    let q = q
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let (items, more) = search(clients, user, "/search/issues", &q, limit).await?;
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
    let mut q = scoped_query(clients, &args.query, args.repo.as_deref())?;
    if let Some(p) = &args.path {
        q.push(format!("path:{}", quote(p)));
    }
    let q = q
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if q.is_empty() {
        return Err(Error::invalid("query must not be empty"));
    }
    let (items, more) = search(clients, user, "/search/code", &q, limit).await?;
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
        let req = Req::get(path.to_owned(), "search")
            .query("q", q)
            .query("per_page", per_page)
            .query("page", page);
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

/// Quotes a qualifier value holding spaces.
fn quote(v: &str) -> String {
    if v.contains(' ') {
        format!("\"{v}\"")
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::own_query;

    #[test]
    fn scope_qualifiers_in_the_query_are_refused() {
        for q in [
            "repo:evil/x bug",
            "bug REPO:evil/x",
            "bug -repo:a/b",
            "(org:evil)",
            "user:someone",
            "owner:x crash",
            "\"repo:evil/x\"",
        ] {
            let err = own_query(q).expect_err(q).to_string();
            assert!(err.contains("name the repository with repo"), "{q}: {err}");
        }
        assert_eq!(
            own_query(" crash in:title label:bug ").expect("plain"),
            "crash in:title label:bug"
        );
        assert_eq!(own_query("reporting").expect("word"), "reporting");
    }
}
