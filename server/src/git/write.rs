//! The writing operations: staging, restoring, committing, branching, switching.
//!
//! All of them go through libgit2 calls that run nothing the repository configures: index writes
//! apply only libgit2's built-in filters (no `filter.<x>` drivers), `Repository::commit` neither
//! signs nor runs hooks, and checkouts run no `post-checkout`. Nested repositories (a directory
//! holding a `.git` file or directory) are never staged into or opened.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{BranchType, CheckoutNotificationType, DiffOptions, Status, StatusOptions};
use serde::Deserialize;
use serde_json::json;

use super::fmt::unique_short_id;
use super::rev::{head_target, head_tree, is_unborn};
use super::safety::{BranchName, RepoPath, RevSpec};
use super::{Error, Identity, Output, Repo, display_path, more_line, nearest, resolve_commit};

/// A fixed author and committer time for every commit, set once at start (`--commit-time`):
/// benchmark runs and tests need identical commit ids run after run.
static PINNED_COMMIT_TIME: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Pins the time of every commit this process makes to `secs` since the Unix epoch (UTC).
/// Only the first call has an effect.
pub fn pin_commit_time(secs: i64) {
    let _ = PINNED_COMMIT_TIME.set(secs);
}

/// How many path names an output lists before it says "N more".
const MAX_LISTED: usize = 50;

/// Arguments of `git_add`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    #[serde(default)]
    pub paths: Vec<String>,
    /// Like -A.
    pub all: Option<bool>,
}

/// Runs `git_add`: stages new, modified and deleted files under `paths` (or everywhere with
/// `all`), like `git add -A <paths>`. Ignored files and nested repositories are not staged.
pub fn add(repo: &Repo, args: &AddArgs) -> Result<Output, Error> {
    let all = args.all.unwrap_or(false);
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
    let changes = worktree_changes(&git, &paths, true)?;
    for p in &paths {
        let prefix = p.as_str().as_bytes();
        if changes.keys().any(|k| under(k, prefix)) {
            continue;
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

    let mut unstaged = Vec::new();
    if staged {
        let mut opts = pathspec_options(&paths);
        // Reversed, so "new" is HEAD's side: what the index entry becomes.
        opts.reverse(true);
        let diff = git.diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut opts))?;
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
    }

    let mut restored = Vec::new();
    if worktree {
        let mut opts = pathspec_options(&paths);
        opts.include_typechange(true);
        let diff = git.diff_index_to_workdir(Some(&index), Some(&mut opts))?;
        for delta in diff.deltas() {
            if let Some(path) = delta.new_file().path_bytes() {
                restored.push(path.to_vec());
            }
        }
        drop(diff);
        restored.sort();
        restored.dedup();
        if !restored.is_empty() {
            // libgit2 writes through a symbolic link standing where the index has a file or a
            // directory: refuse links along the way, and replace (unlink) a link at the end.
            for path in &restored {
                match symlink_along(repo.root(), path) {
                    Some(Along::Parent(link)) => return Err(through_link(&link, "the index")),
                    Some(Along::Last) => {
                        let tracked_link = index
                            .get_path(bytes_path(path), 0)
                            .is_some_and(|e| e.mode == LINK_MODE);
                        if !tracked_link {
                            std::fs::remove_file(repo.root().join(bytes_path(path))).map_err(
                                |e| {
                                    Error::Refused(format!(
                                        "cannot replace the symbolic link '{}': {e}",
                                        display_path(path)
                                    ))
                                },
                            )?;
                        }
                    }
                    None => {}
                }
            }
            let mut checkout = CheckoutBuilder::new();
            checkout.force().disable_pathspec_match(true);
            for path in &restored {
                checkout.path(path.as_slice());
            }
            git.checkout_index(Some(&mut index), Some(&mut checkout))?;
        }
    }

    let mut text = String::new();
    let mut more = None;
    for (label, list) in [("unstaged", &unstaged), ("restored", &restored)] {
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
    Ok(Output {
        text,
        data: json!({
            "unstaged": names(&unstaged),
            "restored": names(&restored),
        }),
        fields: &["unstaged", "restored"],
        more,
    })
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
    let mut index = git.index()?;
    index.read(false)?;
    if args.all.unwrap_or(false) {
        let changes = worktree_changes(&git, &[], false)?;
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
    let tree = git.find_tree(index.write_tree()?)?;

    let (parent, branch) = match git.head() {
        Ok(head) => {
            let branch = if head.is_branch() {
                head.shorthand().ok().map(str::to_owned)
            } else {
                None
            };
            (Some(head.peel_to_commit()?), branch)
        }
        Err(e) if is_unborn(&e) => (None, unborn_branch(&git)),
        Err(e) => return Err(e.into()),
    };
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

    let signature = match PINNED_COMMIT_TIME.get() {
        Some(&secs) => {
            git2::Signature::new(&author.name, &author.email, &git2::Time::new(secs, 0))?
        }
        None => git2::Signature::now(&author.name, &author.email)?,
    };
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = git.commit(
        Some("HEAD"),
        &signature,
        &signature,
        &message,
        &tree,
        &parents,
    )?;
    let diff = git.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)?;
    let stats = diff.stats()?;
    let (files, insertions, deletions) =
        (stats.files_changed(), stats.insertions(), stats.deletions());

    let short = unique_short_id(&git, oid);
    let subject = message.lines().next().unwrap_or_default();
    let at = match (&branch, parent.is_some()) {
        (Some(b), true) => b.clone(),
        (Some(b), false) => format!("{b} (root-commit)"),
        (None, _) => "detached HEAD".into(),
    };
    let mut text = format!("[{at} {short}] {subject}");
    if files > 0 {
        text.push('\n');
        text.push_str(&stat_line(files, insertions, deletions));
    }
    Ok(Output {
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
    })
}

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
}

/// Runs `git_switch`: checks out a branch (or, with `detach`, a revision) safely: local changes
/// carry over, and a change the switch would overwrite makes it fail with nothing touched.
pub fn switch(repo: &Repo, args: &SwitchArgs) -> Result<Output, Error> {
    let create = args.create.unwrap_or(false);
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
        // Created at HEAD, so the worktree and index already match it: no checkout needed.
        match git.head() {
            Ok(head) => {
                let at = head.peel_to_commit()?;
                git.branch(name.as_str(), &at, false)
                    .map_err(|e| exists_or(e, &name))?;
                Some(at.id())
            }
            // On an empty repository the new branch is unborn, as with `git switch -c`.
            Err(e) if is_unborn(&e) => None,
            Err(e) => return Err(e.into()),
        }
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
fn safe_checkout(
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
            Err(Error::Refused(format!(
                "local changes would be overwritten: {}; commit them (git_commit), or discard \
                 them (git_restore worktree=true), then switch again; nothing was changed",
                names(&conflicts).join(", ")
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// The mode of a symbolic link in a tree or the index.
const LINK_MODE: u32 = 0o120_000;

/// Where a symbolic link stands on a path in the worktree.
enum Along {
    /// A leading directory is a link (its path given).
    Parent(Vec<u8>),
    /// The path itself is a link.
    Last,
}

/// Finds a symbolic link on `rel` (slash-separated, relative to `root`) in the worktree.
fn symlink_along(root: &Path, rel: &[u8]) -> Option<Along> {
    let parts: Vec<&[u8]> = rel.split(|b| *b == b'/').collect();
    let mut cur = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        cur.push(OsStr::from_bytes(part));
        let meta = std::fs::symlink_metadata(&cur).ok()?;
        if meta.file_type().is_symlink() {
            return Some(if i + 1 == parts.len() {
                Along::Last
            } else {
                Along::Parent(parts[..=i].join(&b'/'))
            });
        }
    }
    None
}

fn is_link_in(tree: Option<&git2::Tree<'_>>, path: &[u8]) -> bool {
    tree.and_then(|t| t.get_path(bytes_path(path)).ok())
        .is_some_and(|e| u32::try_from(e.filemode()).ok() == Some(LINK_MODE))
}

fn through_link(link: &[u8], side: &str) -> Error {
    Error::Refused(format!(
        "'{}' is a symbolic link in the worktree where {side} has a file or directory; gitgate \
         does not write through links; nothing was changed",
        display_path(link)
    ))
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
fn worktree_changes(
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
fn stage(
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

/// `label: a, b, c` with at most [`MAX_LISTED`] names, plus the "N more" line when cut.
fn name_list(label: &str, paths: &[Vec<u8>]) -> (String, Option<String>) {
    let mut text = format!(
        "{label}: {}",
        paths
            .iter()
            .take(MAX_LISTED)
            .map(|p| display_path(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let more = more_line(
        &mut text,
        paths.len().saturating_sub(MAX_LISTED),
        "paths",
        "see git_status",
    );
    (text, more)
}

fn names(paths: &[Vec<u8>]) -> Vec<String> {
    paths.iter().map(|p| display_path(p)).collect()
}

/// Whether `path` is `prefix` or lies under the directory `prefix`.
fn under(path: &[u8], prefix: &[u8]) -> bool {
    path == prefix
        || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'))
        || (path.ends_with(b"/") && path.len() == prefix.len() + 1 && path.starts_with(prefix))
}

fn in_index(index: &git2::Index, prefix: &[u8]) -> bool {
    index.iter().any(|e| under(&e.path, prefix))
}

fn bytes_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
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

/// The branch an unborn HEAD points at (`main` on a fresh repository).
fn unborn_branch(git: &git2::Repository) -> Option<String> {
    head_target(git)?
        .strip_prefix("refs/heads/")
        .map(str::to_owned)
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

/// ` 2 files changed, 3 insertions(+), 1 deletion(-)` as git words it.
fn stat_line(files: usize, insertions: usize, deletions: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(" {}", plural(files, "file changed", "files changed"));
    if insertions > 0 || deletions == 0 {
        line.push_str(&format!(
            ", {}",
            plural(insertions, "insertion(+)", "insertions(+)")
        ));
    }
    if deletions > 0 || insertions == 0 {
        line.push_str(&format!(
            ", {}",
            plural(deletions, "deletion(-)", "deletions(-)")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)]

    use super::*;
    use crate::git::testutil::Fixture;

    fn me() -> Identity {
        Identity {
            name: "Agent Smith".into(),
            email: "agent@example.com".into(),
        }
    }

    /// Ok(s): the text contains `s`; Err(s): the error message contains `s`.
    fn check(got: Result<Output, Error>, want: Result<&str, &str>) -> Output {
        match (got, want) {
            (Ok(out), Ok(want)) => {
                assert!(
                    out.text.contains(want),
                    "text {:?} lacks {want:?}",
                    out.text
                );
                out
            }
            (Err(e), Err(want)) => {
                assert!(e.to_string().contains(want), "error {e} lacks {want:?}");
                Output {
                    text: e.to_string(),
                    data: serde_json::Value::Null,
                    fields: &[],
                    more: None,
                }
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    fn porcelain(f: &Fixture) -> String {
        f.git(&["status", "--porcelain"])
    }

    fn add_args(paths: &[&str], all: bool) -> AddArgs {
        AddArgs {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            all: Some(all),
        }
    }

    fn restore_args(paths: &[&str], staged: bool, worktree: bool) -> RestoreArgs {
        RestoreArgs {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            staged: Some(staged),
            worktree: Some(worktree),
        }
    }

    fn commit_args(message: &str, all: bool, allow_empty: bool) -> CommitArgs {
        CommitArgs {
            message: message.into(),
            all: Some(all),
            allow_empty: Some(allow_empty),
        }
    }

    fn switch_args(branch: &str, create: bool, detach: bool) -> SwitchArgs {
        SwitchArgs {
            branch: branch.into(),
            create: Some(create),
            detach: Some(detach),
        }
    }

    fn branch_args(name: &str, start: Option<&str>) -> CreateBranchArgs {
        CreateBranchArgs {
            name: name.into(),
            start: start.map(str::to_owned),
        }
    }

    /// A repository with one commit holding `a.txt` and `dir/b.txt`, and `*.log` ignored.
    fn base() -> Fixture {
        let f = Fixture::new();
        f.commit(
            "base",
            &[
                ("a.txt", "one\ntwo\n"),
                ("dir/b.txt", "b\n"),
                (".gitignore", "*.log\n"),
            ],
        );
        f
    }

    #[test]
    fn add_stages_new_modified_and_deleted() {
        let f = base();
        let repo = f.open();
        f.write("a.txt", "one\nTWO\n");
        f.write("new.txt", "new\n");
        std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
        check(
            add(&repo, &add_args(&["a.txt"], false)),
            Ok("staged: a.txt"),
        );
        check(
            add(&repo, &add_args(&["dir/b.txt"], false)),
            Ok("staged: dir/b.txt (deleted)"),
        );
        check(
            add(&repo, &add_args(&["new.txt"], false)),
            Ok("staged: new.txt"),
        );
        assert_eq!(porcelain(&f), "M  a.txt\nD  dir/b.txt\nA  new.txt\n");
        check(
            add(&repo, &add_args(&["a.txt"], false)),
            Ok("nothing to stage"),
        );
    }

    #[test]
    fn add_all_is_add_dash_a() {
        let f = base();
        let repo = f.open();
        f.write("a.txt", "changed\n");
        f.write("sub/deep/new.txt", "x\n");
        f.write("skip.log", "ignored\n");
        std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
        let out = check(
            add(&repo, &add_args(&[], true)),
            Ok("staged: a.txt, dir/b.txt (deleted), sub/deep/new.txt"),
        );
        assert_eq!(out.data["deleted"], json!(["dir/b.txt"]));
        assert_eq!(
            porcelain(&f),
            "M  a.txt\nD  dir/b.txt\nA  sub/deep/new.txt\n"
        );
    }

    #[test]
    fn add_directory_and_refusals() {
        let f = base();
        let repo = f.open();
        f.write("dir/c.txt", "c\n");
        f.write("other.txt", "o\n");
        f.write("x.log", "log\n");
        check(
            add(&repo, &add_args(&["dir"], false)),
            Ok("staged: dir/c.txt"),
        );
        assert_eq!(porcelain(&f), "A  dir/c.txt\n?? other.txt\n");
        check(add(&repo, &AddArgs::default()), Err("all=true"));
        check(
            add(&repo, &add_args(&["nope.txt"], false)),
            Err("'nope.txt' not found"),
        );
        check(add(&repo, &add_args(&["x.log"], false)), Err("ignored"));
        check(add(&repo, &add_args(&["../x"], false)), Err("'..' leaves"));
        check(
            add(&repo, &add_args(&["/etc/passwd"], false)),
            Err("absolute"),
        );
        check(add(&repo, &add_args(&[".git/config"], false)), Err(".git"));
        // Glob characters are literal, like `git add ':(literal)*.txt'`.
        check(add(&repo, &add_args(&["*.txt"], false)), Err("not found"));
        assert_eq!(porcelain(&f), "A  dir/c.txt\n?? other.txt\n");
    }

    #[test]
    fn add_refuses_nested_repositories() {
        let f = base();
        let repo = f.open();
        f.write("inner/file.txt", "inner\n");
        crate::git::testutil::git_in(&f.path().join("inner"), &["init", "-q"], 0);
        check(
            add(&repo, &add_args(&["inner/file.txt"], false)),
            Err("nested repository 'inner'"),
        );
        check(
            add(&repo, &add_args(&["inner"], false)),
            Err("nested repository"),
        );
        check(add(&repo, &add_args(&[], true)), Ok("nothing to stage"));
        assert_eq!(f.git(&["ls-files", "--stage", "inner"]), "");
    }

    #[test]
    fn restore_staged_and_worktree() {
        let f = base();
        let repo = f.open();
        f.write("a.txt", "changed\n");
        f.write("new.txt", "new\n");
        f.git(&["add", "-A"]);
        check(
            restore(&repo, &restore_args(&["a.txt", "new.txt"], true, false)),
            Ok("unstaged: a.txt, new.txt"),
        );
        assert_eq!(porcelain(&f), " M a.txt\n?? new.txt\n");
        check(
            restore(&repo, &restore_args(&["a.txt"], false, true)),
            Ok("restored: a.txt"),
        );
        assert_eq!(porcelain(&f), "?? new.txt\n");
        assert_eq!(
            std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
            "one\ntwo\n"
        );
        // Deleted files come back; staged and worktree together restore from HEAD.
        std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
        f.write("a.txt", "again\n");
        f.git(&["add", "a.txt"]);
        check(
            restore(&repo, &restore_args(&["a.txt", "dir"], true, true)),
            Ok("unstaged: a.txt\nrestored: a.txt, dir/b.txt"),
        );
        assert_eq!(porcelain(&f), "?? new.txt\n");
        check(
            restore(&repo, &restore_args(&["a.txt"], true, true)),
            Ok("nothing to restore"),
        );
    }

    #[test]
    fn restore_refusals() {
        let f = base();
        let repo = f.open();
        check(
            restore(&repo, &restore_args(&["a.txt"], false, false)),
            Err("staged=true to unstage, or worktree=true"),
        );
        check(restore(&repo, &RestoreArgs::default()), Err("staged=true"));
        check(
            restore(&repo, &restore_args(&[], true, false)),
            Err("pass the paths"),
        );
        check(
            restore(&repo, &restore_args(&["nope"], true, false)),
            Err("'nope' not found"),
        );
        check(
            restore(&repo, &restore_args(&["../a.txt"], false, true)),
            Err("'..'"),
        );
    }

    #[test]
    fn restore_staged_on_empty_repository_removes_from_index() {
        let f = Fixture::new();
        let repo = f.open();
        f.write("a.txt", "a\n");
        f.write("b.txt", "b\n");
        f.git(&["add", "-A"]);
        check(
            restore(&repo, &restore_args(&["a.txt"], true, false)),
            Ok("unstaged: a.txt"),
        );
        assert_eq!(porcelain(&f), "A  b.txt\n?? a.txt\n");
    }

    #[test]
    fn first_commit_on_empty_repository() {
        let f = Fixture::new();
        let repo = f.open();
        check(
            commit(&repo, &commit_args("nothing", false, false), &me()),
            Err("nothing to commit"),
        );
        f.write("a.txt", "1\n2\n3\n");
        f.write("b.txt", "b\n");
        check(add(&repo, &add_args(&[], true)), Ok("staged: a.txt, b.txt"));
        let out = check(
            commit(&repo, &commit_args("first\n\nbody", false, false), &me()),
            Ok(" 2 files changed, 4 insertions(+)"),
        );
        let sha = f.git(&["rev-parse", "HEAD"]).trim().to_owned();
        assert!(
            out.text
                .starts_with(&format!("[main (root-commit) {}] first\n", &sha[..7])),
            "{}",
            out.text
        );
        assert_eq!(out.data["sha"], json!(sha));
        assert_eq!(out.data["branch"], json!("main"));
        assert_eq!(
            f.git(&["log", "-1", "--format=%an|%ae|%cn|%ce|%s|%b"]),
            "Agent Smith|agent@example.com|Agent Smith|agent@example.com|first|body\n\n"
        );
        assert_eq!(porcelain(&f), "");
        let raw = f.git(&["cat-file", "-p", "HEAD"]);
        assert!(!raw.contains("gpgsig") && !raw.contains("parent"), "{raw}");
    }

    #[test]
    fn commit_all_allow_empty_and_refusals() {
        let f = base();
        let repo = f.open();
        check(
            commit(&repo, &commit_args("  \n ", false, true), &me()),
            Err("message is empty"),
        );
        check(
            commit(&repo, &commit_args("x", false, false), &me()),
            Err("allow_empty=true"),
        );
        let out = check(
            commit(&repo, &commit_args("empty", false, true), &me()),
            Ok("[main "),
        );
        assert!(
            !out.text.contains('\n'),
            "no stat line for an empty commit: {}",
            out.text
        );
        assert_eq!(f.git(&["log", "-1", "--format=%s"]), "empty\n");
        // all=true takes tracked modifications and deletions, not untracked files.
        f.write("a.txt", "one\n");
        f.write("untracked.txt", "u\n");
        std::fs::remove_file(f.path().join("dir/b.txt")).unwrap();
        check(
            commit(&repo, &commit_args("all", true, false), &me()),
            Ok(" 2 files changed, 2 deletions(-)"),
        );
        assert_eq!(porcelain(&f), "?? untracked.txt\n");
        assert_eq!(
            f.git(&["log", "-1", "--format=%an%ae%s"]),
            "Agent Smithagent@example.comall\n"
        );
        check(
            commit(&repo, &commit_args("again", true, false), &me()),
            Err("nothing to commit"),
        );
    }

    #[test]
    fn commit_on_detached_head_moves_head_only() {
        let f = base();
        let main = f.git(&["rev-parse", "main"]);
        f.git(&["switch", "-q", "--detach", "HEAD"]);
        let repo = f.open();
        f.write("a.txt", "detached\n");
        let out = check(
            commit(&repo, &commit_args("on detached", true, false), &me()),
            Ok("[detached HEAD "),
        );
        assert_eq!(out.data["branch"], json!(null));
        assert_eq!(f.git(&["rev-parse", "main"]), main);
        assert_eq!(f.git(&["rev-parse", "HEAD^"]), main);
        assert_eq!(f.git(&["log", "-1", "--format=%s"]), "on detached\n");
    }

    #[test]
    fn create_branch_cases() {
        let f = base();
        let first = f.git(&["rev-parse", "HEAD"]);
        f.commit("second", &[("a.txt", "2\n")]);
        let repo = f.open();
        check(
            create_branch(&repo, &branch_args("feature/x", None)),
            Ok("created at "),
        );
        assert_eq!(
            f.git(&["rev-parse", "feature/x"]),
            f.git(&["rev-parse", "HEAD"])
        );
        check(
            create_branch(&repo, &branch_args("old", Some("HEAD~1"))),
            Ok("created at "),
        );
        assert_eq!(f.git(&["rev-parse", "old"]), first);
        check(
            create_branch(&repo, &branch_args("old", None)),
            Err("branch 'old' already exists"),
        );
        check(
            create_branch(&repo, &branch_args("-x", None)),
            Err("must not start with '-'"),
        );
        check(
            create_branch(&repo, &branch_args("a..b", None)),
            Err("not a valid ref name"),
        );
        check(
            create_branch(&repo, &branch_args("x", Some("--orphan"))),
            Err("must not start with '-'"),
        );
        check(
            create_branch(&repo, &branch_args("x", Some("mian"))),
            Err("nearest: main"),
        );
        assert_eq!(
            f.git(&["branch", "--format=%(refname:short)"]),
            "feature/x\nmain\nold\n"
        );
        let empty = Fixture::new();
        check(
            create_branch(&empty.open(), &branch_args("x", None)),
            Err("no commits yet"),
        );
    }

    #[test]
    fn switch_branches_safely() {
        let f = base();
        f.git(&["branch", "other"]);
        f.git(&["switch", "-q", "other"]);
        f.commit(
            "on other",
            &[("a.txt", "other\n"), ("only-other.txt", "o\n")],
        );
        f.git(&["switch", "-q", "main"]);
        let repo = f.open();
        check(
            switch(&repo, &switch_args("main", false, false)),
            Ok("Already on 'main'"),
        );
        check(
            switch(&repo, &switch_args("othr", false, false)),
            Err("no branch 'othr'; nearest: other"),
        );
        // A local change the switch would overwrite: refused, nothing touched.
        f.write("a.txt", "local edit\n");
        check(
            switch(&repo, &switch_args("other", false, false)),
            Err("local changes would be overwritten: a.txt"),
        );
        assert_eq!(f.git(&["branch", "--show-current"]), "main\n");
        assert_eq!(porcelain(&f), " M a.txt\n");
        assert_eq!(
            std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
            "local edit\n"
        );
        assert!(!f.path().join("only-other.txt").exists());
        // A local change elsewhere carries over.
        f.git(&["checkout", "-q", "a.txt"]);
        f.write("dir/b.txt", "kept\n");
        check(
            switch(&repo, &switch_args("other", false, false)),
            Ok("Switched to branch 'other'"),
        );
        assert_eq!(f.git(&["branch", "--show-current"]), "other\n");
        assert_eq!(porcelain(&f), " M dir/b.txt\n");
        assert_eq!(
            std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
            "other\n"
        );
    }

    #[test]
    fn switch_create_and_detach() {
        let f = base();
        let first = f.git(&["rev-parse", "HEAD"]);
        f.commit("second", &[("a.txt", "2\n")]);
        let repo = f.open();
        f.write("dir/b.txt", "local\n");
        check(
            switch(&repo, &switch_args("topic", true, false)),
            Ok("Switched to a new branch 'topic'"),
        );
        assert_eq!(f.git(&["branch", "--show-current"]), "topic\n");
        assert_eq!(
            f.git(&["rev-parse", "topic"]),
            f.git(&["rev-parse", "main"])
        );
        assert_eq!(porcelain(&f), " M dir/b.txt\n");
        check(
            switch(&repo, &switch_args("main", true, false)),
            Err("already exists"),
        );
        check(
            switch(&repo, &switch_args("main", true, true)),
            Err("exclude each other"),
        );
        check(
            switch(&repo, &switch_args("HEAD~1", false, true)),
            Ok("HEAD is now at "),
        );
        assert_eq!(f.git(&["rev-parse", "HEAD"]), first);
        assert_eq!(f.git(&["branch", "--show-current"]), "");
        assert_eq!(
            std::fs::read_to_string(f.path().join("a.txt")).unwrap(),
            "one\ntwo\n"
        );
        check(
            switch(&repo, &switch_args("-x", false, true)),
            Err("must not start with '-'"),
        );
        check(
            switch(&repo, &switch_args("-x", false, false)),
            Err("must not start with '-'"),
        );
        check(
            switch(&repo, &switch_args("nope", false, true)),
            Err("unknown revision 'nope'"),
        );
        // On an empty repository `switch -c` just renames the unborn branch.
        let empty = Fixture::new();
        check(
            switch(&empty.open(), &switch_args("trunk", true, false)),
            Ok("new branch 'trunk'"),
        );
        assert_eq!(empty.git(&["symbolic-ref", "HEAD"]), "refs/heads/trunk\n");
    }

    #[test]
    fn non_utf8_file_names() {
        let f = base();
        let repo = f.open();
        let name = OsStr::from_bytes(b"caf\xe9.txt");
        std::fs::write(f.path().join(name), "latin-1 name\n").unwrap();
        check(
            add(&repo, &add_args(&[], true)),
            Ok("staged: \"caf\\351.txt\""),
        );
        check(
            commit(&repo, &commit_args("latin", false, false), &me()),
            Ok(" 1 file changed, 1 insertion(+)"),
        );
        assert_eq!(
            f.git(&["ls-files"]),
            ".gitignore\na.txt\n\"caf\\351.txt\"\ndir/b.txt\n"
        );
        std::fs::write(f.path().join(name), "changed\n").unwrap();
        check(
            commit(&repo, &commit_args("latin 2", true, false), &me()),
            Ok(" 1 file changed"),
        );
        assert_eq!(porcelain(&f), "");
    }
}
