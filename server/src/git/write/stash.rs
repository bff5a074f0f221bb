//! `git_stash`: local changes put aside (push) and brought back (apply, pop), and stash entries
//! dropped. Never writes through a symbolic link; a change that would be overwritten stops
//! an apply with nothing touched (libgit2's safe checkout).

use serde::Deserialize;
use serde_json::json;

use super::commit::signature;
use super::links::{Along, symlink_along, through_link};
use crate::git::{Error, Identity, Output, Repo};

/// What `git_stash` does.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StashAction {
    // No doc comments: they would go into the schema (tokens); the names are git's.
    #[default]
    Push,
    Apply,
    Pop,
    Drop,
}

/// Arguments of `git_stash`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StashArgs {
    pub action: Option<StashAction>,
    /// For push.
    pub message: Option<String>,
    /// Entry N (stash@{N}), default 0.
    pub index: Option<usize>,
}

/// Runs `git_stash`: push (tracked changes, staged or not, as `stasher`), apply, pop or drop.
pub fn stash(repo: &Repo, args: &StashArgs, stasher: &Identity) -> Result<Output, Error> {
    let index = args.index.unwrap_or(0);
    let mut git = repo.lock();
    let record = |text: String, sha: Option<git2::Oid>| Output {
        text,
        data: json!({ "sha": sha.map(|s| s.to_string()) }),
        fields: &["sha"],
        more: None,
    };
    match args.action.unwrap_or_default() {
        StashAction::Push => {
            // The push resets each changed path to HEAD: none may lie behind a link.
            let statuses = git.statuses(None)?;
            for entry in statuses.iter() {
                if let Some(Along::Parent(link)) = symlink_along(repo.root(), entry.path_bytes()) {
                    return Err(through_link(&link, "HEAD"));
                }
            }
            drop(statuses);
            let sig = signature(stasher)?;
            match git.stash_save2(&sig, args.message.as_deref(), None) {
                Ok(id) => {
                    let message = git
                        .find_commit(id)?
                        .summary()
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                        .to_owned();
                    Ok(record(
                        format!("Saved working directory and index state {message}"),
                        Some(id),
                    ))
                }
                Err(e) if e.code() == git2::ErrorCode::NotFound => {
                    Ok(record("No local changes to save".into(), None))
                }
                Err(e) => Err(e.into()),
            }
        }
        action => {
            let id = entry_id(&mut git, index)?;
            if action != StashAction::Drop {
                refuse_links(&git, repo.root(), id)?;
                let mut opts = git2::StashApplyOptions::new();
                git.stash_apply(index, Some(&mut opts)).map_err(|e| {
                    if e.code() == git2::ErrorCode::Conflict
                        || e.code() == git2::ErrorCode::MergeConflict
                    {
                        Error::Refused(format!(
                            "local changes would be overwritten by stash@{{{index}}}; commit or \
                             restore them first; nothing was changed"
                        ))
                    } else {
                        e.into()
                    }
                })?;
            }
            if action == StashAction::Apply {
                return Ok(record(String::new(), Some(id)));
            }
            git.stash_drop(index)?;
            Ok(record(
                format!("Dropped refs/stash@{{{index}}} ({id})"),
                Some(id),
            ))
        }
    }
}

/// The commit of stash entry `index`.
fn entry_id(git: &mut git2::Repository, index: usize) -> Result<git2::Oid, Error> {
    let mut found = None;
    git.stash_foreach(|i, _, id| {
        if i == index {
            found = Some(*id);
        }
        found.is_none()
    })?;
    found.ok_or_else(|| Error::Refused(format!("stash@{{{index}}} does not exist")))
}

/// Applying writes the paths the entry changed: none may lie behind a link.
fn refuse_links(
    git: &git2::Repository,
    root: &std::path::Path,
    id: git2::Oid,
) -> Result<(), Error> {
    let commit = git.find_commit(id)?;
    let base = commit.parent(0)?.tree()?;
    let diff = git.diff_tree_to_tree(Some(&base), Some(&commit.tree()?), None)?;
    for delta in diff.deltas() {
        let Some(path) = delta.new_file().path_bytes() else {
            continue;
        };
        if let Some(Along::Parent(link)) = symlink_along(root, path) {
            return Err(through_link(&link, "the stash"));
        }
    }
    Ok(())
}
