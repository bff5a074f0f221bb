//! `git_restore`: unstaging (the index from HEAD) and discarding worktree changes (the
//! worktree from the index).

use std::path::Path;

use git2::DiffOptions;
use git2::build::CheckoutBuilder;
use serde::Deserialize;
use serde_json::json;

use super::links::{Along, LINK_MODE, symlink_along, through_link};
use super::paths::{bytes_path, in_index, name_list, names};
use crate::git::rev::head_tree;
use crate::git::safety::RepoPath;
use crate::git::{Error, Output, Repo, display_path};

/// Arguments of `git_restore`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreArgs {
    pub paths: Vec<String>,
    /// Unstage (index from HEAD).
    pub staged: Option<bool>,
    /// Discard worktree changes (destructive).
    pub worktree: Option<bool>,
}

/// Runs `git_restore`: with `staged`, resets the index entries under `paths` to HEAD (removing
/// them when HEAD lacks them); with `worktree`, overwrites tracked worktree files from the index.
pub fn restore(repo: &Repo, args: &RestoreArgs) -> Result<Output, Error> {
    let staged = args.staged.unwrap_or(false);
    let worktree = args.worktree.unwrap_or(false);
    if !staged && !worktree {
        return Err(Error::Refused(
            "say what to restore: staged=true to unstage, or worktree=true to discard worktree \
             changes (destructive)"
                .into(),
        ));
    }
    if args.paths.is_empty() {
        return Err(Error::Refused("pass the paths to restore".into()));
    }
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let git = repo.lock();
    let mut index = git.index()?;
    index.read(false)?;
    let head_tree = head_tree(&git)?;
    for p in &paths {
        let in_head = head_tree
            .as_ref()
            .is_some_and(|t| t.get_path(Path::new(p.as_str())).is_ok());
        if !in_head && !in_index(&index, p.as_str().as_bytes()) {
            return Err(Error::PathNotFound {
                path: p.as_str().to_owned(),
                at: "HEAD or the index (untracked files are left alone)".into(),
            });
        }
    }

    let unstaged = if staged {
        unstage(&git, &mut index, head_tree.as_ref(), &paths)?
    } else {
        Vec::new()
    };
    let restored = if worktree {
        discard(&git, repo.root(), &mut index, &paths)?
    } else {
        Vec::new()
    };
    Ok(restored_output(&unstaged, &restored))
}

/// Resets the index entries under `paths` to HEAD's (`tree`); returns the paths changed.
fn unstage(
    git: &git2::Repository,
    index: &mut git2::Index,
    tree: Option<&git2::Tree<'_>>,
    paths: &[RepoPath],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut opts = pathspec_options(paths);
    // Reversed, so "new" is HEAD's side: what the index entry becomes.
    opts.reverse(true);
    let diff = git.diff_tree_to_index(tree, Some(index), Some(&mut opts))?;
    let mut removals = Vec::new();
    let mut updates = Vec::new();
    for delta in diff.deltas() {
        let old = delta.old_file();
        let new = delta.new_file();
        if delta.status() == git2::Delta::Deleted {
            removals.push(old.path_bytes().unwrap_or_default().to_vec());
        } else {
            let path = new.path_bytes().unwrap_or_default().to_vec();
            updates.push((path, u32::from(new.mode()), new.id()));
        }
    }
    drop(diff);
    let mut unstaged = Vec::new();
    // Removals first: a type change comes as a deletion and an addition of the same path.
    for path in &removals {
        let p = bytes_path(path);
        let _ = index.conflict_remove(p);
        index.remove_path(p)?;
        unstaged.push(path.clone());
    }
    for (path, mode, id) in updates {
        let _ = index.conflict_remove(bytes_path(&path));
        index.add(&index_entry(path.clone(), mode, id))?;
        unstaged.push(path);
    }
    unstaged.sort();
    unstaged.dedup();
    if !unstaged.is_empty() {
        index.write()?;
    }
    Ok(unstaged)
}

/// Overwrites the worktree files under `paths` that differ from the index; returns their paths.
fn discard(
    git: &git2::Repository,
    root: &Path,
    index: &mut git2::Index,
    paths: &[RepoPath],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut opts = pathspec_options(paths);
    opts.include_typechange(true);
    let diff = git.diff_index_to_workdir(Some(index), Some(&mut opts))?;
    let mut restored = Vec::new();
    for delta in diff.deltas() {
        if let Some(path) = delta.new_file().path_bytes() {
            restored.push(path.to_vec());
        }
    }
    drop(diff);
    restored.sort();
    restored.dedup();
    if restored.is_empty() {
        return Ok(restored);
    }
    clear_links(root, index, &restored)?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().disable_pathspec_match(true);
    for path in &restored {
        checkout.path(path.as_slice());
    }
    git.checkout_index(Some(index), Some(&mut checkout))?;
    Ok(restored)
}

/// libgit2 writes through a symbolic link standing where the index has a file or a directory:
/// refuses links along the way, and replaces (unlinks) a link at the end.
fn clear_links(root: &Path, index: &git2::Index, restored: &[Vec<u8>]) -> Result<(), Error> {
    for path in restored {
        match symlink_along(root, path) {
            Some(Along::Parent(link)) => return Err(through_link(&link, "the index")),
            Some(Along::Last) => {
                let tracked_link = index
                    .get_path(bytes_path(path), 0)
                    .is_some_and(|e| e.mode == LINK_MODE);
                if !tracked_link {
                    std::fs::remove_file(root.join(bytes_path(path))).map_err(|e| {
                        Error::Refused(format!(
                            "cannot replace the symbolic link '{}': {e}",
                            display_path(path)
                        ))
                    })?;
                }
            }
            None => {}
        }
    }
    Ok(())
}

/// `unstaged: a, b` and `restored: c` lines (or "nothing to restore"), and the record.
fn restored_output(unstaged: &[Vec<u8>], restored: &[Vec<u8>]) -> Output {
    let mut text = String::new();
    let mut more = None;
    for (label, list) in [("unstaged", unstaged), ("restored", restored)] {
        if !list.is_empty() {
            let (line, cut) = name_list(label, list);
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
            more = more.or(cut);
        }
    }
    if text.is_empty() {
        text.push_str("nothing to restore");
    }
    Output {
        text,
        data: json!({
            "unstaged": names(unstaged),
            "restored": names(restored),
        }),
        fields: &["unstaged", "restored"],
        more,
    }
}

fn pathspec_options(paths: &[RepoPath]) -> DiffOptions {
    let mut opts = DiffOptions::new();
    // Literal paths (a directory matches what lies under it); no glob expansion.
    opts.disable_pathspec_match(true);
    for p in paths {
        opts.pathspec(p.as_str());
    }
    opts
}

fn index_entry(path: Vec<u8>, mode: u32, id: git2::Oid) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path,
    }
}
