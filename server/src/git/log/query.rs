//! The log as a query any front end can render: start and hidden revisions (so ranges `A..B`
//! and `A...B`), paths with git's history simplification, filters, merge selection, first
//! parent only, skip and count. Each selected commit is handed to a visitor in git's order,
//! which renders it however its front end prints (the run form prints git's own formats).

use std::collections::HashSet;

use super::filter::Filter;
use super::walk::Simplified;
use crate::git::safety::{RepoPath, RevSpec};
use crate::git::{Error, Repo, resolve_commit};

/// Most commits a query's hidden side (`A` of `A..B`) may mark before giving up: the set is
/// computed up front, so it is bounded like every other walk.
const MAX_RANGE_WALK: usize = 200_000;

/// What to list.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// Where the walk starts (`HEAD` when empty).
    pub starts: Vec<String>,
    /// Commits reachable from these are left out (`^A`, the `A` of `A..B`).
    pub hidden: Vec<String>,
    /// `A...B`: both ends start, their merge bases are hidden.
    pub symmetric: Option<(String, String)>,
    pub paths: Vec<String>,
    pub author: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub grep: Option<String>,
    /// `Some(true)`: merges only; `Some(false)`: no merges.
    pub merges: Option<bool>,
    pub first_parent: bool,
    pub skip: usize,
    pub max_count: Option<usize>,
}

impl Query {
    /// Adds a revision as git's log reads it: `A..B` (B without A), `A...B` (either but not
    /// both), `^A` (without A), or a start; an empty end of a range is HEAD.
    pub fn push_revision(&mut self, rev: &str) -> Result<(), Error> {
        let or_head = |s: &str| {
            if s.is_empty() {
                "HEAD".to_owned()
            } else {
                s.to_owned()
            }
        };
        if let Some((a, b)) = rev.split_once("...") {
            if self.symmetric.is_some() {
                return Err(Error::Refused(
                    "one symmetric range (A...B) at a time".into(),
                ));
            }
            self.symmetric = Some((or_head(a), or_head(b)));
        } else if let Some((a, b)) = rev.split_once("..") {
            self.hidden.push(or_head(a));
            self.starts.push(or_head(b));
        } else if let Some(hidden) = rev.strip_prefix('^') {
            self.hidden.push(hidden.to_owned());
        } else {
            self.starts.push(rev.to_owned());
        }
        Ok(())
    }
}

/// Walks the query's commits in git's order and hands each to `visit`; returns how many.
pub fn each_commit(
    repo: &Repo,
    query: &Query,
    mut visit: impl FnMut(&git2::Repository, &git2::Commit<'_>) -> Result<(), Error>,
) -> Result<usize, Error> {
    let paths = RepoPath::all(repo.root(), &query.paths)?;
    let filter = Filter::new(
        query.author.as_deref(),
        query.since.as_deref(),
        query.until.as_deref(),
        query.grep.as_deref(),
    )?;
    let git = repo.lock();
    let (starts, hidden) = ends(&git, query)?;
    let excluded = excluded(&git, &starts, &hidden)?;
    let mut walk = Simplified::new(&git, &paths, filter.since, query.first_parent);
    for start in &starts {
        walk.push(start);
    }
    let (mut shown, mut skipped) = (0, 0);
    while query.max_count.is_none_or(|max| shown < max) {
        let Some((commit, listed)) = walk.next()? else {
            break;
        };
        if !listed
            || excluded
                .as_ref()
                .is_some_and(|set| !set.contains(&commit.id()))
            || !filter.matches(&commit)
            || query
                .merges
                .is_some_and(|merges| (commit.parent_count() > 1) != merges)
        {
            continue;
        }
        if skipped < query.skip {
            skipped += 1;
            continue;
        }
        visit(&git, &commit)?;
        shown += 1;
    }
    Ok(shown)
}

/// The commits the walk starts from and those whose history is hidden.
fn ends<'r>(
    git: &'r git2::Repository,
    query: &Query,
) -> Result<(Vec<git2::Commit<'r>>, Vec<git2::Commit<'r>>), Error> {
    let resolve = |rev: &str| resolve_commit(git, &RevSpec::new(rev)?);
    let mut starts = Vec::new();
    let mut hidden = Vec::new();
    if let Some((a, b)) = &query.symmetric {
        let (a, b) = (resolve(a)?, resolve(b)?);
        if let Ok(bases) = git.merge_bases(a.id(), b.id()) {
            for base in bases.iter() {
                hidden.push(git.find_commit(*base)?);
            }
        }
        starts.push(a);
        starts.push(b);
    }
    for rev in &query.starts {
        starts.push(resolve(rev)?);
    }
    if starts.is_empty() {
        starts.push(resolve("HEAD")?);
    }
    for rev in &query.hidden {
        hidden.push(resolve(rev)?);
    }
    Ok((starts, hidden))
}

/// The commits reachable from the starts but not from the hidden ones (`None`: nothing hidden,
/// every walked commit counts).
fn excluded(
    git: &git2::Repository,
    starts: &[git2::Commit<'_>],
    hidden: &[git2::Commit<'_>],
) -> Result<Option<HashSet<git2::Oid>>, Error> {
    if hidden.is_empty() {
        return Ok(None);
    }
    let mut walk = git.revwalk()?;
    for start in starts {
        walk.push(start.id())?;
    }
    for h in hidden {
        walk.hide(h.id())?;
    }
    let mut set = HashSet::new();
    for id in walk {
        if set.len() >= MAX_RANGE_WALK {
            return Err(Error::Refused(format!(
                "the range holds more than {MAX_RANGE_WALK} commits; narrow it"
            )));
        }
        set.insert(id?);
    }
    Ok(Some(set))
}
