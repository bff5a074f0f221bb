//! `GET /search/commits`: commits on the default branches of the repositories in scope
//! (`repo:`, `user:`/`org:`/`owner:`, else all), matched by `author:`, `committer:` (logins),
//! `author-name:`, `author-email:`, `committer-name:`, `committer-email:`, `author-date:`,
//! `committer-date:` (`>D`, `>=D`, `<D`, `<=D`, `D..D`, `D`), `merge:`, `hash:`, `parent:`,
//! `tree:` and free text in the message; `sort=author-date|committer-date`, `order`.

use chrono::NaiveDate;
use serde_json::json;

use super::search::{results, terms};
use super::{ApiError, ApiResult, Ctx, render, repos};
use crate::git::{self, CommitInfo, LogFilter, Person};
use crate::store::Repo;

/// A parsed commit search.
#[derive(Debug, Default, Clone, PartialEq)]
struct CommitQuery {
    repos: Vec<String>,
    owners: Vec<String>,
    author: Option<String>,
    committer: Option<String>,
    author_name: Option<String>,
    author_email: Option<String>,
    committer_name: Option<String>,
    committer_email: Option<String>,
    /// Inclusive bounds, seconds since the epoch.
    author_date: Option<(i64, i64)>,
    committer_date: Option<(i64, i64)>,
    merge: Option<bool>,
    hash: Option<String>,
    parent: Option<String>,
    tree: Option<String>,
    words: Vec<String>,
}

impl CommitQuery {
    fn parse(q: &str) -> Result<Self, ApiError> {
        let mut out = Self::default();
        let date = |v: &str| {
            date_range(v).ok_or_else(|| ApiError::invalid("Search", "q", "invalid date qualifier"))
        };
        for t in terms(q) {
            match t.split_once(':') {
                Some(("repo", v)) => out.repos.push(v.to_ascii_lowercase()),
                Some(("user" | "org" | "owner", v)) => out.owners.push(v.to_ascii_lowercase()),
                Some(("author", v)) => out.author = Some(v.into()),
                Some(("committer", v)) => out.committer = Some(v.into()),
                Some(("author-name", v)) => out.author_name = Some(v.into()),
                Some(("author-email", v)) => out.author_email = Some(v.into()),
                Some(("committer-name", v)) => out.committer_name = Some(v.into()),
                Some(("committer-email", v)) => out.committer_email = Some(v.into()),
                Some(("author-date", v)) => out.author_date = Some(date(v)?),
                Some(("committer-date", v)) => out.committer_date = Some(date(v)?),
                Some(("merge", v @ ("true" | "false"))) => out.merge = Some(v == "true"),
                Some(("hash", v)) => out.hash = Some(v.to_ascii_lowercase()),
                Some(("parent", v)) => out.parent = Some(v.to_ascii_lowercase()),
                Some(("tree", v)) => out.tree = Some(v.to_ascii_lowercase()),
                Some(("is", "public" | "private" | "internal")) => {}
                _ => out.words.push(t.to_lowercase()),
            }
        }
        Ok(out)
    }

    fn in_scope(&self, repo: &Repo) -> bool {
        let full = repo.full_name().to_ascii_lowercase();
        let owner = repo.owner.login.to_ascii_lowercase();
        (self.repos.is_empty() && self.owners.is_empty())
            || self.repos.contains(&full)
            || self.owners.contains(&owner)
    }

    fn matches(&self, c: &CommitInfo, login_of: &dyn Fn(&str) -> Option<String>) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        let login = |want: &Option<String>, p: &Person| {
            want.as_ref()
                .is_none_or(|w| login_of(&p.email).is_some_and(|l| l.eq_ignore_ascii_case(w)))
        };
        let within =
            |range: Option<(i64, i64)>, t: i64| range.is_none_or(|(lo, hi)| lo <= t && t <= hi);
        let prefix = |want: &Option<String>, ids: &[&str]| {
            want.as_ref()
                .is_none_or(|w| ids.iter().any(|id| id.starts_with(w.as_str())))
        };
        let message = c.message.to_lowercase();
        login(&self.author, &c.author)
            && login(&self.committer, &c.committer)
            && same(&self.author_name, &c.author.name)
            && same(&self.author_email, &c.author.email)
            && same(&self.committer_name, &c.committer.name)
            && same(&self.committer_email, &c.committer.email)
            && within(self.author_date, c.author.time)
            && within(self.committer_date, c.committer.time)
            && self.merge.is_none_or(|m| (c.parents.len() > 1) == m)
            && prefix(&self.hash, &[c.sha.as_str()])
            && prefix(
                &self.parent,
                &c.parents.iter().map(String::as_str).collect::<Vec<_>>(),
            )
            && prefix(&self.tree, &[c.tree.as_str()])
            && self.words.iter().all(|w| message.contains(w.as_str()))
    }
}

/// A date qualifier's inclusive bounds in UTC seconds: `>D`, `>=D`, `<D`, `<=D`, `A..B`, `D`
/// (that whole day). `*` stands for an open end of a range.
fn date_range(v: &str) -> Option<(i64, i64)> {
    let day = |d: &str| -> Option<(i64, i64)> {
        let start = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp();
        Some((start, start + 86_399))
    };
    if let Some(d) = v.strip_prefix(">=") {
        return Some((day(d)?.0, i64::MAX));
    }
    if let Some(d) = v.strip_prefix("<=") {
        return Some((i64::MIN, day(d)?.1));
    }
    if let Some(d) = v.strip_prefix('>') {
        return Some((day(d)?.1 + 1, i64::MAX));
    }
    if let Some(d) = v.strip_prefix('<') {
        return Some((i64::MIN, day(d)?.0 - 1));
    }
    if let Some((a, b)) = v.split_once("..") {
        let lo = if a == "*" { i64::MIN } else { day(a)?.0 };
        let hi = if b == "*" { i64::MAX } else { day(b)?.1 };
        return Some((lo, hi));
    }
    day(v)
}

/// `GET /search/commits`.
pub fn commits(ctx: &Ctx<'_>) -> ApiResult {
    let Some(q) = ctx.q("q").filter(|q| !q.trim().is_empty()) else {
        return Err(ApiError::invalid("Search", "q", "missing"));
    };
    let query = CommitQuery::parse(q)?;
    let store = ctx.app.store();
    let users = store.users()?;
    let mut scope = Vec::new();
    for u in &users {
        scope.extend(store.repos_of(u)?.into_iter().filter(|r| query.in_scope(r)));
    }
    drop(store);
    let login_of = |email: &str| {
        users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .map(|u| u.login.clone())
    };
    let mut found: Vec<(Repo, CommitInfo)> = Vec::new();
    for repo in scope {
        let g = ctx.git(&repo)?;
        let Ok(tip) = repos::resolve(&g, &repo.default_branch) else {
            continue; // an empty repository has no commits to find
        };
        for c in git::log(&g, tip, &LogFilter::default(), |_| true)? {
            if query.matches(&c, &login_of) {
                found.push((repo.clone(), c));
            }
        }
    }
    // Best match has no meaning here: newest first by the date asked for, else committed.
    match ctx.q("sort") {
        Some("author-date") => found.sort_by_key(|(_, c)| (c.author.time, c.sha.clone())),
        _ => found.sort_by_key(|(_, c)| (c.committer.time, c.sha.clone())),
    }
    if ctx.q("order") != Some("asc") {
        found.reverse();
    }
    let who = repos::who(ctx)?;
    let items = found
        .iter()
        .map(|(repo, c)| {
            let mut v = render::commit(&ctx.bases, repo, c, &who);
            render::merge(
                &mut v,
                json!({"repository": render::repo_minimal(&ctx.bases, repo), "score": 1.0}),
            );
            v
        })
        .collect();
    Ok(results(ctx, items))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn date_qualifiers_read_as_github_reads_them() {
        let day = 1_704_067_200; // 2024-01-01
        assert_eq!(date_range("2024-01-01"), Some((day, day + 86_399)));
        assert_eq!(date_range(">2024-01-01"), Some((day + 86_400, i64::MAX)));
        assert_eq!(date_range(">=2024-01-01"), Some((day, i64::MAX)));
        assert_eq!(date_range("<2024-01-01"), Some((i64::MIN, day - 1)));
        assert_eq!(date_range("2024-01-01..*"), Some((day, i64::MAX)));
        assert_eq!(date_range("soon"), None);
        let q = CommitQuery::parse("repo:Acme/Widgets fix author:bob merge:false").unwrap();
        assert_eq!(q.repos, vec!["acme/widgets".to_string()]);
        assert_eq!(q.words, vec!["fix".to_string()]);
        assert_eq!(q.merge, Some(false));
        assert!(CommitQuery::parse("author-date:>someday").is_err());
    }
}
