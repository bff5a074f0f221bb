//! `git_create_branch` and `git_switch`: making branches and moving HEAD, with a checkout that
//! never overwrites local changes or writes through a symbolic link.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{BranchType, CheckoutNotificationType};
use serde::Deserialize;
use serde_json::json;

use super::links::{Along, is_link_in, symlink_along, through_link};
use super::paths::names;
use crate::git::fmt::unique_short_id;
use crate::git::rev::{head_tree, is_unborn};
use crate::git::safety::{BranchName, RevSpec};
use crate::git::{Error, Output, Repo, nearest, resolve_commit};

/// Arguments of `git_create_branch`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBranchArgs {
    pub name: String,
    pub start: Option<String>,
}

/// Runs `git_create_branch`: creates `name` at `start` (default HEAD) without switching to it.
pub fn create_branch(repo: &Repo, args: &CreateBranchArgs) -> Result<Output, Error> {
    let name = BranchName::new(&args.name)?;
    let start = RevSpec::new(args.start.as_deref().unwrap_or("HEAD"))?;
    let git = repo.lock();
    if git.find_branch(name.as_str(), BranchType::Local).is_ok() {
        return Err(Error::BranchExists {
            name: name.as_str().to_owned(),
        });
    }
    if args.start.is_none() {
        // resolve_commit cannot always tell an unborn HEAD from a typo (libgit2's is_empty
        // only knows `master` and init.defaultBranch), so say it here.
        if let Err(e) = git.head()
            && is_unborn(&e)
        {
            return Err(Error::EmptyRepository);
        }
    }
    let target = resolve_commit(&git, &start)?;
    git.branch(name.as_str(), &target, false)
        .map_err(|e| exists_or(e, &name))?;
    let short = unique_short_id(&git, target.id());
    Ok(Output {
        // The caller sent the name; what it learns is the commit the start resolved to.
        text: format!("created at {short}"),
        data: json!({ "branch": name.as_str(), "sha": target.id().to_string() }),
        fields: &["branch", "sha"],
        more: None,
    })
}

/// Arguments of `git_switch`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchArgs {
    pub branch: String,
    /// Like -c.
    pub create: Option<bool>,
    /// Like --detach.
    pub detach: Option<bool>,
    /// With create.
    pub start: Option<String>,
}

/// Runs `git_switch`: checks out a branch (or, with `detach`, a revision) safely: local changes
/// carry over, and a change the switch would overwrite makes it fail with nothing touched.
pub fn switch(repo: &Repo, args: &SwitchArgs) -> Result<Output, Error> {
    let create = args.create.unwrap_or(false);
    if args.start.is_some() && !create {
        return Err(Error::Refused(
            "start is for a new branch: pass create=true with it".into(),
        ));
    }
    if args.detach.unwrap_or(false) {
        if create {
            return Err(Error::Refused(
                "create and detach exclude each other; pass one".into(),
            ));
        }
        let rev = RevSpec::new(&args.branch)?;
        let git = repo.lock();
        let target = resolve_commit(&git, &rev)?;
        safe_checkout(&git, repo.root(), &target)?;
        git.set_head_detached(target.id())?;
        return Ok(Output {
            text: format!(
                "HEAD is now at {} {}",
                unique_short_id(&git, target.id()),
                target.summary().ok().flatten().unwrap_or_default()
            ),
            data: json!({ "branch": null, "sha": target.id().to_string() }),
            fields: &["branch", "sha"],
            more: None,
        });
    }

    let name = BranchName::new(&args.branch)?;
    let git = repo.lock();
    let existing = git.find_branch(name.as_str(), BranchType::Local).ok();
    let sha = if create {
        if existing.is_some() {
            return Err(Error::BranchExists {
                name: name.as_str().to_owned(),
            });
        }
        create_for_switch(&git, repo.root(), &name, args.start.as_deref())?
    } else {
        let Some(branch) = existing else {
            let locals = git
                .branches(Some(BranchType::Local))?
                .filter_map(Result::ok)
                .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned));
            return Err(Error::UnknownBranch {
                name: name.as_str().to_owned(),
                nearest: nearest(name.as_str(), locals, 3),
            });
        };
        let current = git
            .head()
            .ok()
            .and_then(|h| h.name().ok().map(str::to_owned));
        let target = branch.get().peel_to_commit()?;
        if current.as_deref() == Some(name.refname().as_str()) {
            return Ok(switched(
                format!("Already on '{}'", name.as_str()),
                &name,
                Some(target.id()),
            ));
        }
        safe_checkout(&git, repo.root(), &target)?;
        Some(target.id())
    };
    git.set_head(&name.refname())?;
    let text = if create {
        format!("Switched to a new branch '{}'", name.as_str())
    } else {
        format!("Switched to branch '{}'", name.as_str())
    };
    Ok(switched(text, &name, sha))
}

/// Creates `name` for `git switch -c`: at `start` (checked out first, safely) or at HEAD (the
/// worktree and index already match it: no checkout needed). Returns its commit, none when
/// created unborn on an empty repository (as `git switch -c` does).
fn create_for_switch(
    git: &git2::Repository,
    root: &Path,
    name: &BranchName,
    start: Option<&str>,
) -> Result<Option<git2::Oid>, Error> {
    let at = match start {
        Some(start) => {
            let target = resolve_commit(git, &RevSpec::new(start)?)?;
            safe_checkout(git, root, &target)?;
            target
        }
        None => match git.head() {
            Ok(head) => head.peel_to_commit()?,
            Err(e) if is_unborn(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        },
    };
    git.branch(name.as_str(), &at, false)
        .map_err(|e| exists_or(e, name))?;
    Ok(Some(at.id()))
}

/// Arguments of `git_delete_branch`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBranchArgs {
    pub name: String,
    /// Like -D.
    pub force: Option<bool>,
}

/// Runs `git_delete_branch`: deletes a local branch that is not checked out; unless `force`,
/// only when its commits are all in HEAD (`git branch -d`).
pub fn delete_branch(repo: &Repo, args: &DeleteBranchArgs) -> Result<Output, Error> {
    let name = BranchName::new(&args.name)?;
    let git = repo.lock();
    let Ok(mut branch) = git.find_branch(name.as_str(), BranchType::Local) else {
        return Err(Error::Refused(format!(
            "branch '{}' not found",
            name.as_str()
        )));
    };
    if branch.is_head() {
        return Err(Error::Refused(format!(
            "cannot delete branch '{}': it is checked out; switch to another branch first",
            name.as_str()
        )));
    }
    let tip = branch.get().peel_to_commit()?.id();
    if !args.force.unwrap_or(false) {
        let merged = match git.head().ok().and_then(|h| h.target()) {
            Some(head) => head == tip || git.graph_descendant_of(head, tip)?,
            None => false,
        };
        if !merged {
            return Err(Error::Refused(format!(
                "the branch '{}' is not fully merged; delete it anyway with force (git branch -D)",
                name.as_str()
            )));
        }
    }
    branch.delete()?;
    let short = unique_short_id(&git, tip);
    Ok(Output {
        text: format!("Deleted branch {} (was {short}).", name.as_str()),
        data: json!({ "branch": name.as_str(), "sha": tip.to_string() }),
        fields: &["branch", "sha"],
        more: None,
    })
}

fn switched(text: String, name: &BranchName, sha: Option<git2::Oid>) -> Output {
    Output {
        text,
        data: json!({ "branch": name.as_str(), "sha": sha.map(|s| s.to_string()) }),
        fields: &["branch", "sha"],
        more: None,
    }
}

/// Checks `target` out over HEAD without overwriting local changes; on conflict nothing is
/// written and the error names the paths.
pub(crate) fn safe_checkout(
    git: &git2::Repository,
    root: &Path,
    target: &git2::Commit<'_>,
) -> Result<(), Error> {
    // libgit2 writes through a symbolic link standing where the target has a directory or a
    // file, so every path it is about to write must be free of links the target does not have.
    let head_tree = head_tree(git)?;
    let target_tree = target.tree()?;
    let diff = git.diff_tree_to_tree(head_tree.as_ref(), Some(&target_tree), None)?;
    for delta in diff.deltas() {
        if delta.status() == git2::Delta::Deleted {
            continue;
        }
        let Some(path) = delta.new_file().path_bytes() else {
            continue;
        };
        match symlink_along(root, path) {
            Some(Along::Parent(link)) => return Err(through_link(&link, "the target")),
            // A tracked, unmodified link is replaced properly (a modified one is a conflict).
            Some(Along::Last) if !is_link_in(head_tree.as_ref(), path) => {
                return Err(through_link(path, "the target"));
            }
            _ => {}
        }
    }
    drop(diff);
    let mut conflicts = Vec::new();
    let result = {
        let mut checkout = CheckoutBuilder::new();
        checkout
            .safe()
            // Ignored files count as local changes: git would overwrite them, and libgit2
            // would write through one that is a symbolic link.
            .overwrite_ignored(false)
            .notify_on(CheckoutNotificationType::CONFLICT)
            .notify(|_, path, _, _, _| {
                if let Some(path) = path {
                    conflicts.push(path.as_os_str().as_bytes().to_vec());
                }
                true
            });
        git.checkout_tree(target.as_object(), Some(&mut checkout))
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.code() == git2::ErrorCode::Conflict || !conflicts.is_empty() => {
            conflicts.sort();
            conflicts.dedup();
            Err(Error::WouldOverwrite {
                paths: names(&conflicts),
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn exists_or(e: git2::Error, name: &BranchName) -> Error {
    if e.code() == git2::ErrorCode::Exists {
        Error::BranchExists {
            name: name.as_str().to_owned(),
        }
    } else {
        e.into()
    }
}
