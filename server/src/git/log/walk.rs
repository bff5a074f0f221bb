//! The log's walk: commits in committer-date order with git's default history simplification,
//! one page of them, then a bounded count of what lies beyond.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::path::Path;

use super::filter::Filter;
use crate::git::Error;
use crate::git::safety::RepoPath;

/// Commits counted past the page of an unfiltered log before saying "at least".
pub(super) const COUNT_CAP: usize = 200;
/// Commits examined past the page of a filtered log before saying "at least".
pub(super) const COUNT_BUDGET: usize = 10_000;

/// How many commits lie beyond the page.
pub(super) enum More {
    Exact(usize),
    AtLeast(usize),
}

pub(super) struct Page<'r> {
    pub(super) commits: Vec<git2::Commit<'r>>,
    pub(super) more: More,
    /// Some walked commit touched the paths (always true without paths).
    pub(super) touched: bool,
}

/// One page of the log, and how many commits lie beyond it.
///
/// The walk is ours, not libgit2's: a libgit2 walk sorted by time first walks the whole history
/// (any sorting marks it "limited"), and an unsorted one is not in git's order.
pub(super) fn page<'r>(
    git: &'r git2::Repository,
    start: &git2::Commit<'r>,
    paths: &[RepoPath],
    filter: &Filter,
    skip: usize,
    max_count: usize,
) -> Result<Page<'r>, Error> {
    let mut walk = Simplified::new(git, paths, filter.since, false);
    walk.push(start);
    let mut touched = false;
    let mut skipped = 0;
    let mut commits = Vec::with_capacity(max_count);
    let unfiltered = paths.is_empty() && filter.is_empty();
    while commits.len() < max_count {
        let Some((commit, shown)) = walk.next()? else {
            return Ok(Page {
                commits,
                more: More::Exact(0),
                touched,
            });
        };
        touched |= shown;
        if shown && filter.matches(&commit) {
            if skipped < skip {
                skipped += 1;
            } else {
                commits.push(commit);
            }
        }
    }
    // Counting goes on with the same walk: its commits come from libgit2's object cache once
    // read, where a libgit2 revwalk would inflate and hash every commit again on each call.
    let budget = if unfiltered { COUNT_CAP } else { COUNT_BUDGET };
    let mut counted = 0;
    for _ in 0..budget {
        let Some((commit, shown)) = walk.next()? else {
            return Ok(Page {
                commits,
                more: More::Exact(counted),
                touched,
            });
        };
        counted += usize::from(shown && filter.matches(&commit));
    }
    let more = if walk.heap.is_empty() {
        More::Exact(counted)
    } else {
        More::AtLeast(counted)
    };
    Ok(Page {
        commits,
        more,
        touched,
    })
}

/// A walk in committer-date order with git's default history simplification by path.
pub(super) struct Simplified<'r, 'p> {
    git: &'r git2::Repository,
    paths: &'p [RepoPath],
    since: Option<i64>,
    /// Follow only each commit's first parent (`--first-parent`).
    first_parent: bool,
    /// Newest first; among equal dates, first queued first.
    heap: BinaryHeap<(i64, Reverse<u64>, git2::Oid)>,
    seen: HashSet<git2::Oid>,
    seq: u64,
}

impl<'r, 'p> Simplified<'r, 'p> {
    pub(super) fn new(
        git: &'r git2::Repository,
        paths: &'p [RepoPath],
        since: Option<i64>,
        first_parent: bool,
    ) -> Self {
        Self {
            git,
            paths,
            since,
            first_parent,
            heap: BinaryHeap::new(),
            seen: HashSet::new(),
            seq: 0,
        }
    }

    pub(super) fn push(&mut self, commit: &git2::Commit<'_>) {
        if self.seen.insert(commit.id()) {
            self.heap
                .push((commit.time().seconds(), Reverse(self.seq), commit.id()));
            self.seq += 1;
        }
    }

    /// The next commit, and whether the path rules list it.
    pub(super) fn next(&mut self) -> Result<Option<(git2::Commit<'r>, bool)>, Error> {
        let Some((_, _, id)) = self.heap.pop() else {
            return Ok(None);
        };
        let commit = self.git.find_commit(id)?;
        if self.since.is_some_and(|s| commit.time().seconds() < s) {
            return Ok(Some((commit, false)));
        }
        let parents: Vec<git2::Commit<'r>> = if self.first_parent {
            commit.parents().take(1).collect()
        } else {
            commit.parents().collect()
        };
        if self.paths.is_empty() {
            for p in &parents {
                self.push(p);
            }
            return Ok(Some((commit, true)));
        }
        let mine = self.entries(&commit)?;
        if parents.is_empty() {
            return Ok(Some((commit, mine.iter().any(Option::is_some))));
        }
        for p in &parents {
            if self.entries(p)? == mine {
                // Same as this parent at the paths: the change came from there; follow it only.
                self.push(p);
                return Ok(Some((commit, false)));
            }
        }
        for p in &parents {
            self.push(p);
        }
        Ok(Some((commit, true)))
    }

    /// What each path is in the commit's tree (id and mode), or `None` where it is absent.
    fn entries(&self, commit: &git2::Commit<'_>) -> Result<Vec<Option<(git2::Oid, i32)>>, Error> {
        let tree = commit.tree()?;
        Ok(self
            .paths
            .iter()
            .map(|p| {
                tree.get_path(Path::new(p.as_str()))
                    .ok()
                    .map(|e| (e.id(), e.filemode()))
            })
            .collect())
    }
}
