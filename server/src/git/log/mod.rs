//! Commit history, as `git log --format='%h %ad %an %s' --date=short`.
//!
//! Order: newest first by committer date, as git's default walk. Filters behave like git's:
//! - `paths` use git's default history simplification: a commit is listed when it changes a path
//!   compared with its parent; a merge that equals one of its parents at the paths is not listed
//!   and only that parent's side is followed.
//! - `since`/`until` compare the committer date (as git does); a bare `YYYY-MM-DD` is a UTC day,
//!   inclusive at both ends. Parents of a commit older than `since` are not walked.
//! - `author` is a case-insensitive substring of the author's name or email; `grep` a regex over
//!   the message (`^`/`$` match at line ends).
//!
//! The "more" line counts what lies beyond the page by walking on, boundedly: an unfiltered
//! log counts at most [`walk::COUNT_CAP`] commits past the page, a filtered one examines at most
//! [`walk::COUNT_BUDGET`]; past that the line says "at least N". Walking costs about 0.15 µs a commit
//! once libgit2's object cache holds it (about 3 µs when first read from a pack), so the default
//! page of a long history stays near 50 µs.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::fmt::{plural, rfc3339, short_date, short_id};
use super::safety::{RepoPath, RevSpec};
use super::show::{LogChanges, log_changes};
use super::{Error, Output, Repo, more_line, resolve_commit};

mod filter;
mod query;
#[cfg(test)]
mod tests;
mod walk;

pub use query::{Query, each_commit};

use filter::Filter;
use walk::{More, Page, page};

/// Arguments of `git_log`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogArgs {
    /// Or A..B, A...B.
    pub rev: Option<String>,
    pub max_count: Option<usize>,
    pub skip: Option<usize>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// Substring of author name or email.
    pub author: Option<String>,
    /// YYYY-MM-DD or RFC 3339.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Regex over the message.
    pub grep: Option<String>,
    // No descriptions: git's flag names say it, and every word costs tokens in tools/list.
    pub patch: Option<bool>,
    pub stat: Option<bool>,
    pub name_only: Option<bool>,
}

impl LogArgs {
    /// What to print under each commit; at most one of `patch`, `stat`, `name_only`.
    fn changes(&self) -> Result<Option<LogChanges>, Error> {
        let asked: Vec<LogChanges> = [
            (self.patch, LogChanges::Patch),
            (self.stat, LogChanges::Stat),
            (self.name_only, LogChanges::NameOnly),
        ]
        .into_iter()
        .filter_map(|(on, form)| (on == Some(true)).then_some(form))
        .collect();
        match asked.as_slice() {
            [] => Ok(None),
            [form] => Ok(Some(*form)),
            _ => Err(Error::Refused(
                "pass one of patch, stat, name_only (each prints under every commit)".into(),
            )),
        }
    }
}

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &[
    "sha", "short", "date", "author", "email", "subject", "parents",
];
/// Commits on a page when `max_count` is not given.
const DEFAULT_COUNT: usize = 10;
/// A larger page is cut to this; the "more" line says how to go on.
const MAX_COUNT: usize = 500;

/// Runs `git_log`.
pub fn log(repo: &Repo, args: &LogArgs) -> Result<Output, Error> {
    if let Some(range) = args.rev.as_deref().filter(|r| r.contains("..")) {
        return log_range(repo, args, range);
    }
    let rev = RevSpec::new(args.rev.as_deref().unwrap_or("HEAD"))?;
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let filter = Filter::new(
        args.author.as_deref(),
        args.since.as_deref(),
        args.until.as_deref(),
        args.grep.as_deref(),
    )?;
    let max_count = match args.max_count {
        Some(0) => return Err(Error::Refused("max_count must be at least 1".into())),
        Some(n) => n.min(MAX_COUNT),
        None => DEFAULT_COUNT,
    };
    let skip = args.skip.unwrap_or(0);
    let changes = args.changes()?;

    let git = repo.lock();
    let start = match resolve_commit(&git, &rev) {
        Ok(commit) => commit,
        // Listing nothing is the truthful answer for a repository without commits.
        Err(Error::EmptyRepository) => return Ok(finish(Vec::new(), "(no commits yet)", None)),
        Err(e) => return Err(e),
    };
    let page = page(&git, &start, &paths, &filter, skip, max_count)?;
    if !page.touched && skip == 0 {
        // Nothing ever touched the paths: a path absent from the start revision is a typo
        // more often than the history of a deleted file.
        check_paths_exist(&start, &paths, &rev)?;
    }
    let under = Under::of(&git, &paths, changes);
    render(&page, skip, &under)
}

/// `git_log` over a range (`A..B`, `A...B`): the run form's walk, one page of it.
fn log_range(repo: &Repo, args: &LogArgs, range: &str) -> Result<Output, Error> {
    let changes = args.changes()?;
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let max_count = match args.max_count {
        Some(0) => return Err(Error::Refused("max_count must be at least 1".into())),
        Some(n) => n.min(MAX_COUNT),
        None => DEFAULT_COUNT,
    };
    let skip = args.skip.unwrap_or(0);
    let mut query = Query {
        paths: args.paths.clone(),
        author: args.author.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        grep: args.grep.clone(),
        skip,
        // One more than the page, to know whether there are more.
        max_count: Some(max_count + 1),
        ..Query::default()
    };
    query.push_revision(range)?;
    let mut ids = Vec::new();
    each_commit(repo, &query, |_, commit| {
        ids.push(commit.id());
        Ok(())
    })?;
    let more = if ids.len() > max_count {
        ids.truncate(max_count);
        More::AtLeast(1)
    } else {
        More::Exact(0)
    };
    let git = repo.lock();
    let commits = ids
        .iter()
        .map(|id| git.find_commit(*id))
        .collect::<Result<Vec<_>, _>>()?;
    render(
        &Page {
            commits,
            more,
            touched: true,
        },
        skip,
        &Under::of(&git, &paths, changes),
    )
}

/// What is printed under each commit's line, if anything (`patch`, `stat`, `name_only`).
struct Under<'a> {
    git: &'a git2::Repository,
    paths: &'a [RepoPath],
    changes: Option<LogChanges>,
}

impl<'a> Under<'a> {
    fn of(git: &'a git2::Repository, paths: &'a [RepoPath], changes: Option<LogChanges>) -> Self {
        Self {
            git,
            paths,
            changes,
        }
    }
}

/// Refuses the first path that `start`'s tree does not hold.
fn check_paths_exist(
    start: &git2::Commit<'_>,
    paths: &[RepoPath],
    rev: &RevSpec,
) -> Result<(), Error> {
    let tree = start.tree()?;
    match paths
        .iter()
        .find(|p| tree.get_path(Path::new(p.as_str())).is_err())
    {
        Some(p) => Err(Error::PathNotFound {
            path: p.as_str().to_owned(),
            at: rev.as_str().to_owned(),
        }),
        None => Ok(()),
    }
}

/// The page as `%h %ad %an %s` lines (each followed by its changes when asked) and records,
/// with the "more" line (or why it is empty).
fn render(page: &Page<'_>, skip: usize, under: &Under<'_>) -> Result<Output, Error> {
    let mut lines = Vec::with_capacity(page.commits.len());
    let mut records = Vec::with_capacity(page.commits.len());
    for c in &page.commits {
        let author = c.author();
        let name = String::from_utf8_lossy(author.name_bytes());
        let subject = String::from_utf8_lossy(c.summary_bytes().unwrap_or_default());
        let short = short_id(c.id());
        let date = short_date(author.when());
        let mut line = format!("{short} {date} {name} {subject}");
        if let Some(form) = under.changes {
            let body = log_changes(under.git, c, under.paths, form, false, None)?;
            if !body.is_empty() {
                line.push('\n');
                line.push_str(body.trim_end_matches('\n'));
            }
        }
        lines.push(line);
        records.push(json!({
            "sha": c.id().to_string(),
            "short": short,
            "date": rfc3339(author.when()),
            "author": name,
            "email": String::from_utf8_lossy(author.email_bytes()),
            "subject": subject,
            "parents": c.parent_ids().map(|id| id.to_string()).collect::<Vec<_>>(),
        }));
    }
    let next = skip + page.commits.len();
    let how = format!("pass skip={next}");
    let mut text = lines.join("\n");
    let more = match page.more {
        More::Exact(n) => more_line(&mut text, n, plural(n, "commit"), &how),
        More::AtLeast(0) => push_line(
            &mut text,
            format!("... maybe more commits (stopped counting); {how}"),
        ),
        More::AtLeast(n) => push_line(&mut text, format!("... at least {n} more commits; {how}")),
    };
    if records.is_empty() && more.is_none() {
        let empty = if skip > 0 {
            "(no commits past skip)"
        } else {
            "(no matching commits)"
        };
        return Ok(finish(records, empty, None));
    }
    Ok(finish(records, &text, more))
}

fn finish(records: Vec<Value>, text: &str, more: Option<String>) -> Output {
    Output {
        text: text.to_owned(),
        data: Value::Array(records),
        fields: FIELDS,
        more,
    }
}

/// Appends a "more" line that [`more_line`] cannot word (a lower bound).
fn push_line(text: &mut String, line: String) -> Option<String> {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&line);
    Some(line)
}
