//! The GitHub backend: operations mirroring the gh CLI, each sent as the calling user with their
//! own token through [`Clients`].
//!
//! Nothing here knows MCP. Every operation takes `(clients, user, args)` and returns the git
//! backend's [`Output`]: compact text shaped like gh's, the same records as JSON for `json:
//! [fields]` projection, and a "N more" line when a list was cut.

pub mod actions;
mod api;
mod client;
mod contents;
mod failure;
mod issues;
mod pages;
mod pull_comments;
mod pull_commits;
mod pull_edit;
mod pulls;
mod query;
mod releases;
mod repo;
mod request;
mod request_ids;
mod search;
#[cfg(test)]
mod tests;
mod tokens;
mod users;

pub use api::{ApiArgs, api};
pub use client::{Clients, Error, GithubConfig, TokenFuture, TokenSource};
pub use contents::{CommitsArgs, FileArgs, commits, file};
pub use issues::{
    IssueCommentArgs, IssueCreateArgs, IssueEditArgs, IssueListArgs, IssueViewArgs, issue_comment,
    issue_create, issue_edit, issue_list, issue_view,
};
pub use pull_comments::{PrCommentArgs, pr_comment};
pub use pull_commits::{PrCommitsArgs, pr_commits};
pub use pull_edit::{PrEditArgs, pr_edit};
pub use pulls::{
    PrCreateArgs, PrDiffArgs, PrFilesArgs, PrListArgs, PrMergeArgs, PrReviewArgs, PrViewArgs,
    pr_create, pr_diff, pr_files, pr_list, pr_merge, pr_review, pr_view,
};
pub use releases::{
    ReleaseCreateArgs, ReleaseListArgs, ReleaseViewArgs, release_create, release_list, release_view,
};
pub use repo::{RepoViewArgs, repo_view};
pub use request_ids::with_request_ids;
pub use search::{SearchCodeArgs, SearchCommitsArgs, SearchIssuesArgs, search_code, search_issues};
pub use tokens::{SharedToken, StoreTokens};

use serde_json::Value;

/// The REST records behind the gh-shaped operations, for a front end that prints them in its
/// own shape (the run form prints gh's): one request path per operation, two printers.
pub(crate) mod records {
    pub(crate) use super::RepoName;
    pub(crate) use super::actions::{check_items, check_row, rerun, run_page, run_with_jobs};
    pub(crate) use super::api::{api_get, api_get_pages};
    pub(crate) use super::issues::{
        Reason, State as IssueState, StateFilter, comment_on, create_issue, edit_issue, get_issue,
        issue_items, issue_with_comments,
    };
    pub(crate) use super::pull_commits::pr_commit_items;
    pub(crate) use super::pull_edit::edit_pr;
    pub(crate) use super::pulls::{
        MergeMethod, PrState, ReviewEvent, create_pr, get_pr, merge_pr, pr_diff_text,
        pr_file_items, pr_items, pr_with_reviews, review_pr,
    };
    pub(crate) use super::releases::{
        create_release, get_release, list_row as release_row, release_items,
        view_text as release_text,
    };
    pub(crate) use super::repo::{readme_text, repo_record};
    pub(crate) use super::search::search_commit_items;
    pub(crate) use super::search::search_issue_items;
    pub(crate) use super::users::{users_by_login, viewer};
}

/// The fields each listing tool offers to `json: [...]`.
pub(crate) mod fields {
    pub(crate) use super::contents::COMMIT_FIELDS as COMMITS;
    pub(crate) use super::issues::{LIST_FIELDS as ISSUE_LIST, VIEW_FIELDS as ISSUE_VIEW};
    pub(crate) use super::pull_commits::COMMIT_FIELDS as PR_COMMITS;
    pub(crate) use super::pulls::{
        FILE_FIELDS as PR_FILES, LIST_FIELDS as PR_LIST, VIEW_FIELDS as PR_VIEW,
    };
    pub(crate) use super::releases::RELEASE_FIELDS as RELEASES;
    pub(crate) use super::repo::FIELDS as REPO_VIEW;
    pub(crate) use super::search::{CODE_FIELDS as SEARCH_CODE, ISSUE_FIELDS as SEARCH_ISSUES};
}

use crate::output::{Output, more_line};
use client::size;
use pages::More;
use request::PATH_SEGMENT;

/// gh's default list length.
const DEFAULT_LIMIT: usize = 30;
/// A larger limit is cut to this; the "more" line says so.
const MAX_LIMIT: usize = 500;

/// Checks an `OWNER/NAME` given in configuration.
pub fn check_repo_name(repo: &str) -> Result<(), Error> {
    RepoName::parse(repo).map(|_| ())
}

/// A validated `OWNER/NAME`, with both parts safe to put in a URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    /// Parses the `repo` argument, falling back to the configured default repository.
    pub fn resolve(clients: &Clients, repo: Option<&str>) -> Result<Self, Error> {
        let repo = repo
            .or(clients.config().default_repo.as_deref())
            .ok_or_else(|| Error::invalid("pass repo as OWNER/NAME"))?;
        Self::parse(repo)
    }

    pub fn parse(repo: &str) -> Result<Self, Error> {
        let bad = || Error::invalid(format!("bad repo '{repo}': expected OWNER/NAME"));
        let (owner, name) = repo.split_once('/').ok_or_else(bad)?;
        let ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !ok(owner) || !ok(name) {
            return Err(bad());
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `/repos/OWNER/NAME` followed by `rest`.
    pub fn api(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.name)
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The effective list length: gh's default of 30, at most [`MAX_LIMIT`].
fn limit_of(limit: Option<usize>) -> Result<usize, Error> {
    match limit {
        Some(0) => Err(Error::invalid("limit must be at least 1")),
        Some(n) => Ok(n.min(MAX_LIMIT)),
        None => Ok(DEFAULT_LIMIT),
    }
}

/// Assembles a list's [`Output`], ending the text with the "more" line when it was cut.
fn list_output(
    lines: Vec<String>,
    records: Vec<Value>,
    fields: &'static [&'static str],
    more: More,
    what: &str,
    empty: &str,
) -> Output {
    let mut text = if lines.is_empty() {
        empty.to_owned()
    } else {
        lines.join("\n")
    };
    let more = more
        .words()
        .and_then(|n| more_line_words(&mut text, &n, what, "raise limit"));
    Output {
        text,
        data: Value::Array(records),
        fields,
        more,
    }
}

/// [`more_line`] for a count already in words ("12", "at least 200").
fn more_line_words(text: &mut String, n: &str, what: &str, how: &str) -> Option<String> {
    match n.parse::<usize>() {
        Ok(n) => more_line(text, n, what, how),
        Err(_) => {
            let line = format!("... {n} more {what}; {how}");
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            Some(line)
        }
    }
}

/// A JSON string field, or "".
fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `login` of a user object field.
fn login(v: &Value, key: &str) -> String {
    v[key]["login"].as_str().unwrap_or("").to_owned()
}

/// Most labels or assignees kept per issue: GitHub allows 100 labels and 10 assignees.
const MAX_NAMES: usize = 100;

/// Label names of an issue or pull request.
fn label_names(v: &Value) -> Vec<String> {
    v["labels"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .take(MAX_NAMES)
                .filter_map(|l| l["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Assignee logins of an issue or pull request.
fn assignee_logins(v: &Value) -> Vec<String> {
    v["assignees"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .take(MAX_NAMES)
                .filter_map(|l| l["login"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The date part of a GitHub timestamp.
fn day(ts: &str) -> &str {
    ts.get(..10).unwrap_or(ts)
}

/// A path inside a repository as it goes into an upstream URL: split on `/`, each segment
/// checked and percent-encoded on its own. An upstream or proxy that resolved `..` would serve
/// another repository with the user's token, so `.`, `..` and empty segments are refused (and
/// encoded forms of them, for a proxy that decodes twice), as are backslashes (a separator to
/// some servers) and control characters. `""` is the repository root; one trailing `/` (as in
/// `src/`) is accepted.
fn upstream_path(path: &str) -> Result<String, Error> {
    let bad =
        |reason: &str| Error::invalid(format!("bad path '{}': {reason}", path.escape_debug()));
    if path.len() > MAX_PATH {
        return Err(bad(&format!("longer than {MAX_PATH} bytes")));
    }
    if path.starts_with('/') {
        return Err(bad(
            "absolute paths are refused; give a path relative to the repository root",
        ));
    }
    if path.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    if path.contains('\\') {
        return Err(bad("use '/' between directories, not '\\'"));
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let mut out = Vec::new();
    for segment in trimmed.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        match decoded.as_ref() {
            "" => return Err(bad("empty segment ('//'); remove the extra '/'")),
            "." | ".." => {
                return Err(bad(
                    "'.' and '..' are not accepted; give the path from the repository root",
                ));
            }
            d if d.contains(['/', '\\']) => {
                return Err(bad(
                    "an encoded '/' or '\\' hides a separator; write it plainly",
                ));
            }
            _ => {}
        }
        out.push(percent_encoding::utf8_percent_encode(segment, PATH_SEGMENT).to_string());
    }
    Ok(out.join("/"))
}

/// Longest path accepted (git itself handles longer ones, GitHub's URLs do not).
const MAX_PATH: usize = 4096;

/// Longest text a tool returns from one upstream document (a file, a diff): 1 MiB, four times
/// the 2,000 lines of code gh_file shows by default at a generous 128 bytes a line.
const MAX_TEXT: usize = 1 << 20;

/// Cuts `text` to `max` lines, appending the "more" line; returns it for [`Output::more`].
/// Past [`MAX_TEXT`] bytes it is cut at the last whole line within them and the line says so.
fn cut_lines(text: &mut String, max: usize, what: &str) -> Option<String> {
    let total = text.lines().count();
    let keep: usize = text.split_inclusive('\n').take(max).map(str::len).sum();
    if keep > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // Whole lines where there are any; one endless line is cut inside.
        let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
        let kept = text[..end].lines().count();
        text.truncate(end);
        let how = format!(
            "cut at {}; lower limit or narrow the request",
            size(MAX_TEXT)
        );
        return more_line(text, total.saturating_sub(kept), what, &how).or_else(|| {
            let line = format!("... {what} {how}");
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            Some(line)
        });
    }
    if total <= max {
        return None;
    }
    text.truncate(keep);
    more_line(text, total - max, what, "raise limit")
}
