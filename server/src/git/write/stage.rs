//! `git_add`: staging worktree changes, never into nested repositories or ignored files.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{Status, StatusOptions};
use serde::Deserialize;
use serde_json::json;

use super::paths::{MAX_LISTED, bytes_path, in_index, names, under};
use crate::git::safety::RepoPath;
use crate::git::{Error, Output, Repo, display_path, more_line};

/// Arguments of `git_add`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    #[serde(default)]
    pub paths: Vec<String>,
    /// Like -A.
    pub all: Option<bool>,
    /// `git add -u`: tracked files only. The run form's alone: the JSON tool's schema has no
    /// room for it (tokens) and `paths` already stages what an agent names.
    #[serde(skip)]
    pub update: bool,
}

/// Runs `git_add`: stages new, modified and deleted files under `paths` (or everywhere with
/// `all`), like `git add -A <paths>`; with `update`, modified and deleted tracked files only
/// (`git add -u`). Ignored files and nested repositories are not staged.
pub fn add(repo: &Repo, args: &AddArgs) -> Result<Output, Error> {
    let all = args.all.unwrap_or(false) || args.update;
    if args.paths.is_empty() && !all {
        return Err(Error::Refused(
            "nothing named: pass paths to stage, or all=true to stage every change".into(),
        ));
    }
    let paths = RepoPath::all(repo.root(), &args.paths)?;
    for p in &paths {
        refuse_nested_repo(repo.root(), p)?;
    }
    let git = repo.lock();
    let mut index = git.index()?;
    index.read(false)?;
    let changes = worktree_changes(&git, &paths, !args.update)?;
    for p in &paths {
        let prefix = p.as_str().as_bytes();
        if changes.keys().any(|k| under(k, prefix)) {
            continue;
        }
        if args.update && !in_index(&index, prefix) {
            return Err(Error::PathNotFound {
                path: p.as_str().to_owned(),
                at: "the index (-u stages tracked files only)".into(),
            });
        }
        let on_disk = std::fs::symlink_metadata(p.under(repo.root())).is_ok();
        if !on_disk && !in_index(&index, prefix) {
            return Err(Error::PathNotFound {
                path: p.as_str().to_owned(),
                at: "the worktree or the index".into(),
            });
        }
        if on_disk && !in_index(&index, prefix) && git.is_path_ignored(p.as_str())? {
            return Err(Error::Refused(format!(
                "'{}' is ignored by a .gitignore rule; gitgate does not stage ignored files",
                p.as_str()
            )));
        }
    }
    let staged = stage(&mut index, &changes)?;
    if !staged.is_empty() {
        index.write()?;
    }
    Ok(staged_output(&staged))
}

/// Refuses a path inside (or naming) a nested repository: its files belong to another repository,
/// which gitgate neither stages into nor opens.
fn refuse_nested_repo(root: &Path, path: &RepoPath) -> Result<(), Error> {
    let mut cur = root.to_path_buf();
    let mut rel = Vec::new();
    for part in path.as_str().split('/') {
        cur.push(part);
        rel.push(part);
        if std::fs::symlink_metadata(cur.join(".git")).is_ok() {
            return Err(Error::Refused(format!(
                "'{}' is inside the nested repository '{}'; gitgate does not stage into other \
                 repositories",
                path.as_str(),
                rel.join("/")
            )));
        }
    }
    Ok(())
}

/// Worktree changes against the index under `paths` (everything when empty), keyed by path.
/// Submodules and nested repositories (reported as `dir/`) are left out by [`stage`].
pub(super) fn worktree_changes(
    git: &git2::Repository,
    paths: &[RepoPath],
    untracked: bool,
) -> Result<BTreeMap<Vec<u8>, Status>, Error> {
    let mut opts = StatusOptions::new();
    opts.show(git2::StatusShow::Workdir)
        .include_untracked(untracked)
        .recurse_untracked_dirs(untracked)
        .include_ignored(false)
        .exclude_submodules(true)
        .renames_index_to_workdir(false)
        .disable_pathspec_match(true);
    for p in paths {
        opts.pathspec(p.as_str());
    }
    let statuses = git.statuses(Some(&mut opts))?;
    Ok(statuses
        .iter()
        .map(|e| (e.path_bytes().to_vec(), e.status()))
        .collect())
}

/// Applies worktree changes to the index; returns the staged paths with "deleted" flags.
pub(super) fn stage(
    index: &mut git2::Index,
    changes: &BTreeMap<Vec<u8>, Status>,
) -> Result<Vec<(Vec<u8>, bool)>, Error> {
    let mut staged = Vec::new();
    for (path, status) in changes {
        if path.ends_with(b"/") {
            continue; // a nested repository, shown as a directory: not ours to stage
        }
        let p = bytes_path(path);
        if status.contains(Status::WT_DELETED) {
            index.remove_path(p)?;
            staged.push((path.clone(), true));
        } else if status.intersects(
            Status::WT_NEW | Status::WT_MODIFIED | Status::WT_TYPECHANGE | Status::CONFLICTED,
        ) {
            index.add_path(p)?;
            staged.push((path.clone(), false));
        }
    }
    Ok(staged)
}

fn staged_output(staged: &[(Vec<u8>, bool)]) -> Output {
    if staged.is_empty() {
        return Output {
            text: "nothing to stage".into(),
            data: json!({ "staged": [], "deleted": [] }),
            fields: &["staged", "deleted"],
            more: None,
        };
    }
    let shown: Vec<String> = staged
        .iter()
        .map(|(p, deleted)| {
            let name = display_path(p);
            if *deleted {
                format!("{name} (deleted)")
            } else {
                name
            }
        })
        .collect();
    let mut text = format!(
        "staged: {}",
        shown
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let more = more_line(
        &mut text,
        shown.len().saturating_sub(MAX_LISTED),
        "paths",
        "see git_status",
    );
    let deleted: Vec<Vec<u8>> = staged
        .iter()
        .filter(|(_, d)| *d)
        .map(|(p, _)| p.clone())
        .collect();
    let all: Vec<Vec<u8>> = staged.iter().map(|(p, _)| p.clone()).collect();
    Output {
        text,
        data: json!({ "staged": names(&all), "deleted": names(&deleted) }),
        fields: &["staged", "deleted"],
        more,
    }
}
