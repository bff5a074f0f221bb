//! Search: `GET /search/issues` (repo:, is:, type:, label:, author:, assignee:, state:, draft:,
//! in:title, free text) and `GET /search/code` (repo:, path:, text); commits: `search_commits`.

use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Reply, link_header, page_params, render};
use crate::git;
use crate::store::{Issue, Repo};

/// Splits a search query into terms, keeping quoted phrases together (`label:"help wanted"`).
pub fn terms(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A parsed issue search.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct IssueQuery {
    /// `repo:` values.
    pub repos: Vec<String>,
    /// Some(true) for pull requests only, Some(false) for issues only.
    pub pulls: Option<bool>,
    /// `state:` / `is:open|closed`.
    pub state: Option<String>,
    /// `is:merged` / `is:unmerged`.
    pub merged: Option<bool>,
    /// `label:` values (all must match).
    pub labels: Vec<String>,
    /// `author:`.
    pub author: Option<String>,
    /// `assignee:`.
    pub assignee: Option<String>,
    /// `draft:true|false` (pull requests only match).
    pub draft: Option<bool>,
    /// `in:title` only.
    pub in_title: bool,
    /// Free text words.
    pub words: Vec<String>,
}

impl IssueQuery {
    /// Parses GitHub's issue search syntax (the subset the forge supports).
    pub fn parse(q: &str) -> Self {
        let mut out = Self::default();
        for t in terms(q) {
            match t.split_once(':') {
                Some(("repo", v)) => out.repos.push(v.to_ascii_lowercase()),
                Some(("is" | "type", "issue")) => out.pulls = Some(false),
                Some(("is" | "type", "pr")) => out.pulls = Some(true),
                Some(("is" | "state", s @ ("open" | "closed"))) => out.state = Some(s.into()),
                Some(("is", "merged")) => out.merged = Some(true),
                Some(("is", "unmerged")) => out.merged = Some(false),
                Some(("label", v)) => out.labels.push(v.to_string()),
                Some(("author", v)) => out.author = Some(v.to_string()),
                Some(("assignee", v)) => out.assignee = Some(v.to_string()),
                Some(("in", v)) => out.in_title = v.split(',').all(|x| x == "title"),
                Some(("draft", v @ ("true" | "false"))) => out.draft = Some(v == "true"),
                Some(("sort" | "archived", _)) => {}
                _ => out.words.push(t.to_lowercase()),
            }
        }
        out
    }

    /// Whether `i` in `repo` matches.
    pub fn matches(&self, repo: &Repo, i: &Issue) -> bool {
        let full = repo.full_name().to_ascii_lowercase();
        (self.repos.is_empty() || self.repos.contains(&full))
            && self.pulls.is_none_or(|p| p == i.pull.is_some())
            && self.state.as_ref().is_none_or(|s| &i.state == s)
            && self
                .merged
                .is_none_or(|m| i.pull.as_ref().is_some_and(|p| p.merged_at.is_some() == m))
            && self
                .draft
                .is_none_or(|d| i.pull.as_ref().is_some_and(|p| p.draft == d))
            && self
                .labels
                .iter()
                .all(|w| i.labels.iter().any(|l| l.name.eq_ignore_ascii_case(w)))
            && self
                .author
                .as_ref()
                .is_none_or(|a| i.user.login.eq_ignore_ascii_case(a))
            && self
                .assignee
                .as_ref()
                .is_none_or(|a| i.assignees.iter().any(|u| u.login.eq_ignore_ascii_case(a)))
            && self.words.iter().all(|w| {
                i.title.to_lowercase().contains(w)
                    || (!self.in_title && i.body.to_lowercase().contains(w))
            })
    }
}

pub(super) fn results(ctx: &Ctx<'_>, items: Vec<Value>) -> Reply {
    let (per_page, page) = page_params(ctx);
    let total = items.len();
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut reply =
        Reply::json(&json!({"total_count": total, "incomplete_results": false, "items": body}));
    if let Some(link) = link_header(ctx, total, per_page, page) {
        reply.headers.push(("link".into(), link));
    }
    reply
}

/// Issues (and pull requests) matching `q` with their repositories, in result order.
pub fn find_issues(ctx: &Ctx<'_>, q: &str) -> Result<Vec<(Repo, Issue)>, ApiError> {
    let query = IssueQuery::parse(q);
    let store = ctx.app.store();
    let mut repos: Vec<Repo> = Vec::new();
    let mut found = Vec::new();
    for i in store.all_issues()? {
        let repo = match repos.iter().find(|r| r.id == i.repo_id) {
            Some(r) => r.clone(),
            None => {
                let Some(r) = store.repo_by_id(i.repo_id)? else {
                    continue;
                };
                repos.push(r.clone());
                r
            }
        };
        if query.matches(&repo, &i) {
            found.push((repo, i));
        }
    }
    drop(store);
    match ctx.q("sort") {
        Some("updated") => found.sort_by_key(|(_, i)| (i.updated_at, i.id)),
        Some("comments") => found.sort_by_key(|(_, i)| (i.comments, i.id)),
        _ => found.sort_by_key(|(_, i)| (i.created_at, i.id)),
    }
    if ctx.q("order") != Some("asc") {
        found.reverse();
    }
    Ok(found)
}

/// `GET /search/issues`.
pub fn issues(ctx: &Ctx<'_>) -> ApiResult {
    let Some(q) = ctx.q("q").filter(|q| !q.trim().is_empty()) else {
        return Err(ApiError::invalid("Search", "q", "missing"));
    };
    let found = find_issues(ctx, q)?;
    let items = found
        .iter()
        .map(|(repo, i)| {
            let mut v = render::issue(&ctx.bases, repo, i);
            render::merge(&mut v, json!({"score": 1.0}));
            v
        })
        .collect();
    let mut reply = results(ctx, items);
    // GitHub's issue search now names its engine; the forge's is plain lexical matching.
    if let Ok(mut v) = serde_json::from_slice::<Value>(&reply.body) {
        v["search_type"] = json!("lexical");
        reply.body = serde_json::to_vec_pretty(&v).unwrap_or_default();
    }
    Ok(reply)
}

/// `GET /search/code`.
pub fn code(ctx: &Ctx<'_>) -> ApiResult {
    let Some(q) = ctx.q("q").filter(|q| !q.trim().is_empty()) else {
        return Err(ApiError::invalid("Search", "q", "missing"));
    };
    let mut repos_wanted = Vec::new();
    let mut paths = Vec::new();
    let mut words = Vec::new();
    for t in terms(q) {
        match t.split_once(':') {
            Some(("repo", v)) => repos_wanted.push(v.to_string()),
            Some(("path", v)) => paths.push(v.trim_start_matches('/').to_string()),
            Some(("language" | "extension" | "filename", _)) => {}
            _ => words.push(t.to_lowercase()),
        }
    }
    let mut items = Vec::new();
    for full in &repos_wanted {
        let Some((o, r)) = full.split_once('/') else {
            continue;
        };
        let Some(repo) = ctx.app.store().repo(o, r)? else {
            continue;
        };
        let g = ctx.git(&repo)?;
        let Ok(tip) = g.refname_to_id(&format!("refs/heads/{}", repo.default_branch)) else {
            continue;
        };
        for (path, sha, data) in git::all_files(&g, tip)? {
            if !paths.is_empty() && !paths.iter().any(|p| path.starts_with(p.as_str())) {
                continue;
            }
            let text = String::from_utf8_lossy(&data).to_lowercase();
            if !words.iter().all(|w| text.contains(w.as_str())) {
                continue;
            }
            let f = repo.full_name();
            let name = path.rsplit('/').next().unwrap_or(&path).to_string();
            items.push(json!({
                "name": name,
                "path": path,
                "sha": sha,
                "url": format!("{}/repos/{f}/contents/{path}?ref={tip}", ctx.bases.api),
                "git_url": format!("{}/repos/{f}/git/blobs/{sha}", ctx.bases.api),
                "html_url": format!("{}/{f}/blob/{tip}/{path}", ctx.bases.html),
                "repository": render::repo_minimal(&ctx.bases, &repo),
                "score": 1.0,
            }));
        }
    }
    if repos_wanted.is_empty() {
        return Err(ApiError::invalid("Search", "q", "missing repo: qualifier"));
    }
    Ok(results(ctx, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &str, expected: IssueQuery) {
        assert_eq!(IssueQuery::parse(q), expected, "{q}");
    }

    #[test]
    fn parses_qualifiers() {
        check(
            r#"repo:acme/widgets is:issue label:"help wanted" knob"#,
            IssueQuery {
                repos: vec!["acme/widgets".into()],
                pulls: Some(false),
                labels: vec!["help wanted".into()],
                words: vec!["knob".into()],
                ..Default::default()
            },
        );
        check(
            "is:pr is:merged author:bob in:title",
            IssueQuery {
                pulls: Some(true),
                merged: Some(true),
                author: Some("bob".into()),
                in_title: true,
                ..Default::default()
            },
        );
        // gh pr list --draft searches with draft:true; a draft value it does not know is text.
        check(
            "is:pr draft:true draft:maybe",
            IssueQuery {
                pulls: Some(true),
                draft: Some(true),
                words: vec!["draft:maybe".into()],
                ..Default::default()
            },
        );
    }
}
