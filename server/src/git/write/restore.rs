//! `git_restore`: unstaging (the index from HEAD) and discarding worktree changes (the
//! worktree from the index), or either from another revision (`source`, git's `--source`).

use std::path::Path;

use git2::DiffOptions;
use git2::build::CheckoutBuilder;
use serde::Deserialize;
use serde_json::json;

use super::links::{Along, LINK_MODE, symlink_along, through_link};
use super::paths::{bytes_path, in_index, name_list, names};
use crate::git::rev::head_tree;
use crate::git::safety::{RepoPath, RevSpec};
use crate::git::{Error, Output, Repo, display_path, resolve_commit};

/// Arguments of `git_restore`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreArgs {
    pub paths: Vec<String>,
    /// Unstage (index from HEAD).
    pub staged: Option<bool>,
    /// Discard worktree changes (destructive).
    pub worktree: Option<bool>,
    // git's --source; undescribed to save tokens in tools/list.
    pub source: Option<String>,
    /// Overlay mode (`git checkout REV -- PATHS`): paths the source lacks are left alone
    /// rather than removed. The run form's alone; not in the tool's schema.
    #[serde(skip)]
    pub overlay: bool,
}

/// Runs `git_restore`: with `staged`, resets the index entries under `paths` to HEAD (removing
/// them when HEAD lacks them); with `worktree`, overwrites tracked worktree files from the index.
/// With `source`, that revision's tree stands for HEAD (staged) and for the index (worktree
/// alone), and a tracked path the revision lacks is removed, as git's no-overlay restore does.
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
    let (from, at) = match args.source.as_deref() {
        Some(rev) => {
            let spec = RevSpec::new(rev)?;
            (Some(resolve_commit(&git, &spec)?.tree()?), rev)
        }
        None => (head_tree(&git)?, "HEAD"),
    };
    for p in &paths {
        let in_from = from
            .as_ref()
            .is_some_and(|t| t.get_path(Path::new(p.as_str())).is_ok());
        if !in_from && !in_index(&index, p.as_str().as_bytes()) {
            return Err(Error::PathNotFound {
                path: p.as_str().to_owned(),
                at: format!("{at} or the index (untracked files are left alone)"),
            });
        }
    }

    let unstaged = if staged {
        unstage(&git, &mut index, from.as_ref(), &paths, args.overlay)?
    } else {
        Vec::new()
    };
    let restored = match (&from, args.source.is_some() && !staged) {
        _ if !worktree => Vec::new(),
        // The worktree alone from a revision: the index is not the source and stays as is.
        (Some(tree), true) => from_tree(&git, repo.root(), &index, tree, &paths)?,
        // From the index, which `unstage` has just set from the source when one was given.
        _ => {
            let mut restored = discard(&git, repo.root(), &mut index, &paths)?;
            if args.source.is_some() {
                // Entries the source lacked left the index; git removes their files too.
                let root = repo.root();
                for path in unstaged.iter().filter(|p| !in_index(&index, p)) {
                    if let Some(Along::Parent(link)) = symlink_along(root, path) {
                        return Err(through_link(&link, "the index"));
                    }
                    if std::fs::symlink_metadata(root.join(bytes_path(path))).is_ok() {
                        remove(root, path)?;
                        restored.push(path.clone());
                    }
                }
            }
            restored
        }
    };
    Ok(restored_output(&unstaged, &restored))
}

/// Resets the index entries under `paths` to HEAD's (`tree`); returns the paths changed. In
/// `overlay` mode an entry the tree lacks stays.
fn unstage(
    git: &git2::Repository,
    index: &mut git2::Index,
    tree: Option<&git2::Tree<'_>>,
    paths: &[RepoPath],
    overlay: bool,
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
            if overlay {
                continue;
            }
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

/// Overwrites the worktree files under `paths` from `tree`, leaving the index as it is, and
/// removes the tracked ones `tree` lacks; returns the paths changed.
fn from_tree(
    git: &git2::Repository,
    root: &Path,
    index: &git2::Index,
    tree: &git2::Tree<'_>,
    paths: &[RepoPath],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut changed = Vec::new();
    let mut opts = pathspec_options(paths);
    opts.include_typechange(true);
    let diff = git.diff_tree_to_workdir(Some(tree), Some(&mut opts))?;
    for delta in diff.deltas() {
        if let Some(path) = delta.new_file().path_bytes() {
            changed.push(path.to_vec());
        }
    }
    drop(diff);
    // Tracked files the tree lacks: the tree-to-worktree diff does not see them (to it they
    // are untracked), git's no-overlay mode removes them.
    let mut gone = Vec::new();
    for entry in index.iter() {
        let in_scope = paths
            .iter()
            .any(|p| super::paths::under(&entry.path, p.as_str().as_bytes()));
        if in_scope
            && tree.get_path(bytes_path(&entry.path)).is_err()
            && std::fs::symlink_metadata(root.join(bytes_path(&entry.path))).is_ok()
        {
            gone.push(entry.path.clone());
        }
    }
    changed.sort();
    changed.dedup();
    changed.retain(|p| !gone.contains(p));
    for path in &gone {
        if let Some(Along::Parent(link)) = symlink_along(root, path) {
            return Err(through_link(&link, "the index"));
        }
    }
    for path in &changed {
        match symlink_along(root, path) {
            Some(Along::Parent(link)) => return Err(through_link(&link, "the revision")),
            Some(Along::Last) => {
                let link_there = tree
                    .get_path(bytes_path(path))
                    .is_ok_and(|e| u32::try_from(e.filemode()).ok() == Some(LINK_MODE));
                if !link_there {
                    remove(root, path)?;
                }
            }
            None => {}
        }
    }
    for path in &gone {
        remove(root, path)?;
    }
    if !changed.is_empty() {
        let mut checkout = CheckoutBuilder::new();
        checkout
            .force()
            .disable_pathspec_match(true)
            .update_index(false);
        for path in &changed {
            checkout.path(path.as_slice());
        }
        git.checkout_tree(tree.as_object(), Some(&mut checkout))?;
    }
    changed.extend(gone);
    changed.sort();
    Ok(changed)
}

fn remove(root: &Path, path: &[u8]) -> Result<(), Error> {
    std::fs::remove_file(root.join(bytes_path(path))).map_err(|e| {
        Error::Refused(format!(
            "cannot remove '{}' from the worktree: {e}",
            display_path(path)
        ))
    })
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
