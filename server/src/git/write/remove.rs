//! `git_rm` and `git_mv`: removing tracked files from the index (and the worktree), and
//! moving them, with git's refusals for changes that would be lost.

use std::path::Path;

use git2::Status;
use serde::Deserialize;
use serde_json::json;

use super::links::{Along, symlink_along, through_link};
use super::paths::{bytes_path, names, under};
use crate::git::safety::RepoPath;
use crate::git::{Error, Output, Repo, display_path};

/// Arguments of `git_rm`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RmArgs {
    pub paths: Vec<String>,
    /// Index only; keep the files.
    pub cached: Option<bool>,
    /// Like -r.
    pub recursive: Option<bool>,
}

/// Runs `git_rm`: removes tracked files under `paths` from the index and (unless `cached`)
/// the worktree. As git without `-f`, a file whose changes would be lost is refused and
/// nothing is removed.
pub fn rm(repo: &Repo, args: &RmArgs) -> Result<Output, Error> {
    if args.paths.is_empty() {
        return Err(Error::Refused("pass the paths to remove".into()));
    }
    let cached = args.cached.unwrap_or(false);
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    let git = repo.lock();
    let mut index = git.index()?;
    index.read(false)?;
    let mut chosen: Vec<Vec<u8>> = Vec::new();
    for p in &paths {
        let prefix = p.as_str().as_bytes();
        let matched: Vec<Vec<u8>> = index
            .iter()
            .map(|e| e.path)
            .filter(|path| under(path, prefix))
            .collect();
        if matched.is_empty() {
            return Err(Error::PathNotFound {
                path: p.as_str().to_owned(),
                at: "the index (git rm removes tracked files)".into(),
            });
        }
        if matched.iter().any(|m| m.as_slice() != prefix) && !args.recursive.unwrap_or(false) {
            return Err(Error::Refused(format!(
                "not removing '{}' recursively without recursive (-r)",
                p.as_str()
            )));
        }
        chosen.extend(matched);
    }
    chosen.sort();
    chosen.dedup();
    refuse_losing_changes(&git, &chosen, cached)?;
    for path in &chosen {
        index.remove_path(bytes_path(path))?;
    }
    index.write()?;
    if !cached {
        for path in &chosen {
            remove_file(repo.root(), path)?;
        }
    }
    let text = chosen
        .iter()
        .map(|p| format!("rm '{}'", display_path(p)))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Output {
        text,
        data: json!({ "removed": names(&chosen) }),
        fields: &["removed"],
        more: None,
    })
}

/// git's checks before removing: with `cached`, only a file whose index differs from both
/// HEAD and the worktree; otherwise any staged or unstaged change.
fn refuse_losing_changes(
    git: &git2::Repository,
    paths: &[Vec<u8>],
    cached: bool,
) -> Result<(), Error> {
    let staged = Status::INDEX_MODIFIED
        | Status::INDEX_NEW
        | Status::INDEX_TYPECHANGE
        | Status::INDEX_RENAMED;
    let unstaged = Status::WT_MODIFIED | Status::WT_TYPECHANGE;
    let mut both = Vec::new();
    let mut local = Vec::new();
    let mut in_index = Vec::new();
    for path in paths {
        let Ok(status) = git.status_file(bytes_path(path)) else {
            continue;
        };
        match (status.intersects(staged), status.intersects(unstaged)) {
            (true, true) => both.push(path.clone()),
            (false, true) if !cached => local.push(path.clone()),
            (true, false) if !cached => in_index.push(path.clone()),
            _ => {}
        }
    }
    for (list, what) in [
        (
            &both,
            "staged content different from both the file and the HEAD",
        ),
        (&local, "local modifications"),
        (&in_index, "changes staged in the index"),
    ] {
        if !list.is_empty() {
            return Err(Error::WouldLoseChanges {
                what,
                paths: names(list),
            });
        }
    }
    Ok(())
}

/// Deletes a worktree file (if still there, never through a linked directory) and the
/// directories it leaves empty.
fn remove_file(root: &Path, path: &[u8]) -> Result<(), Error> {
    if let Some(Along::Parent(link)) = symlink_along(root, path) {
        return Err(through_link(&link, "the index"));
    }
    let full = root.join(bytes_path(path));
    match std::fs::remove_file(&full) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::Refused(format!(
                "cannot remove '{}': {e}",
                display_path(path)
            )));
        }
    }
    let mut dir = full.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Arguments of `git_mv`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MvArgs {
    pub source: String,
    /// An existing directory: moved into it.
    pub destination: String,
}

/// Runs `git_mv`: renames a tracked file or directory in the worktree and the index.
pub fn mv(repo: &Repo, args: &MvArgs) -> Result<Output, Error> {
    let root = repo.root();
    let source = RepoPath::new(root, &args.source)?;
    let mut dest = RepoPath::new(root, &args.destination)?;
    if dest.under(root).is_dir() {
        let base = source.as_str().rsplit('/').next().unwrap_or_default();
        dest = RepoPath::new(root, &format!("{}/{base}", dest.as_str()))?;
    }
    let (from, to) = (source.as_str().as_bytes(), dest.as_str().as_bytes());
    for path in [from, to] {
        if let Some(Along::Parent(link)) = symlink_along(root, path) {
            return Err(through_link(&link, "the index"));
        }
    }
    let git = repo.lock();
    let mut index = git.index()?;
    index.read(false)?;
    let moved: Vec<git2::IndexEntry> = index.iter().filter(|e| under(&e.path, from)).collect();
    if moved.is_empty() {
        return Err(Error::PathNotFound {
            path: source.as_str().to_owned(),
            at: "the index (git mv moves tracked files)".into(),
        });
    }
    if std::fs::symlink_metadata(dest.under(root)).is_ok() {
        return Err(Error::Refused(format!(
            "destination exists: '{}'",
            dest.as_str()
        )));
    }
    if dest.under(root).parent().is_some_and(|p| !p.is_dir()) {
        return Err(Error::Refused(format!(
            "the destination directory of '{}' does not exist",
            dest.as_str()
        )));
    }
    std::fs::rename(source.under(root), dest.under(root))
        .map_err(|e| Error::Refused(format!("cannot move '{}': {e}", source.as_str())))?;
    for entry in moved {
        index.remove_path(bytes_path(&entry.path))?;
        let mut path = to.to_vec();
        path.extend_from_slice(&entry.path[from.len()..]);
        index.add(&git2::IndexEntry { path, ..entry })?;
    }
    index.write()?;
    Ok(Output {
        text: format!("moved '{}' to '{}'", source.as_str(), dest.as_str()),
        data: json!({ "source": source.as_str(), "destination": dest.as_str() }),
        fields: &["source", "destination"],
        more: None,
    })
}
