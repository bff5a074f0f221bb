//! `git_commit`: the index committed on HEAD, with the caller as author and committer.

use serde::Deserialize;
use serde_json::json;

use super::paths::names;
use super::stage::{stage, worktree_changes};
use crate::git::fmt::{stat_summary, unique_short_id};
use crate::git::rev::{head_target, is_unborn};
use crate::git::{Error, Identity, Output, Repo};

/// A fixed author and committer time for every commit, set once at start (`--commit-time`):
/// benchmark runs and tests need identical commit ids run after run.
static PINNED_COMMIT_TIME: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Pins the time of every commit this process makes to `secs` since the Unix epoch (UTC).
/// Only the first call has an effect.
pub fn pin_commit_time(secs: i64) {
    let _ = PINNED_COMMIT_TIME.set(secs);
}

/// Arguments of `git_commit`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitArgs {
    pub message: String,
    /// Like -a.
    pub all: Option<bool>,
    pub allow_empty: Option<bool>,
}

/// Runs `git_commit`: commits the index on HEAD (a branch, a detached HEAD or the first commit of
/// an empty repository) with `author` as author and committer, dated now. Never signs.
pub fn commit(repo: &Repo, args: &CommitArgs, author: &Identity) -> Result<Output, Error> {
    // `git commit -m` cleans up whitespace but keeps '#' lines; so does this.
    let message = git2::message_prettify(args.message.as_str(), None)?;
    if message.trim().is_empty() {
        return Err(Error::Refused(
            "the commit message is empty; pass a message".into(),
        ));
    }
    let git = repo.lock();
    if git.state() != git2::RepositoryState::Clean {
        return Err(Error::Refused(format!(
            "a {:?} is in progress in this repository; finish or abort it with git first",
            git.state()
        )));
    }
    let tree = index_tree(&git, args.all.unwrap_or(false))?;
    let (parent, branch) = head_commit(&git)?;
    let parent_tree = parent.as_ref().map(git2::Commit::tree).transpose()?;
    let unchanged = match &parent_tree {
        Some(t) => t.id() == tree.id(),
        None => tree.is_empty(),
    };
    if unchanged && !args.allow_empty.unwrap_or(false) {
        return Err(Error::Refused(
            "nothing to commit: the index matches HEAD; stage changes with git_add, pass \
             all=true to include tracked changes, or allow_empty=true"
                .into(),
        ));
    }

    let oid = write_commit(&git, author, &message, &tree, parent.as_ref())?;
    let stats = git
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)?
        .stats()?;
    let short = unique_short_id(&git, oid);
    let subject = message.lines().next().unwrap_or_default();
    let at = match (&branch, parent.is_some()) {
        (Some(b), true) => b.clone(),
        (Some(b), false) => format!("{b} (root-commit)"),
        (None, _) => "detached HEAD".into(),
    };
    Ok(committed(
        format!("[{at} {short}] {subject}"),
        oid,
        branch,
        &stats,
    ))
}

/// The tree of the index, after staging tracked changes when `all` (`git commit -a`); refuses
/// an index with unresolved conflicts.
fn index_tree(git: &git2::Repository, all: bool) -> Result<git2::Tree<'_>, Error> {
    let mut index = git.index()?;
    index.read(false)?;
    if all {
        let changes = worktree_changes(git, &[], false)?;
        if !stage(&mut index, &changes)?.is_empty() {
            index.write()?;
        }
    }
    if index.has_conflicts() {
        let mut paths: Vec<Vec<u8>> = index
            .conflicts()?
            .filter_map(Result::ok)
            .filter_map(|c| c.our.or(c.their).or(c.ancestor).map(|e| e.path))
            .collect();
        paths.dedup();
        return Err(Error::Refused(format!(
            "the index has unresolved conflicts ({}); fix the files and git_add them first",
            names(&paths).join(", ")
        )));
    }
    Ok(git.find_tree(index.write_tree()?)?)
}

/// The commit HEAD is at (none on an unborn branch) and the branch it names (none when
/// detached).
fn head_commit(
    git: &git2::Repository,
) -> Result<(Option<git2::Commit<'_>>, Option<String>), Error> {
    match git.head() {
        Ok(head) => {
            let branch = if head.is_branch() {
                head.shorthand().ok().map(str::to_owned)
            } else {
                None
            };
            Ok((Some(head.peel_to_commit()?), branch))
        }
        Err(e) if is_unborn(&e) => Ok((None, unborn_branch(git))),
        Err(e) => Err(e.into()),
    }
}

/// Writes the commit and moves HEAD (or its branch) to it.
fn write_commit(
    git: &git2::Repository,
    author: &Identity,
    message: &str,
    tree: &git2::Tree<'_>,
    parent: Option<&git2::Commit<'_>>,
) -> Result<git2::Oid, Error> {
    let signature = signature(author)?;
    let parents: Vec<&git2::Commit<'_>> = parent.into_iter().collect();
    Ok(git.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        tree,
        &parents,
    )?)
}

/// `author` dated now (or at the pinned time), for commits and annotated tags.
pub(crate) fn signature(author: &Identity) -> Result<git2::Signature<'static>, Error> {
    Ok(match PINNED_COMMIT_TIME.get() {
        Some(&secs) => {
            git2::Signature::new(&author.name, &author.email, &git2::Time::new(secs, 0))?
        }
        None => git2::Signature::now(&author.name, &author.email)?,
    })
}

/// The answer: `[main 1a2b3c4] subject` (given as `text`), the stat line, and the record.
fn committed(
    mut text: String,
    oid: git2::Oid,
    branch: Option<String>,
    stats: &git2::DiffStats,
) -> Output {
    let (files, insertions, deletions) =
        (stats.files_changed(), stats.insertions(), stats.deletions());
    if files > 0 {
        text.push('\n');
        text.push_str(&stat_summary(files, insertions, deletions));
    }
    Output {
        text,
        data: json!({
            "sha": oid.to_string(),
            "branch": branch,
            "files_changed": files,
            "insertions": insertions,
            "deletions": deletions,
        }),
        fields: &["sha", "branch", "files_changed", "insertions", "deletions"],
        more: None,
    }
}

/// The branch an unborn HEAD points at (`main` on a fresh repository).
fn unborn_branch(git: &git2::Repository) -> Option<String> {
    head_target(git)?
        .strip_prefix("refs/heads/")
        .map(str::to_owned)
}
